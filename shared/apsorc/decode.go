package apsorc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Error is the error Load and Parse return for a file they refuse: every problem they found,
// not only the first, each naming where it is (`entity "Task" field "priority": enum needs
// values`).
type Error struct {
	// File is the path given to Load, ".apsorc" for Parse.
	File string
	// Problems are the problems in the order found, which is mostly the file's.
	Problems []string
}

// Error lists the problems one a line, each prefixed with the file.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File + ": " + p)
	}
	return b.String()
}

// problems collects what is wrong with a file.
type problems []string

// add records a problem at where ("" for the top level).
func (ps *problems) add(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	*ps = append(*ps, msg)
}

// object is a JSON object of the file: its members in file order, read through typed getters
// that report a wrong type (or an unknown key, see check) as a problem at where.
type object struct {
	where string
	ps    *problems
	keys  []string
	vals  map[string]json.RawMessage
	dups  []string // keys given twice
}

// readObject reads raw as an object, or reports that it is not one and returns nil.
func readObject(ps *problems, where string, raw json.RawMessage) *object {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		ps.add(where, "must be an object")
		return nil
	}
	o := &object{where: where, ps: ps, vals: map[string]json.RawMessage{}}
	for dec.More() {
		t, err := dec.Token()
		key, _ := t.(string)
		var v json.RawMessage
		if err != nil || dec.Decode(&v) != nil {
			ps.add(where, "must be an object") // unreachable for a document json.Valid accepted
			return nil
		}
		if _, dup := o.vals[key]; dup {
			o.dups = append(o.dups, key)
			continue
		}
		o.keys = append(o.keys, key)
		o.vals[key] = v
	}
	return o
}

// check reports every key of o that is not in allowed, and every key given twice (JSON
// decoders disagree on which one wins).
func (o *object) check(allowed ...string) {
	for _, k := range o.dups {
		o.ps.add(o.where, "key %q appears twice", k)
	}
	ok := setOf(allowed...)
	for _, k := range o.keys {
		if !ok[k] {
			o.ps.add(o.where, "unknown key %q", k)
		}
	}
}

// raw returns the value of key, or nil when it is absent or null (the file's JS readers treat
// both alike).
func (o *object) raw(key string) json.RawMessage {
	v := o.vals[key]
	if string(v) == "null" {
		return nil
	}
	return v
}

func (o *object) has(key string) bool { return o.raw(key) != nil }

func (o *object) wrong(key, want string) { o.ps.add(o.where, "%q must be %s", key, want) }

// str returns the string value of key; ok is false when it is absent or not a string.
func (o *object) str(key string) (s string, ok bool) {
	v := o.raw(key)
	if v == nil {
		return "", false
	}
	if json.Unmarshal(v, &s) != nil {
		o.wrong(key, "a string")
		return "", false
	}
	return s, true
}

// boolean returns the value of key, or def when it is absent or not a boolean.
func (o *object) boolean(key string, def bool) bool {
	b, _ := o.looseBool(key, def, false)
	return b
}

// looseBool is boolean that, with strs, also takes "true" and "false"; ok says key was given.
func (o *object) looseBool(key string, def, strs bool) (b, ok bool) {
	v := o.raw(key)
	if v == nil {
		return def, false
	}
	if json.Unmarshal(v, &b) == nil {
		return b, true
	}
	var s string
	if strs && json.Unmarshal(v, &s) == nil && (s == "true" || s == "false") {
		return s == "true", true
	}
	if strs {
		o.wrong(key, `true or false (or "true" or "false")`)
	} else {
		o.wrong(key, "true or false")
	}
	return def, false
}

// integer returns the value of key, an integer between lo and hi (with digits, also a string
// of digits); ok is false when it is absent or wrong.
func (o *object) integer(key string, lo, hi int, digits bool) (n int, ok bool) {
	v := o.raw(key)
	if v == nil {
		return 0, false
	}
	text := string(v)
	if digits && v[0] == '"' {
		_ = json.Unmarshal(v, &text)
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < lo || n > hi || text != strconv.Itoa(n) {
		o.wrong(key, fmt.Sprintf("an integer from %d to %d", lo, hi))
		return 0, false
	}
	return n, true
}

// array returns the elements of key's array; nil when it is absent or not an array.
func (o *object) array(key string) []json.RawMessage {
	v := o.raw(key)
	if v == nil {
		return nil
	}
	var a []json.RawMessage
	if json.Unmarshal(v, &a) != nil {
		o.wrong(key, "an array")
		return nil
	}
	return a
}

// strs returns key's array of non-empty strings (maybe none); ok is false when it is absent
// or wrong.
func (o *object) strs(key string) (ss []string, ok bool) {
	v := o.raw(key)
	if v == nil {
		return nil, false
	}
	if json.Unmarshal(v, &ss) != nil || contains(ss, "") {
		o.wrong(key, "an array of non-empty strings")
		return nil, false
	}
	return ss, true
}

// strOrStrs returns key's string, or its array of strings, as a list.
func (o *object) strOrStrs(key string) (ss []string, ok bool) {
	v := o.raw(key)
	if v == nil {
		return nil, false
	}
	var s string
	if json.Unmarshal(v, &s) == nil && s != "" {
		return []string{s}, true
	}
	if json.Unmarshal(v, &ss) != nil || len(ss) == 0 || contains(ss, "") {
		o.wrong(key, "a non-empty string or a non-empty array of them")
		return nil, false
	}
	return ss, true
}

func contains(vs []string, s string) bool {
	for _, v := range vs {
		if v == s {
			return true
		}
	}
	return false
}
