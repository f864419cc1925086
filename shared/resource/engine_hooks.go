package resource

import (
	"fmt"
	"strings"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
)

// Hooks are an entity's domain rules that a schema cannot say, the only per-entity code: they
// are registered by entity name (NewEngine's hooks) and live in files named after the entity.
type Hooks struct {
	// Check validates, and may normalise, a write's values beyond the schema's rules, adding
	// what is wrong to v. It runs after the schema's checks passed, for each item of a create,
	// and for PATCH and PUT.
	Check func(w *Write, v *api.Validator)
}

// Write is the write a hook checks: the values of the fields present, as the schema read them.
type Write struct {
	e      *apsorc.Entity
	vs     values
	prefix string
}

// Field returns the prefixed name of field name for a validation message ("bulk[2].name").
func (w *Write) Field(name string) string { return w.prefix + name }

// Value returns the value of field name as the write will store it (the text PostgreSQL reads,
// canonical for the type), and whether the write sets it; a NULL is ("", true, true).
func (w *Write) Value(name string) (value string, set, null bool) {
	f, ok := w.e.Field(name)
	if !ok {
		panic(fmt.Sprintf("resource: hook of %s reads unknown field %s", w.e.Name, name))
	}
	s, set := w.vs[f]
	if !set {
		return "", false, false
	}
	if s == nil {
		return "", true, true
	}
	return *s, true, false
}

// Set replaces the value of a text field the write sets (a hook that normalises it).
func (w *Write) Set(name, value string) {
	f, ok := w.e.Field(name)
	if !ok || (f.Type != apsorc.Text && f.Type != apsorc.Enum) {
		panic(fmt.Sprintf("resource: hook of %s sets %s, which is not a text field", w.e.Name, name))
	}
	w.vs[f] = &value
}

// TrimRequired is the rule of a one-line name (a project's name, a task's title): surrounding
// white space is trimmed, and what is left must not be empty.
func TrimRequired(w *Write, v *api.Validator, name string) {
	s, set, null := w.Value(name)
	if !set || null {
		return
	}
	s = strings.TrimSpace(s)
	if s == "" {
		v.Add(w.Field(name), "is required")
		return
	}
	w.Set(name, s)
}

// check runs m's hook on a write of vs.
func (m *model) check(vs values, prefix string, v *api.Validator) {
	if m.hooks.Check != nil {
		m.hooks.Check(&Write{e: m.e, vs: vs, prefix: prefix}, v)
	}
}
