package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The OpenAPI document is written as JSON objects whose keys keep the order they were given
// in (the platform's as written, the generated ones as generated), and formatted as
// Python's json.dumps(indent=1) with ASCII only, the document's format since it was first
// written, so that a change to the model changes only the lines it must.

// ordered is a JSON object that keeps its keys' order.
type ordered struct {
	keys []string
	vals map[string]any
}

// obj is an ordered object of key, value pairs.
func obj(kv ...any) *ordered {
	if len(kv)%2 != 0 {
		panic("obj: a key without a value")
	}
	o := &ordered{vals: map[string]any{}}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

// set sets k, appending it if new.
func (o *ordered) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// object returns the object under k, or nil.
func (o *ordered) object(k string) *ordered {
	v, _ := o.vals[k].(*ordered)
	return v
}

func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func ref(kind, name string) *ordered { return obj("$ref", "#/components/"+kind+"/"+name) }

// decodeOrdered decodes JSON keeping the order of object keys (and numbers as written).
func decodeOrdered(b []byte) (*ordered, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the document")
	}
	o, ok := v.(*ordered)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return o, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &ordered{vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := o.vals[k.(string)]; dup {
				return nil, fmt.Errorf("key %q twice in one object", k)
			}
			o.set(k.(string), v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// encodeOrdered writes v as the document is written, one space of indentation per level and
// a newline at the end.
func encodeOrdered(v any) []byte { return []byte(encodeValue(v, 0) + "\n") }

func encodeValue(v any, depth int) string {
	pad := strings.Repeat(" ", depth+1)
	end := strings.Repeat(" ", depth)
	switch x := v.(type) {
	case *ordered:
		if len(x.keys) == 0 {
			return "{}"
		}
		parts := make([]string, len(x.keys))
		for i, k := range x.keys {
			parts[i] = pad + quoteJSON(k) + ": " + encodeValue(x.vals[k], depth+1)
		}
		return "{\n" + strings.Join(parts, ",\n") + "\n" + end + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pad + encodeValue(e, depth+1)
		}
		return "[\n" + strings.Join(parts, ",\n") + "\n" + end + "]"
	case []string:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		return encodeValue(a, depth)
	case string:
		return quoteJSON(x)
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	panic(fmt.Sprintf("encodeValue: %T", v))
}

// quoteJSON quotes s as Python's json module does with ensure_ascii.
func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
