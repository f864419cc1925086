package eventjson

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Reader is a cursor over a JSON document whose shape the caller knows. Each method reads one
// value into its destination and reports false when the document is not what it can decode
// exactly as encoding/json would decode it into that destination (the position is then
// meaningless): the caller then gives up and uses encoding/json.
type Reader struct {
	b     []byte
	s     string // b as a string: plain strings are slices of it, not copies
	i     int
	depth int // of skipped values
}

// NewReader returns a Reader over b. It copies b once, so that the strings it returns share one
// allocation rather than taking one each; they keep the whole copy alive, which for an event
// that lives as long as its invocation costs nothing.
func NewReader(b []byte) Reader { return Reader{b: b, s: string(b)} }

// maxDepth bounds nesting in skipped values; encoding/json, which a deeper document falls back
// to, has its own limit.
const maxDepth = 1000

func (r *Reader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// End reports whether only whitespace is left.
func (r *Reader) End() bool {
	r.space()
	return r.i == len(r.b)
}

// Null consumes a null literal if one comes next.
func (r *Reader) Null() bool {
	r.space()
	if r.i+4 <= len(r.b) && string(r.b[r.i:r.i+4]) == "null" {
		r.i += 4
		return true
	}
	return false
}

// Object reads an object (or null, which leaves everything alone), calling member for each
// member of fields with the cursor before its value. A member not in fields is skipped unless
// it matches one case-insensitively; a member of fields seen twice gives up (encoding/json
// would merge a repeated map rather than replace it).
func (r *Reader) Object(fields []string, member func(key string) bool) bool {
	if r.Null() {
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return false
	}
	r.i++
	var seen uint64
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return true
	}
	for {
		key, ok := r.key()
		if !ok {
			return false
		}
		known := -1
		for j, f := range fields {
			if f == key {
				known = j
				break
			}
		}
		switch {
		case known >= 0:
			if seen&(1<<known) != 0 || !member(key) {
				return false
			}
			seen |= 1 << known
		case foldsToAny(key, fields):
			return false
		default:
			if !r.Skip() {
				return false
			}
		}
		if more, ok := r.sep('}'); !more {
			return ok
		}
	}
}

// Pos is the reader's offset in the document, for error messages and tests.
func (r *Reader) Pos() int { return r.i }

// key reads a member's name and the colon after it.
func (r *Reader) key() (string, bool) {
	r.space()
	var k string
	if !r.quoted(&k) {
		return "", false
	}
	r.space()
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return "", false
	}
	r.i++
	return k, true
}

// sep consumes what follows an element: a comma (more), or the closing bracket (done, ok).
// Anything else is not JSON: not more, not ok.
func (r *Reader) sep(closing byte) (more, ok bool) {
	r.space()
	if r.i < len(r.b) {
		switch r.b[r.i] {
		case ',':
			r.i++
			return true, true
		case closing:
			r.i++
			return false, true
		}
	}
	return false, false
}

// foldsToAny reports whether key matches one of fields case-insensitively, which
// encoding/json would decode into that field.
func foldsToAny(key string, fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(f, key) {
			return true
		}
	}
	return false
}

// String reads a string into dst; null leaves dst alone.
func (r *Reader) String(dst *string) bool {
	if r.Null() {
		return true
	}
	return r.quoted(dst)
}

// quoted reads a string, which must come next.
func (r *Reader) quoted(dst *string) bool {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return false
	}
	start := r.i + 1
	plain := true
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			if plain {
				*dst = r.s[start:i]
				r.i = i + 1
				return true
			}
			s, ok := unquote(r.b[start:i])
			if !ok {
				return false
			}
			*dst = s
			r.i = i + 1
			return true
		case c == '\\':
			plain = false
			i++ // the escaped byte can't end the string
		case c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return false
}

// Bool reads a boolean into dst; null leaves dst alone.
func (r *Reader) Bool(dst *bool) bool {
	r.space()
	switch {
	case r.Null():
		return true
	case r.i+4 <= len(r.b) && string(r.b[r.i:r.i+4]) == "true":
		*dst, r.i = true, r.i+4
	case r.i+5 <= len(r.b) && string(r.b[r.i:r.i+5]) == "false":
		*dst, r.i = false, r.i+5
	default:
		return false
	}
	return r.literalEnds()
}

// literalEnds reports whether the literal or number just read is not followed by more of the
// same token ("truex", "12a" are not JSON).
func (r *Reader) literalEnds() bool {
	if r.i >= len(r.b) {
		return true
	}
	switch r.b[r.i] {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// Int64 reads an integer into dst (null leaves it alone); anything encoding/json might treat differently (fractions,
// exponents, overflow, leading zeros) gives up.
func (r *Reader) Int64(dst *int64) bool {
	if r.Null() {
		return true
	}
	i, neg := r.i, false
	if i < len(r.b) && r.b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var n int64
	for ; i < len(r.b) && '0' <= r.b[i] && r.b[i] <= '9'; i++ {
		n = n*10 + int64(r.b[i]-'0') // 18 digits at most, checked below: no overflow
		if i-start >= 18 {
			return false
		}
	}
	digits := i - start
	if digits == 0 || (digits > 1 && r.b[start] == '0') {
		return false
	}
	r.i = i
	if !r.literalEnds() {
		return false
	}
	if neg {
		n = -n
	}
	*dst = n
	return true
}

// StringMap reads an object of strings. As with encoding/json, null makes the map nil and a
// null value stores "".
func (r *Reader) StringMap(dst *map[string]string) bool {
	if r.Null() {
		*dst = nil
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return false
	}
	r.i++
	m := make(map[string]string, 8)
	*dst = m
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return true
	}
	for {
		k, ok := r.key()
		if !ok {
			return false
		}
		var v string
		if !r.String(&v) {
			return false
		}
		m[k] = v
		if more, ok := r.sep('}'); !more {
			return ok
		}
	}
}

// StringsMap reads an object of string arrays; null makes the map nil.
func (r *Reader) StringsMap(dst *map[string][]string) bool {
	if r.Null() {
		*dst = nil
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return false
	}
	r.i++
	m := make(map[string][]string, 8)
	*dst = m
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return true
	}
	for {
		k, ok := r.key()
		if !ok {
			return false
		}
		var v []string
		if !r.Strings(&v) {
			return false
		}
		m[k] = v
		if more, ok := r.sep('}'); !more {
			return ok
		}
	}
}

// Strings reads an array of strings; null stores nil, a null element "".
func (r *Reader) Strings(dst *[]string) bool {
	if r.Null() {
		*dst = nil
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '[' {
		return false
	}
	r.i++
	out := []string{}
	r.space()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		*dst = out
		return true
	}
	for {
		var v string
		r.space()
		if !r.String(&v) {
			return false
		}
		out = append(out, v)
		if more, ok := r.sep(']'); !more {
			*dst = out
			return ok
		}
	}
}

// Raw hands the next value to encoding/json, for the loosely typed members.
func (r *Reader) Raw(v any) bool {
	r.space()
	start := r.i
	if !r.Skip() {
		return false
	}
	return json.Unmarshal(r.b[start:r.i], v) == nil
}

// Skip validates and passes over one value.
func (r *Reader) Skip() bool {
	r.space()
	if r.i >= len(r.b) {
		return false
	}
	switch c := r.b[r.i]; {
	case c == '"':
		var s string
		return r.quoted(&s)
	case c == '{' || c == '[':
		r.depth++
		if r.depth > maxDepth {
			return false
		}
		defer func() { r.depth-- }()
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		r.i++
		r.space()
		if r.i < len(r.b) && r.b[r.i] == closing {
			r.i++
			return true
		}
		for {
			if closing == '}' {
				if _, ok := r.key(); !ok {
					return false
				}
			}
			if !r.Skip() {
				return false
			}
			if more, ok := r.sep(closing); !more {
				return ok
			}
		}
	case c == 't':
		var b bool
		return r.Bool(&b)
	case c == 'f':
		var b bool
		return r.Bool(&b)
	case c == 'n':
		return r.Null() && r.literalEnds()
	default:
		return r.number()
	}
}

// number passes over a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *Reader) number() bool {
	b, i := r.b, r.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	r.i = i
	return r.literalEnds()
}

// unquote decodes the inside of a JSON string the way encoding/json does: escapes, UTF-16
// surrogate pairs, and U+FFFD for invalid UTF-8 and unpaired surrogates. It reports false for
// an invalid escape or a control character.
func unquote(s []byte) (string, bool) {
	out := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i >= len(s) {
				return "", false
			}
			switch s[i] {
			case '"', '\\', '/':
				out, i = append(out, s[i]), i+1
			case 'b':
				out, i = append(out, '\b'), i+1
			case 'f':
				out, i = append(out, '\f'), i+1
			case 'n':
				out, i = append(out, '\n'), i+1
			case 'r':
				out, i = append(out, '\r'), i+1
			case 't':
				out, i = append(out, '\t'), i+1
			case 'u':
				r1, ok := hex4(s[i+1:])
				if !ok {
					return "", false
				}
				i += 5
				if utf16.IsSurrogate(r1) {
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if r2, ok := hex4(s[i+2:]); ok {
							if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								i += 6
								continue
							}
						}
					}
					r1 = utf8.RuneError
				}
				out = utf8.AppendRune(out, r1)
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
	return string(out), true
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}
