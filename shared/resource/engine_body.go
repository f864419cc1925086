package resource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/fault"
)

// A body is validated field by field against the schema, every problem reported at once as a
// 422 naming the field (prefixed bulk[i]. in a bulk create). Each value becomes the text that
// PostgreSQL reads for the column's type (nil for NULL), in a canonical spelling, so that the
// statements bind text only.

// readOnly are the names the engine sets itself. A body that names one is refused like one
// that names an unknown field (400), never silently ignored: mass assignment fails loudly. The
// scope field of an entity whose organization follows its parent's (see model.parent) is
// read-only too.
var readOnly = map[string]bool{"id": true, "createdAt": true, "updatedAt": true, "version": true, "deletedAt": true}

// values are a body's fields: column → text (nil for NULL), for the fields present.
type values map[*apsorc.Field]*string

// parseBody checks the names of body's fields against m's writable fields and converts the
// values. Unknown and read-only names are a 400 (as unknown fields are for every body of the
// API); bad values a 422.
func (m *model) parseBody(body map[string]json.RawMessage, prefix string, v *api.Validator) (values, error) {
	out := values{}
	for name, raw := range body {
		f, ok := m.e.Field(name)
		switch {
		case readOnly[name] || (ok && f == m.derivedScope()):
			return nil, &fault.Error{Code: fault.BadRequest, Message: fmt.Sprintf("read-only field %q", prefix+name),
				Fields: []fault.FieldError{{Field: prefix + name, Message: "is read-only"}}}
		case !ok:
			return nil, &fault.Error{Code: fault.BadRequest, Message: fmt.Sprintf("unknown field %q", prefix+name),
				Fields: []fault.FieldError{{Field: prefix + name, Message: "unknown field"}}}
		default:
			s, msg, err := convert(f, raw)
			switch {
			case err != nil:
				// A value of the wrong JSON type is a 400, as encoding/json's is for every
				// other body (see api.Decode); a value of the right type that the field
				// doesn't accept is a 422.
				return nil, &fault.Error{Code: fault.BadRequest, Message: "wrong type for field " + prefix + name,
					Fields: []fault.FieldError{{Field: prefix + name, Message: err.Error()}}}
			case msg != "":
				v.Add(prefix+name, msg)
			default:
				out[f] = s
			}
		}
	}
	return out, nil
}

// fill completes a create's (or a PUT's) values: an absent field takes its default, else NULL
// when nullable; absent and neither is a 422 "is required". keep lists fields that may stay
// absent (the scope field of a create that will be injected, or of a PUT).
func (m *model) fill(vs values, prefix string, v *api.Validator, keep func(*apsorc.Field) bool) {
	for _, f := range m.e.Fields {
		if _, ok := vs[f]; ok || keep(f) {
			continue
		}
		switch {
		case f.Default != nil:
			raw, _ := json.Marshal(f.Default) // a string, number or boolean: always encodes
			s, msg, err := convert(f, raw)
			if err != nil || msg != "" {
				v.Add(prefix+f.Name, "has a default the schema doesn't accept") // apsorc checked it; reported rather than hidden
				continue
			}
			vs[f] = s
		case f.Nullable:
			vs[f] = nil
		default:
			v.Add(prefix+f.Name, "is required")
		}
	}
}

var (
	decimalRE = regexp.MustCompile(`^-?([0-9]+)(?:\.([0-9]+))?$`)
	dateRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// maxText bounds a text field without a length: the body limit bounds it anyway, but an
// unbounded column is an invitation to use it as storage.
const maxText = 64 << 10

// convert returns raw as f's column text; or a message saying what is wrong with a value of
// the right JSON type; or an error saying which JSON type the field takes.
func convert(f *apsorc.Field, raw json.RawMessage) (*string, string, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		if !f.Nullable {
			return nil, "must not be null", nil
		}
		return nil, "", nil
	}
	var s string
	str := raw[0] == '"'
	num := raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
	switch f.Type {
	case apsorc.Text, apsorc.Enum:
		if !str || json.Unmarshal(raw, &s) != nil {
			return nil, "", errKind("a string")
		}
		n := utf8.RuneCountInString(s)
		switch {
		case f.Length > 0 && n > f.Length:
			return nil, "must be at most " + strconv.Itoa(f.Length) + " characters", nil
		case n > maxText:
			return nil, "must be at most " + strconv.Itoa(maxText) + " characters", nil
		case f.Type == apsorc.Enum && !contains(f.Values, s):
			return nil, "must be one of " + strings.Join(f.Values, ", "), nil
		case f.Email && !isEmail(s):
			return nil, "must be an email address", nil
		}
	case apsorc.Integer, apsorc.BigInt:
		if !num && !(f.Type == apsorc.BigInt && str) {
			return nil, "", errKind("an integer")
		}
		n, msg := integer(raw, f.Type == apsorc.BigInt)
		if msg != "" {
			return nil, msg, nil
		}
		s = strconv.FormatInt(n, 10)
	case apsorc.Boolean:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, "", errKind("a boolean")
		}
		s = strconv.FormatBool(b)
	case apsorc.Float:
		var x float64
		if !num {
			return nil, "", errKind("a number")
		}
		if json.Unmarshal(raw, &x) != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, "must be a finite number", nil
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case apsorc.Decimal:
		if !num && !str {
			return nil, "", errKind("a number or a string of digits")
		}
		var msg string
		if s, msg = decimal(f, raw); msg != "" {
			return nil, msg, nil
		}
	case apsorc.Date:
		if !str || json.Unmarshal(raw, &s) != nil {
			return nil, "", errKind("a string")
		}
		// PostgreSQL has no year 0: "0000-01-01" would fail in the database (FuzzConvert).
		if d, err := time.Parse(time.DateOnly, s); err != nil || !dateRE.MatchString(s) || d.Year() < 1 {
			return nil, "must be a date, YYYY-MM-DD", nil
		}
	case apsorc.Timestamptz:
		if !str || json.Unmarshal(raw, &s) != nil {
			return nil, "", errKind("a string")
		}
		// The year is checked in UTC, the value stored: 0001-01-01T00:30:00+01:00 is in year 0
		// there, which PostgreSQL refuses, and 9999-12-31T23:30:00-01:00 in year 10000, which
		// RFC 3339 can't write back (FuzzConvert).
		t, err := time.Parse(time.RFC3339Nano, s)
		if u := t.UTC(); err != nil || u.Year() < 1 || u.Year() > 9999 {
			return nil, "must be an RFC 3339 time", nil
		}
		s = t.UTC().Format(time.RFC3339Nano)
	case apsorc.JSON:
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return nil, "", errKind("JSON")
		}
		s = b.String()
	case apsorc.UUID:
		if !str || json.Unmarshal(raw, &s) != nil {
			return nil, "", errKind("a string")
		}
		id, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			return nil, "must be a UUID", nil
		}
		s = id.String()
	}
	return &s, "", nil
}

// errKind says which JSON type a field takes.
func errKind(kind string) error { return errors.New("must be " + kind) }

// integer reads an integer field: a JSON number without a fraction, in integer's range (or
// bigint's for a key, which may also come as a string of digits, as a path id does).
func integer(raw json.RawMessage, big bool) (int64, string) {
	text := string(raw)
	if big && raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			return 0, "must be an integer"
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, "must be an integer"
	}
	if !big && (n < math.MinInt32 || n > math.MaxInt32) {
		return 0, "must be an integer between -2147483648 and 2147483647"
	}
	return n, ""
}

// decimal reads a decimal field: a JSON number or a string of digits (how clients keep money
// exact), within the field's precision and scale. A value with more fractional digits than the
// scale is refused rather than rounded.
func decimal(f *apsorc.Field, raw json.RawMessage) (string, string) {
	text := string(raw)
	if raw[0] == '"' && json.Unmarshal(raw, &text) != nil {
		return "", "must be a decimal number"
	}
	m := decimalRE.FindStringSubmatch(text)
	if m == nil || len(text) > 1000 {
		return "", "must be a decimal number such as 12.50"
	}
	if f.Precision > 0 {
		whole := strings.TrimLeft(m[1], "0")
		if len(m[2]) > f.Scale {
			return "", "must have at most " + strconv.Itoa(f.Scale) + " digits after the point"
		}
		if len(whole) > f.Precision-f.Scale {
			return "", "must have at most " + strconv.Itoa(f.Precision-f.Scale) + " digits before the point"
		}
	}
	return text, ""
}

// isEmail accepts a bare address (no display name), as is_email asks.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}

func contains(vs []string, s string) bool {
	for _, v := range vs {
		if v == s {
			return true
		}
	}
	return false
}

// parseID reads an id of e from a path: a UUID or a positive integer, canonical.
func parseID(e *apsorc.Entity, s string) (string, error) {
	if e.Key == apsorc.SerialKey {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return "", &fault.Error{Code: fault.BadRequest, Message: "id in the path must be a positive integer",
				Fields: []fault.FieldError{{Field: "id", Message: "must be a positive integer"}}}
		}
		return strconv.FormatInt(n, 10), nil
	}
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", &fault.Error{Code: fault.BadRequest, Message: "id in the path must be a UUID",
			Fields: []fault.FieldError{{Field: "id", Message: "must be a UUID"}}}
	}
	return id.String(), nil
}
