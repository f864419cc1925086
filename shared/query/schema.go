package query

import (
	"fmt"
	"regexp"
	"strings"
)

// Type is the SQL type of a field. It decides how a client's value is validated, which cast
// its placeholder gets, and which operators apply.
type Type uint8

// The field types.
const (
	// UUID is a uuid column.
	UUID Type = iota + 1
	// Text is a text column.
	Text
	// Enum is a text column restricted (by a CHECK) to Field.Values. It compares and sorts as
	// text; $eq $ne $in $notin (and L forms) reject a value outside the set with a 400.
	Enum
	// Int is an integer column of any width (smallint to bigint, serial keys too); values are
	// bound as bigint.
	Int
	// Timestamptz is a timestamptz column; values are RFC 3339 times or dates.
	Timestamptz
	// Date is a date column; values are YYYY-MM-DD.
	Date
	// Bool is a boolean column.
	Bool
	// Float is a double precision column; values are finite numbers.
	Float
	// Numeric is a numeric (decimal) column; values are decimal literals (-12.50), bound as
	// text and cast to numeric so that no precision is lost.
	Numeric
	// JSON is a jsonb column. It is selected and joined like any field, but filters only on
	// null ($isnull, $notnull) and doesn't sort.
	JSON
)

// String returns the name used in error messages.
func (t Type) String() string {
	switch t {
	case UUID:
		return "uuid"
	case Text:
		return "text"
	case Enum:
		return "enum"
	case Int:
		return "integer"
	case Timestamptz:
		return "timestamp"
	case Date:
		return "date"
	case Bool:
		return "boolean"
	case Float:
		return "float"
	case Numeric:
		return "numeric"
	case JSON:
		return "json"
	}
	return "unknown"
}

// cast is the SQL type every placeholder of this type is cast to. The explicit cast makes the
// statement independent of the pgx exec mode: values are always sent as text, and the server
// converts them, whether or not it was asked to describe the statement first.
func (t Type) cast() string {
	switch t {
	case UUID:
		return "uuid"
	case Text, Enum:
		return "text"
	case Int:
		return "bigint"
	case Timestamptz:
		return "timestamptz"
	case Date:
		return "date"
	case Bool:
		return "boolean"
	case Float:
		return "float8"
	case Numeric:
		return "numeric"
	case JSON:
		return "jsonb" // never bound: a JSON field takes no value (see parser.condition)
	}
	panic("query: unknown type")
}

// textual reports whether the LIKE and lower() operators apply, and whether the field sorts
// and compares under the package's collation (see collation).
func (t Type) textual() bool { return t == Text || t == Enum }

// Field is one client-visible field of a resource. Every field a client can read can be
// selected, sorted on and filtered on (API.md), a JSON field on null only: there is no
// per-field flag, so that the allow-list of what a client may read is the only one to audit.
type Field struct {
	// Name is the API name (camelCase, or snake_case such as cognito_id: a letter, then letters,
	// digits and underscores), as clients write it and as the JSON key.
	Name string
	// Column is the column of the resource's table. It is a plain identifier (lower snake case,
	// not a reserved word) rather than an arbitrary expression so that the package can qualify
	// it with any alias and so that the allow-list stays trivially auditable.
	Column string
	// Type decides validation, binding and the applicable operators.
	Type Type
	// Values is the set of allowed values of an Enum field.
	Values []string
	// Nullable says the column may hold NULL; the keyset cursor needs to know.
	Nullable bool
}

// Relation is a relation a client may load with join=Name.
type Relation struct {
	// Name is the API name: the join parameter and the JSON key of the loaded value.
	Name string
	// Many says the relation is one-to-many (a JSON array, [] when empty); otherwise it is
	// many-to-one (a JSON object, or null), and Foreign must be a unique column such as id.
	Many bool
	// Schema describes the related resource (its table and fields). Its own relations can be
	// joined in the related rows (join=a.b), up to the package's join depth (see Joins in the
	// package comment).
	Schema *Schema
	// Local and Foreign are the columns that join: related.Foreign = parent.Local. For
	// projects -> tasks: Local "id", Foreign "project_id"; for projects -> organization: Local
	// "organization_id", Foreign "id".
	Local, Foreign string
	// DeletedAt, when set, is the related table's soft-delete column: rows where it is not NULL
	// are left out.
	DeletedAt string
}

// Schema is the allow-list of one resource: its table, the fields a client may name and the
// relations it may join. Build it once, at package initialisation; it is read-only afterwards
// and safe for concurrent use.
type Schema struct {
	name      string
	table     string
	fields    []*Field
	byName    map[string]*Field
	id        *Field
	relations []*Relation
	relByName map[string]*Relation
}

// maxObjectPairs keeps json_build_object under PostgreSQL's 100-argument limit.
const maxObjectPairs = 50

var (
	identRE   = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	apiNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
)

// NewSchema builds the allow-list of the resource stored in table. The id field (uuid column
// "id") is added when fields don't declare it; when they do, it must be a non-nullable UUID or
// Int (a serial key), since it is the unique tiebreak of every sort and the last value of every
// keyset cursor. NewSchema panics on a programming error (a bad identifier, a duplicate name,
// an Enum without values): schemas are static, and a bad one must stop the program at start,
// not fail a request.
func NewSchema(table string, fields ...Field) *Schema {
	mustIdent("table", table)
	s := &Schema{name: table, table: table, byName: map[string]*Field{}, relByName: map[string]*Relation{}}
	hasID := false
	for _, f := range fields {
		if f.Name == "id" {
			hasID = true
		}
	}
	if !hasID {
		fields = append([]Field{{Name: "id", Column: "id", Type: UUID}}, fields...)
	}
	for i := range fields {
		f := fields[i]
		if !apiNameRE.MatchString(f.Name) {
			panic(fmt.Sprintf("query: schema %s: bad field name %q", table, f.Name))
		}
		mustIdent("column of "+f.Name, f.Column)
		if f.Type < UUID || f.Type > JSON {
			panic(fmt.Sprintf("query: schema %s: field %s has no type", table, f.Name))
		}
		if (f.Type == Enum) != (len(f.Values) > 0) {
			panic(fmt.Sprintf("query: schema %s: field %s: Values go with Enum, and only with it", table, f.Name))
		}
		if _, dup := s.byName[f.Name]; dup {
			panic(fmt.Sprintf("query: schema %s: duplicate field %s", table, f.Name))
		}
		f.Values = append([]string(nil), f.Values...)
		fp := &f
		s.fields = append(s.fields, fp)
		s.byName[f.Name] = fp
		if f.Name == "id" {
			if f.Nullable || f.Type != UUID && f.Type != Int {
				panic(fmt.Sprintf("query: schema %s: id must be a non-nullable UUID or Int", table))
			}
			s.id = fp
		}
	}
	s.checkSize()
	return s
}

// Join adds an allow-listed relation and returns s. Like NewSchema it panics on a programming
// error, and like NewSchema it belongs in package initialisation: Schemas are shared by
// concurrent requests. Relations are added after construction so that two schemas can name
// each other (projects -> tasks -> project).
func (s *Schema) Join(r Relation) *Schema {
	if !apiNameRE.MatchString(r.Name) {
		panic(fmt.Sprintf("query: schema %s: bad relation name %q", s.name, r.Name))
	}
	if r.Schema == nil {
		panic(fmt.Sprintf("query: schema %s: relation %s has no schema", s.name, r.Name))
	}
	mustIdent("local column of "+r.Name, r.Local)
	mustIdent("foreign column of "+r.Name, r.Foreign)
	if r.DeletedAt != "" {
		mustIdent("deleted-at column of "+r.Name, r.DeletedAt)
	}
	if _, dup := s.byName[r.Name]; dup {
		panic(fmt.Sprintf("query: schema %s: relation %s has a field's name", s.name, r.Name))
	}
	if _, dup := s.relByName[r.Name]; dup {
		panic(fmt.Sprintf("query: schema %s: duplicate relation %s", s.name, r.Name))
	}
	rp := &r
	s.relations = append(s.relations, rp)
	s.relByName[r.Name] = rp
	s.checkSize()
	return s
}

func (s *Schema) checkSize() {
	if len(s.fields)+len(s.relations) > maxObjectPairs {
		panic(fmt.Sprintf("query: schema %s: more than %d fields and relations", s.name, maxObjectPairs))
	}
}

// Name returns the schema's name (its table), which cursors and cache keys are bound to.
func (s *Schema) Name() string { return s.name }

// Table returns the table the schema describes.
func (s *Schema) Table() string { return s.table }

// Field returns the field with the API name name.
func (s *Schema) Field(name string) (Field, bool) {
	f, ok := s.byName[name]
	if !ok {
		return Field{}, false
	}
	return *f, true
}

// Relations returns the relations a client may join, in the order they were added (for
// cmd/generate, which documents each list's join= values from them).
func (s *Schema) Relations() []Relation {
	out := make([]Relation, len(s.relations))
	for i, r := range s.relations {
		out[i] = *r
	}
	return out
}

func mustIdent(what, id string) {
	if !identRE.MatchString(id) || reserved[strings.ToUpper(id)] {
		panic(fmt.Sprintf("query: %s: %q is not a plain, unreserved SQL identifier", what, id))
	}
}

// reserved lists PostgreSQL's reserved key words (including those that may be function or type
// names), which can't be used as an unquoted column or alias. Identifiers are never quoted by
// this package, so such names are refused when a Schema is built.
var reserved = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC AUTHORIZATION
		BINARY BOTH CASE CAST CHECK COLLATE COLLATION COLUMN CONCURRENTLY CONSTRAINT CREATE CROSS
		CURRENT_CATALOG CURRENT_DATE CURRENT_ROLE CURRENT_SCHEMA CURRENT_TIME CURRENT_TIMESTAMP
		CURRENT_USER DEFAULT DEFERRABLE DESC DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN
		FREEZE FROM FULL GRANT GROUP HAVING ILIKE IN INITIALLY INNER INTERSECT INTO IS ISNULL JOIN
		LATERAL LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP NATURAL NOT NOTNULL NULL OFFSET ON
		ONLY OR ORDER OUTER OVERLAPS PLACING PRIMARY REFERENCES RETURNING RIGHT SELECT SESSION_USER
		SIMILAR SOME SYMMETRIC SYSTEM_USER TABLE TABLESAMPLE THEN TO TRAILING TRUE UNION UNIQUE USER
		USING VARIADIC VERBOSE WHEN WHERE WINDOW WITH`) {
		m[w] = true
	}
	return m
}()
