package query

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"scaleapi/shared/jsontext"
)

// jsonValue is a decoded JSON value that keeps the order of object keys. Go maps don't, and
// the SQL built from s must not depend on map iteration order: it would defeat statement and
// cache keys that are meant to be equal for equal queries.
type jsonValue struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	str  string
	keys []string
	vals []*jsonValue
}

// maxDepth bounds the nesting of s (and of PostgREST's or=/and= trees); deeper documents are
// refused before recursion gets costly.
const maxDepth = 16

var errDepth = errors.New("nested too deeply")

// notTextString reports a JSON string that is not text (see package jsontext): the field it
// belongs to ("" outside any field) and what is wrong.
type notTextString struct{ field, problem string }

func (e notTextString) Error() string { return "a string " + e.problem }

// decodeJSON decodes exactly one JSON value from data. encoding/json replaces invalid UTF-8 and
// lone surrogate escapes with U+FFFD, which would search for text the client never sent, so
// every string is checked in its raw form first.
func decodeJSON(data string) (*jsonValue, error) {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, data, 0, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// token reads the next token, checking a string's raw text; field is the field the token
// belongs to, for the error.
func token(dec *json.Decoder, data, field string) (json.Token, error) {
	start := dec.InputOffset()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(string); ok {
		if problem := jsontext.Problem(data[start:dec.InputOffset()]); problem != "" {
			return nil, notTextString{field, problem}
		}
	}
	return tok, nil
}

// decodeValue decodes one value; field is the field it belongs to: the nearest enclosing key
// that is not an operator.
func decodeValue(dec *json.Decoder, data string, depth int, field string) (*jsonValue, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	tok, err := token(dec, data, field)
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := &jsonValue{kind: 'o'}
			for dec.More() {
				kt, err := token(dec, data, field)
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				kf := field
				if !strings.HasPrefix(k, "$") {
					kf = k
				}
				kv, err := decodeValue(dec, data, depth+1, kf)
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, k)
				v.vals = append(v.vals, kv)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return v, nil
		case '[':
			v := &jsonValue{kind: 'a'}
			for dec.More() {
				ev, err := decodeValue(dec, data, depth+1, field)
				if err != nil {
					return nil, err
				}
				v.vals = append(v.vals, ev)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return v, nil
		}
	case string:
		return &jsonValue{kind: 's', str: t}, nil
	case json.Number:
		return &jsonValue{kind: 'n', str: t.String()}, nil
	case bool:
		if t {
			return &jsonValue{kind: 'b', str: "true"}, nil
		}
		return &jsonValue{kind: 'b', str: "false"}, nil
	case nil:
		return &jsonValue{kind: 'z'}, nil
	}
	return nil, errors.New("unexpected token")
}

// scalar returns the text of a string, number or boolean.
func (v *jsonValue) scalar() (string, bool) {
	switch v.kind {
	case 's', 'n', 'b':
		return v.str, true
	}
	return "", false
}

// search turns the s parameter into a condition tree (see the package comment for the rules).
func (p *parser) search(raw string) (*node, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		var nt notTextString
		switch {
		case errors.Is(err, errDepth):
			return nil, bad("s: nested more than %d levels deep", maxDepth)
		case errors.As(err, &nt) && nt.field != "" && isText(nt.field):
			return nil, bad("s: field %s: a string %s", quote(nt.field), nt.problem)
		case errors.As(err, &nt):
			return nil, bad("s: a string %s", nt.problem)
		}
		return nil, bad("s: JSON expected")
	}
	if v.kind != 'o' {
		return nil, bad("s: a JSON object expected")
	}
	return p.searchObject(v)
}

// searchObject is the AND of an object's entries.
func (p *parser) searchObject(v *jsonValue) (*node, error) {
	kids := make([]*node, 0, len(v.keys))
	for i, k := range v.keys {
		val := v.vals[i]
		switch k {
		case "$and", "$or":
			if val.kind != 'a' {
				return nil, bad("s: %s takes an array of objects", k)
			}
			sub := make([]*node, 0, len(val.vals))
			for _, e := range val.vals {
				if e.kind != 'o' {
					return nil, bad("s: %s takes an array of objects", k)
				}
				n, err := p.searchObject(e)
				if err != nil {
					return nil, err
				}
				sub = append(sub, n)
			}
			kids = append(kids, group(k == "$or", sub))
		default:
			if strings.HasPrefix(k, "$") {
				return nil, bad("s: unknown operator %q", k)
			}
			n, err := p.searchField(k, val)
			if err != nil {
				return nil, err
			}
			kids = append(kids, n)
		}
	}
	return group(false, kids), nil
}

// searchField handles "field": value (meaning $eq) and "field": {"$op": value, ...}, whose
// operators are AND-ed, or OR-ed under a field-level "$or". "field": null means IS NULL, as
// in the reference (see searchOperators).
func (p *parser) searchField(name string, v *jsonValue) (*node, error) {
	switch v.kind {
	case 'o':
		return p.searchOperators(name, v, false)
	case 'z':
		return p.cond("s", name, opIsNull.name, nil)
	case 'a':
		return nil, bad("s: field %q: a value or an object of operators expected", name)
	}
	s, _ := v.scalar()
	return p.cond("s", name, "$eq", []string{s})
}

func (p *parser) searchOperators(name string, v *jsonValue, or bool) (*node, error) {
	kids := make([]*node, 0, len(v.keys))
	for i, opName := range v.keys {
		val := v.vals[i]
		if opName == "$or" || opName == "$and" {
			if val.kind != 'o' {
				return nil, bad("s: field %q: %s takes an object of operators", name, opName)
			}
			n, err := p.searchOperators(name, val, opName == "$or")
			if err != nil {
				return nil, err
			}
			kids = append(kids, n)
			continue
		}
		op, ok := operators[opName]
		if !ok {
			return nil, bad("s: field %q: unknown operator %q", name, opName)
		}
		if val.kind == 'z' && op.arity != arityNone {
			// The reference turns any operator whose value is null into $isnull
			// (builderSetWhere); $isnull and $notnull take no value, so theirs is ignored.
			opName = opIsNull.name
			op = opIsNull
		}
		var vals []string
		switch op.arity {
		case arityNone:
		case arityOne:
			s, ok := val.scalar()
			if !ok {
				return nil, bad("s: field %q: %s takes a single value", name, op.name)
			}
			vals = []string{s}
		default:
			switch val.kind {
			case 'a':
				for _, e := range val.vals {
					s, ok := e.scalar()
					if !ok {
						return nil, bad("s: field %q: %s takes an array of values", name, op.name)
					}
					vals = append(vals, s)
				}
			case 's':
				vals = strings.Split(val.str, ",")
			default:
				return nil, bad("s: field %q: %s takes an array of values", name, op.name)
			}
		}
		n, err := p.cond("s", name, opName, vals)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	return group(or, kids), nil
}
