package resource

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"scaleapi/shared/api"
)

// Name checks a required one-line name (a project's name, a task's title) of at most max
// characters and returns it with surrounding white space trimmed, recording what is wrong on v.
func Name(v *api.Validator, field, s string, max int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		v.Add(field, "is required")
		return s
	}
	Text(v, field, s, max)
	return s
}

// Text checks free text of at most max characters (counted as Unicode code points, as
// PostgreSQL's char_length counts them) that PostgreSQL can store: valid UTF-8 without NUL.
func Text(v *api.Validator, field, s string, max int) {
	switch {
	case !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0:
		v.Add(field, "must be UTF-8 text without NUL characters")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

// OneOf checks that s is one of allowed.
func OneOf(v *api.Validator, field, s string, allowed []string) {
	if !slices.Contains(allowed, s) {
		v.Add(field, "must be one of "+strings.Join(allowed, ", "))
	}
}

// OptionalID checks a PATCH of a UUID field: absent (nil), null (nil, and a 422 unless
// nullable) or a UUID (returned).
func OptionalID(v *api.Validator, field string, o Optional[string], nullable bool) *uuid.UUID {
	if !nullable {
		NotNull(v, field, o)
	}
	if !o.Set || o.Null {
		return nil
	}
	id := ID(v, field, o.Value)
	return &id
}

// OptionalName checks a PATCH of a required name (Name's rules): it may be absent, not null; a
// value is trimmed in place.
func OptionalName(v *api.Validator, field string, o *Optional[string], max int) {
	NotNull(v, field, *o)
	if o.Set && !o.Null {
		o.Value = Name(v, field, o.Value, max)
	}
}

// OptionalText checks a PATCH of nullable free text (Text's rules).
func OptionalText(v *api.Validator, field string, o Optional[string], max int) {
	if o.Set && !o.Null {
		Text(v, field, o.Value, max)
	}
}

// OptionalOneOf checks a PATCH of an enum field: it may be absent, not null, and must be one of
// allowed.
func OptionalOneOf[S ~string](v *api.Validator, field string, o Optional[S], allowed []string) {
	NotNull(v, field, o)
	if o.Set && !o.Null {
		OneOf(v, field, string(o.Value), allowed)
	}
}

// NotNull records a field that a PATCH may change but not clear.
func NotNull[T any](v *api.Validator, field string, o Optional[T]) {
	if o.Set && o.Null {
		v.Add(field, "must not be null")
	}
}

// Index returns the field-name prefix of item i of a bulk request: "bulk[3].".
func Index(i int) string { return "bulk[" + strconv.Itoa(i) + "]." }

// ID parses a required UUID field of a request body. Bodies carry ids as strings, parsed here
// rather than by encoding/json, so that a malformed one is a 422 naming its field instead of a
// 400 for the whole body.
func ID(v *api.Validator, field, s string) uuid.UUID {
	if s == "" {
		v.Add(field, "is required")
		return uuid.Nil
	}
	id, err := uuid.Parse(s)
	if err != nil {
		v.Add(field, "must be a UUID")
	}
	return id
}
