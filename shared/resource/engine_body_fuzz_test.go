package resource

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"scaleapi"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
)

// fuzzFields are the fields of every entity of the root schema and of the examples: between
// them, every type, with and without a length, precision, enum values, is_email and nullable.
func fuzzFields(f *testing.F) []*apsorc.Field {
	root, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		f.Fatal(err)
	}
	schemas := []*apsorc.Schema{root}
	for _, path := range []string{"../../examples/shop/.apsorc", "../../examples/clinic/.apsorc"} {
		s, err := apsorc.Load(path)
		if err != nil {
			f.Fatal(err)
		}
		schemas = append(schemas, s)
	}
	var out []*apsorc.Field
	for _, s := range schemas {
		for _, e := range s.Entities {
			if e.Platform == apsorc.NotPlatform {
				out = append(out, e.Fields...)
			}
		}
	}
	return out
}

// FuzzConvert feeds every field of the schemas an arbitrary JSON value, as a body's member
// reaches convert (through api.DecodeBytes, so that the value is JSON and its strings text), and
// checks that:
//
//   - a value of a JSON type the field doesn't take is an error, and only such a value is; null
//     is NULL for a nullable field and a message for another;
//   - what convert accepts is text PostgreSQL reads for the column's type, by PostgreSQL's own
//     rules (a date or time in years 1 to 9999 — PostgreSQL has no year 0 —, an integer in the
//     column's range, a numeric within its precision, canonical UUIDs and booleans, compact
//     JSON), so that no accepted value can fail in the database;
//   - it is canonical: the value sent again as the API answers it converts to itself.
//
// Run it with: go test ./shared/resource -run '^$' -fuzz FuzzConvert
func FuzzConvert(f *testing.F) {
	fields := fuzzFields(f)
	for _, s := range []string{
		`"Apollo"`, `"  "`, `""`, `"a@example.com"`, `"Ada <a@example.com>"`, `"active"`, `null`, `true`, `0`, `-0`,
		`2147483648`, `-2147483648`, `"9223372036854775807"`, `1.5`, `1e400`, `-1e-400`, `"12.50"`, `12.505`,
		`0000012.5`, `"2024-02-29"`, `"2023-02-29"`, `"0000-01-01"`, `"2024-01-02T03:04:05.123456789+01:00"`,
		`"0001-01-01T00:30:00+01:00"`, `"9999-12-31T23:30:00-01:00"`, `"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"`,
		`"{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}"`, `{"a": [1, {"b": null}]}`, `[]`, `"\u00e9t\u00e9"`,
		`"` + strings.Repeat("x", 201) + `"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		var body map[string]json.RawMessage
		if api.DecodeBytes(append(append([]byte(`{"v":`), value...), '}'), &body) != nil {
			return // not a JSON value, or not text: the decoder's 400, before convert
		}
		raw, ok := body["v"]
		if !ok {
			return // the value closed the object and named other members
		}
		for _, fld := range fields {
			checkConvert(t, fld, raw)
		}
	})
}

func checkConvert(t *testing.T, f *apsorc.Field, raw json.RawMessage) {
	s, msg, err := convert(f, raw)
	kind := jsonKind(raw)
	if kind == "null" {
		if err != nil || s != nil || (msg == "") != f.Nullable {
			t.Fatalf("%s (nullable %v) of null: %v, %q, %v", f.Name, f.Nullable, s, msg, err)
		}
		return
	}
	if (err != nil) != !takes(f.Type, kind) {
		t.Fatalf("%s (%d) of %s %s: error %v", f.Name, f.Type, kind, raw, err)
	}
	if err != nil || msg != "" {
		if s != nil {
			t.Fatalf("%s of %s: a value %q with error %v, message %q", f.Name, raw, *s, err, msg)
		}
		return
	}
	if s == nil {
		t.Fatalf("%s of %s: NULL without a message", f.Name, raw)
	}
	if why := pgRefuses(f, *s); why != "" {
		t.Fatalf("%s (%d) of %s: %q, which PostgreSQL refuses: %s", f.Name, f.Type, raw, *s, why)
	}
	again := json.RawMessage(*s)
	switch f.Type {
	case apsorc.Text, apsorc.Enum, apsorc.Date, apsorc.Timestamptz, apsorc.UUID:
		again, _ = json.Marshal(*s)
	}
	s2, msg2, err2 := convert(f, again)
	if err2 != nil || msg2 != "" || s2 == nil || *s2 != *s {
		t.Fatalf("%s of %s: %q is not canonical: sent again it converts to %v, %q, %v", f.Name, raw, *s, s2, msg2, err2)
	}
}

// jsonKind is the JSON type of a valid JSON value.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch c := raw[0]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	}
	return "number"
}

// takes reports whether a field of type t takes a JSON value of kind (the API's contract:
// package doc, "Validation").
func takes(t apsorc.Type, kind string) bool {
	switch t {
	case apsorc.Text, apsorc.Enum, apsorc.Date, apsorc.Timestamptz, apsorc.UUID:
		return kind == "string"
	case apsorc.Integer, apsorc.Float:
		return kind == "number"
	case apsorc.BigInt, apsorc.Decimal:
		return kind == "number" || kind == "string"
	case apsorc.Boolean:
		return kind == "boolean"
	case apsorc.JSON:
		return true
	}
	return false
}

var (
	pgDateRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	pgNumericRE = regexp.MustCompile(`^-?([0-9]+)(?:\.([0-9]+))?$`)
)

// pgRefuses says why PostgreSQL would refuse s as the text of f's column, or "".
func pgRefuses(f *apsorc.Field, s string) string {
	switch f.Type {
	case apsorc.Text, apsorc.Enum:
		switch {
		case !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0:
			return "not text"
		case f.Length > 0 && utf8.RuneCountInString(s) > f.Length:
			return "longer than varchar(" + strconv.Itoa(f.Length) + ")"
		case f.Type == apsorc.Enum && !contains(f.Values, s):
			return "not one of the CHECK's values"
		}
	case apsorc.Integer, apsorc.BigInt:
		bits := 32
		if f.Type == apsorc.BigInt {
			bits = 64
		}
		if n, err := strconv.ParseInt(s, 10, bits); err != nil || strconv.FormatInt(n, 10) != s {
			return "not a canonical integer in range"
		}
	case apsorc.Boolean:
		if s != "true" && s != "false" {
			return "not a boolean"
		}
	case apsorc.Float:
		if x, err := strconv.ParseFloat(s, 64); err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return "not a finite double precision"
		}
	case apsorc.Decimal:
		m := pgNumericRE.FindStringSubmatch(s)
		if m == nil {
			return "not a numeric"
		}
		if f.Precision > 0 && len(strings.TrimLeft(m[1], "0")) > f.Precision-f.Scale {
			return "overflows numeric(" + strconv.Itoa(f.Precision) + "," + strconv.Itoa(f.Scale) + ")"
		}
	case apsorc.Date:
		d, err := time.Parse(time.DateOnly, s)
		if err != nil || !pgDateRE.MatchString(s) || d.Year() < 1 {
			return "not a date of years 1 to 9999"
		}
	case apsorc.Timestamptz:
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !strings.HasSuffix(s, "Z") || ts.Year() < 1 || ts.Year() > 9999 {
			return "not a UTC time of years 1 to 9999"
		}
	case apsorc.JSON:
		var b bytes.Buffer
		if json.Compact(&b, []byte(s)) != nil || b.String() != s {
			return "not compact JSON"
		}
	case apsorc.UUID:
		if id, err := uuid.Parse(s); err != nil || id.String() != s {
			return "not a canonical UUID"
		}
	}
	return ""
}
