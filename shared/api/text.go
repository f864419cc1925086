package api

import (
	"strconv"
	"unicode/utf8"

	"scaleapi/shared/fault"
)

// checkText refuses a JSON body whose strings are not text: invalid UTF-8, a lone UTF-16
// surrogate escape (\ud800 without its pair), or a NUL (\u0000, which PostgreSQL's text can't
// hold). encoding/json would replace the first two with U+FFFD and carry on, so a name or a
// password would be stored altered; the answer is a 400 naming the field instead.
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

// scanString scans the string literal opening at body[start] and returns the index of its
// closing quote (-1 if there is none) and what makes it not text ("" if nothing).
func scanString(body []byte, start int) (end int, problem string) {
	const (
		notUTF8   = "is not valid UTF-8 text"
		surrogate = "has a lone UTF-16 surrogate (\\ud800-\\udfff without its pair), which is not text"
		nul       = "contains a NUL character"
	)
	for i := start + 1; i < len(body); {
		c := body[i]
		switch {
		case c == '"':
			return i, problem
		case c == '\\':
			if i+1 >= len(body) {
				return -1, problem
			}
			if body[i+1] != 'u' {
				i += 2
				continue
			}
			r, ok := hex4(body, i+2)
			if !ok {
				return -1, problem // a bad escape: the decoder's to report
			}
			i += 6
			switch {
			case r == 0:
				problem = first(problem, nul)
			case r >= 0xDC00 && r <= 0xDFFF:
				problem = first(problem, surrogate)
			case r >= 0xD800 && r <= 0xDBFF:
				if i+1 < len(body) && body[i] == '\\' && body[i+1] == 'u' {
					if lo, ok := hex4(body, i+2); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 6
						continue
					}
				}
				problem = first(problem, surrogate)
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 {
				problem = first(problem, notUTF8)
			}
			i += size
		}
	}
	return -1, problem
}

// first keeps the first problem found in a string.
func first(have, found string) string {
	if have != "" {
		return have
	}
	return found
}

// hex4 reads the four hex digits of a \u escape at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(body[i:i+4]), 16, 32)
	return rune(v), err == nil
}
