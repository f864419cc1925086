package api

import (
	"strconv"

	"scaleapi/shared/fault"
	"scaleapi/shared/jsontext"
)

// checkText refuses a JSON body whose strings are not text (see package jsontext): a name or a
// password would otherwise be stored altered. The answer is a 400 naming the field.
//
// It only looks inside string literals and tracks where they are (the field path, such as
// bulk[2].name); the body's syntax is the decoder's to judge, so anything this scanner does not
// understand passes here and fails there.
func checkText(body []byte) error {
	var path []pathElem
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{':
			path = append(path, pathElem{object: true, expectKey: true})
		case '[':
			path = append(path, pathElem{})
		case '}', ']':
			if len(path) > 0 {
				path = path[:len(path)-1]
			}
		case ',':
			if n := len(path); n > 0 {
				if path[n-1].object {
					path[n-1].expectKey = true
				} else {
					path[n-1].index++
				}
			}
		case '"':
			end, problem := scanString(body, i)
			if end < 0 {
				return nil // unterminated: a syntax error for the decoder
			}
			isKey := len(path) > 0 && path[len(path)-1].object && path[len(path)-1].expectKey
			if problem != "" {
				// A bad key is named by the object that holds it: its own text is no name.
				field := fieldPath(path)
				if isKey {
					problem = "has a key that " + problem
				}
				if field == "" {
					return &fault.Error{Code: fault.BadRequest, Message: "request body " + problem}
				}
				return &fault.Error{Code: fault.BadRequest, Message: "field " + field + " " + problem,
					Fields: []fault.FieldError{{Field: field, Message: problem}}}
			}
			if isKey {
				path[len(path)-1].key = string(body[i+1 : end])
				path[len(path)-1].expectKey = false
			}
			i = end
		}
	}
	return nil
}

// pathElem is one level of checkText's position: an object (with the key last read) or an
// array (with the index of the current element).
type pathElem struct {
	object    bool
	expectKey bool
	key       string
	index     int
}

// fieldPath renders the position as a client names a field: name, bulk[2].name.
func fieldPath(path []pathElem) string {
	var b []byte
	for _, e := range path {
		if e.object {
			if e.expectKey {
				break // between members: the value's position is the object's
			}
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = append(b, e.key...)
		} else {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(e.index), 10)
			b = append(b, ']')
		}
	}
	return string(b)
}

// scanString finds the end of the string literal opening at body[start]: the index of its
// closing quote (-1 if there is none), and what makes it not text ("" if nothing).
func scanString(body []byte, start int) (end int, problem string) {
	for i := start + 1; i < len(body); i++ {
		switch body[i] {
		case '\\':
			i++ // the escaped character can't end the string
		case '"':
			return i, jsontext.Problem(string(body[start+1 : i]))
		}
	}
	return -1, ""
}
