package apsorc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/mail"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Load reads and validates the .apsorc file at path. A file it refuses gives an *Error whose
// File is path.
func Load(path string) (*Schema, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- a developer's .apsorc (cmd/local -schema, cmd/generate, tests); the functions Parse the embedded one
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

// Parse validates the contents of an .apsorc file. A file it refuses gives an *Error whose
// File is ".apsorc".
func Parse(data []byte) (*Schema, error) { return parse(".apsorc", data) }

// loader is one Parse: the schema being built, what the file said beyond the model, and the
// problems found.
type loader struct {
	ps       problems
	s        *Schema
	http     bool // the top-level http
	specs    []*spec
	byName   map[string]*spec
	byEntity map[*Entity]*spec
	// origin says which declaration made a relation, for messages; defaultInverse marks the
	// inverses that the file did not name (see link).
	origin         map[*Relation]string
	defaultInverse map[*Relation]bool
}

// spec is an entity as the file declares it, beside the Entity being built.
type spec struct {
	e     *Entity
	where string // `entity "Task"`
	obj   *object
	// keyWritten and tableWritten are primaryKeyType and table as written ("" when absent).
	keyWritten, tableWritten string
	// indexed are the fields with index: true; links the relationships whose foreign key this
	// entity holds.
	indexed []*Field
	links   []*link
	// scopeBy is the file's scopeBy (nil when absent).
	scopeBy []string
	// associations are the version 1 associations.
	associations []*object
}

func parse(file string, data []byte) (*Schema, error) {
	l := &loader{
		s:              &Schema{byName: map[string]*Entity{}},
		byName:         map[string]*spec{},
		byEntity:       map[*Entity]*spec{},
		origin:         map[*Relation]string{},
		defaultInverse: map[*Relation]bool{},
	}
	l.load(data)
	if len(l.ps) > 0 {
		return nil, &Error{File: file, Problems: l.ps}
	}
	return l.s, nil
}

// load runs the passes over the file; a pass runs only when the ones it builds on found the
// file sound enough (a relationship to an entity that failed to load is not resolved).
func (l *loader) load(data []byte) {
	top := l.document(data)
	if top == nil {
		return
	}
	var decls []*decl
	if l.s.Version == 2 {
		for i, raw := range top.array("relationships") {
			if d := l.relationship(i+1, raw); d != nil {
				decls = append(decls, d)
			}
		}
	} else {
		decls = l.translateV1()
	}
	n := len(l.ps)
	l.resolve(decls)
	if len(l.ps) > n {
		return
	}
	l.platform()
	if len(l.ps) > n {
		return
	}
	l.keyTypes()
	l.scopes()
	l.collisions()
	if len(l.ps) > n {
		return
	}
	for _, sp := range l.specs {
		l.indexes(sp)
	}
	l.identifiers()
	if len(l.ps) == 0 && !slices.ContainsFunc(l.s.Entities, func(e *Entity) bool { return e.Platform == NotPlatform }) {
		l.ps.add("", "the file declares no entity for the engine to serve (only platform entities, or none)")
	}
}

// document reads the top level: the version, the generator's keys, auth, http and the
// entities. It returns nil when the file is not a JSON object.
func (l *loader) document(data []byte) *object {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		l.ps.add("", "%s", jsonProblem(data, err))
		return nil
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		l.ps.add("", "invalid JSON: more after the top-level object")
		return nil
	}
	top := readObject(&l.ps, "", raw)
	if top == nil {
		return nil
	}
	l.s.Version = 1
	if v, ok := top.integer("version", 1, 2, false); ok {
		l.s.Version = v
	}
	if l.s.Version == 1 && top.has("relationships") {
		l.ps.add("", `"relationships" is a version 2 key: set "version": 2, or declare associations on the entities`)
	}
	top.check("version", "rootFolder", "apiType", "entities", "relationships", "auth", "http", "emitEvents", "language", "coAuthor")
	// The generator's own keys say nothing scaleapi uses; their types are still checked.
	for _, k := range []string{"rootFolder", "apiType", "language"} {
		top.str(k)
	}
	top.boolean("coAuthor", true)
	if top.boolean("emitEvents", false) {
		l.ps.add("", `"emitEvents": scaleapi emits no domain events`)
	}
	l.http = top.boolean("http", true)
	l.auth(top)
	for i, raw := range top.array("entities") {
		l.entity(i+1, raw)
	}
	return top
}

// jsonProblem describes a decoding error with the line and column it is at.
func jsonProblem(data []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "invalid JSON: " + err.Error()
	}
	before := data[:min(max(int(se.Offset)-1, 0), len(data))] // up to the offending byte
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, err)
}

// dbSessionProviders are the auth providers whose model (users, organizations, members with
// roles, sessions in the database) is scaleapi's platform.
var dbSessionProviders = setOf("custom-db-session", "better-auth")

// auth reads the auth block into the names the platform mapping uses.
func (l *loader) auth(top *object) {
	a := &l.s.Auth
	// Without an auth block only an entity named Organization stands for the platform's table:
	// a schema's own User is an ordinary entity then, as APSO's published examples have it.
	*a = Auth{OrganizationField: "organizationId", RoleField: "role"}
	if !top.has("auth") {
		return
	}
	a.Provider, a.UserEntity, a.AccountUserEntity = "custom-db-session", "User", "AccountUser"
	o := readObject(&l.ps, "auth", top.raw("auth"))
	if o == nil {
		return
	}
	p, ok := o.str("provider")
	switch {
	case !ok && !o.has("provider"):
		l.ps.add("auth", `"provider" is required`)
		return
	case !ok:
		return
	case !dbSessionProviders[p]:
		l.ps.add("auth", `provider %q is not supported: scaleapi's auth is its own JWT + sessions platform (use "custom-db-session", or leave the auth block out)`, p)
		return
	}
	a.Provider = p
	o.check("provider", "sessionEntity", "userEntity", "accountUserEntity", "cookiePrefix", "organizationField", "roleField")
	o.str("sessionEntity") // the platform keeps its own sessions
	o.str("cookiePrefix")  // and its own tokens
	for _, k := range []struct {
		key string
		dst *string
	}{{"userEntity", &a.UserEntity}, {"accountUserEntity", &a.AccountUserEntity},
		{"organizationField", &a.OrganizationField}, {"roleField", &a.RoleField}} {
		if s, ok := o.str(k.key); ok {
			if !nameRE.MatchString(s) {
				l.ps.add("auth", notAName, k.key, s)
				continue
			}
			*k.dst = s
		}
	}
}

// notAName is the problem of a key (%s) whose value (%q) must be a name and is not.
const notAName = "%s %q is not a name (a letter, then letters, digits or underscores)"

// name reads o's name key, which must be present and a name.
func (l *loader) name(o *object) (string, bool) {
	name, ok := o.str("name")
	switch {
	case !ok && !o.has("name"):
		l.ps.add(o.where, `"name" is required`)
	case ok && !nameRE.MatchString(name):
		l.ps.add(o.where, notAName, "name", name)
		return "", false
	}
	return name, ok
}

// engineNames are the API names the engine gives every entity, and engineColumns their columns.
var (
	engineNames   = setOf("id", "createdAt", "updatedAt", "deletedAt", "version")
	engineColumns = setOf("id", "created_at", "updated_at", "deleted_at", "version")
)

// entity reads entity number i.
func (l *loader) entity(i int, raw json.RawMessage) {
	where := fmt.Sprintf("entity %d", i)
	o := readObject(&l.ps, where, raw)
	if o == nil {
		return
	}
	name, ok := l.name(o)
	if ok && l.byName[name] != nil {
		l.ps.add(where, "entity %q is declared twice", name)
		ok = false
	}
	if ok {
		where = fmt.Sprintf("entity %q", name)
		o.where = where
	}
	if l.s.Version == 2 && o.has("associations") {
		l.ps.add(where, `"associations" is a version 1 key: version 2 declares "relationships" at the top level`)
	}
	o.check("name", "table", "created_at", "updated_at", "primaryKeyType", "fields", "indexes", "uniques",
		"scopeBy", "scopeOptions", "emitEvents", "http", "scaleapi", "associations")
	e := &Entity{Name: name, Key: UUIDKey, CreatedAt: o.boolean("created_at", false),
		UpdatedAt: o.boolean("updated_at", false), HTTP: o.boolean("http", l.http)}
	if ok {
		e.Table, e.Path, e.Noun = tableName(name), strings.ToLower(plural(name)), strings.ToLower(name)
	}
	sp := &spec{e: e, where: where, obj: o}
	if t, ok := o.str("table"); ok {
		e.Table, sp.tableWritten = t, t
	}
	if k, ok := o.str("primaryKeyType"); ok {
		switch k {
		case "uuid":
		case "serial":
			e.Key = SerialKey
		default:
			l.ps.add(where, `primaryKeyType %q must be "uuid" or "serial"`, k)
		}
		sp.keyWritten = k
	}
	if o.boolean("emitEvents", false) {
		l.ps.add(where, `"emitEvents": scaleapi emits no domain events`)
	}
	for j, raw := range o.array("fields") {
		if f, index := l.field(where, j+1, raw); f != nil {
			if _, dup := e.Field(f.Name); dup {
				l.ps.add(where, "field %q is declared twice", f.Name)
				continue
			}
			e.Fields = append(e.Fields, f)
			if index {
				sp.indexed = append(sp.indexed, f)
			}
		}
	}
	sp.scopeBy, _ = o.strOrStrs("scopeBy")
	e.Scope.InjectOnCreate = l.scopeOptions(where, o)
	e.Options = l.options(where, o)
	for j, raw := range o.array("associations") {
		if a := readObject(&l.ps, fmt.Sprintf("%s association %d", where, j+1), raw); a != nil && l.s.Version == 1 {
			sp.associations = append(sp.associations, a)
		}
	}
	if !ok {
		return // checked, but nothing can refer to it
	}
	l.specs = append(l.specs, sp)
	l.byName[name] = sp
	l.byEntity[e] = sp
	l.s.Entities = append(l.s.Entities, e)
	l.s.byName[name] = e
}

// scopeOperations are the operations a scope applies to; scaleapi applies it to all.
var scopeOperations = []string{"find", "get", "create", "update", "delete"}

// scopeOptions reads scopeOptions and returns its injectOnCreate. enforceOn and bypassRoles are
// accepted only where they ask for what scaleapi does anyway.
func (l *loader) scopeOptions(where string, e *object) bool {
	if !e.has("scopeOptions") {
		return true
	}
	w := where + " scopeOptions"
	o := readObject(&l.ps, w, e.raw("scopeOptions"))
	if o == nil {
		return true
	}
	o.check("injectOnCreate", "enforceOn", "bypassRoles")
	if ops, ok := o.strs("enforceOn"); ok {
		all := true
		for _, op := range ops {
			if !contains(scopeOperations, op) {
				l.ps.add(w, "enforceOn: unknown operation %q", op)
			}
		}
		for _, op := range scopeOperations {
			all = all && contains(ops, op)
		}
		if !all {
			l.ps.add(w, "enforceOn must list find, get, create, update and delete: scaleapi enforces the scope on every operation")
		}
	}
	if roles, _ := o.strs("bypassRoles"); len(roles) > 0 {
		l.ps.add(w, "bypassRoles: scaleapi has no cross-tenant role; every caller sees only its organizations' rows")
	}
	return o.boolean("injectOnCreate", true)
}

// maxTTL bounds the cache TTLs: a year, far past any useful TTL and far from overflowing.
const maxTTL = 365 * 24 * 3600

// options reads the entity's scaleapi block.
func (l *loader) options(where string, e *object) Options {
	opt := Options{CacheTTL: 300 * time.Second, ListCacheTTL: 60 * time.Second, SoftDelete: true,
		Reads: ReadPrimary, DeleteRole: "member"}
	if !e.has("scaleapi") {
		return opt
	}
	o := readObject(&l.ps, where+" scaleapi", e.raw("scaleapi"))
	if o == nil {
		return opt
	}
	o.check("cacheTTL", "listCacheTTL", "softDelete", "reads", "deleteRole")
	if n, ok := o.integer("cacheTTL", 0, maxTTL, false); ok {
		opt.CacheTTL = time.Duration(n) * time.Second
	}
	if n, ok := o.integer("listCacheTTL", 0, maxTTL, false); ok {
		opt.ListCacheTTL = time.Duration(n) * time.Second
	}
	opt.SoftDelete = o.boolean("softDelete", true)
	if r, ok := o.str("reads"); ok {
		switch r {
		case "primary":
		case "replica":
			opt.Reads = ReadReplica
		default:
			l.ps.add(o.where, `reads %q must be "primary" or "replica"`, r)
		}
	}
	if r, ok := o.str("deleteRole"); ok {
		if contains([]string{"member", "admin", "owner"}, r) {
			opt.DeleteRole = r
		} else {
			l.ps.add(o.where, `deleteRole %q must be "member", "admin" or "owner"`, r)
		}
	}
	return opt
}

// fieldTypes maps the format's type names onto the engine's types.
var fieldTypes = map[string]Type{
	"text": Text, "enum": Enum, "integer": Integer, "boolean": Boolean, "float": Float,
	"decimal": Decimal, "numeric": Decimal, "date": Date,
	"timestamptz": Timestamptz, "timestamp": Timestamptz, "datetime": Timestamptz,
	"json": JSON, "json-plain": JSON,
}

// postGIS are the format's PostGIS types.
var postGIS = setOf("geometry", "geography", "point", "linestring", "polygon", "multipoint",
	"multilinestring", "multipolygon", "geometrycollection")

// maxVarchar is PostgreSQL's largest varchar length.
const maxVarchar = 10485760

// field reads field number i of the entity at where, and whether it has index: true. It
// returns nil when the field can't be built.
func (l *loader) field(where string, i int, raw json.RawMessage) (*Field, bool) {
	w := fmt.Sprintf("%s field %d", where, i)
	o := readObject(&l.ps, w, raw)
	if o == nil {
		return nil, false
	}
	name, ok := l.name(o)
	if ok {
		w = fmt.Sprintf("%s field %q", where, name)
		o.where = w
	}
	o.check("name", "type", "values", "nullable", "index", "primary", "unique", "default", "length", "precision", "scale", "is_email")
	f := &Field{Name: name, Column: snakeCase(name)}
	switch {
	case ok && engineNames[name]:
		l.ps.add(w, "the engine adds it (id, createdAt, updatedAt, deletedAt and version are the engine's)")
		ok = false
	case engineColumns[f.Column]:
		// Another spelling of an engine column ("ID", APSO's examples have one): its own
		// column, since the name differs from the engine's.
		f.Column += "_value"
	}
	if o.boolean("primary", false) {
		l.ps.add(w, `"primary" is not supported: the key is always "id" (primaryKeyType chooses its type)`)
	}
	f.Nullable, _ = o.looseBool("nullable", false, true)
	f.Unique = o.boolean("unique", false)
	f.Email = o.boolean("is_email", false)
	index := o.boolean("index", false)
	tn, typed := o.str("type")
	if !typed && !o.has("type") {
		l.ps.add(w, `"type" is required`)
	}
	if typed {
		f.Type, typed = fieldTypes[tn]
		switch {
		case typed:
		case postGIS[tn]:
			l.ps.add(w, "type %q is not supported (PostGIS types need the PostGIS extension, which scaleapi does not install)", tn)
		case tn == "array":
			l.ps.add(w, `type "array" is not supported (scaleapi has no array columns; use json)`)
		default:
			l.ps.add(w, "type %q is unknown (text, enum, integer, boolean, float, decimal, numeric, date, timestamptz, json or json-plain)", tn)
		}
	}
	l.typeOptions(w, o, f, typed)
	if typed && o.has("default") {
		if d, msg := defaultOf(f, o.raw("default")); msg != "" {
			l.ps.add(w, "default %s: %s", o.raw("default"), msg)
		} else {
			f.Default = d
		}
	}
	if !ok {
		return nil, false
	}
	return f, index
}

// typeOptions reads the keys that belong to one type (values, length, precision, scale,
// is_email), and refuses them on the others.
func (l *loader) typeOptions(w string, o *object, f *Field, typed bool) {
	only := func(key string, t Type, name string) bool {
		if !o.has(key) {
			return false
		}
		if typed && f.Type != t {
			l.ps.add(w, "%q applies to %s fields only", key, name)
		}
		return typed && f.Type == t
	}
	valuesOK := !o.has("values")
	if only("values", Enum, "enum") {
		f.Values, valuesOK = o.strs("values")
		seen := map[string]bool{}
		for _, v := range f.Values {
			if seen[v] {
				l.ps.add(w, "enum value %q appears twice", v)
			}
			if strings.ContainsRune(v, 0) {
				l.ps.add(w, "enum value %q contains a NUL character", v)
			}
			seen[v] = true
		}
	}
	if typed && f.Type == Enum && len(f.Values) == 0 && valuesOK {
		l.ps.add(w, "enum needs values")
	}
	if only("length", Text, "text") {
		f.Length, _ = o.integer("length", 1, maxVarchar, true)
	}
	only("is_email", Text, "text")
	precision := only("precision", Decimal, "decimal and numeric")
	if precision {
		f.Precision, precision = o.integer("precision", 1, 1000, false)
	}
	if only("scale", Decimal, "decimal and numeric") {
		switch {
		case !o.has("precision"):
			l.ps.add(w, `"scale" needs "precision"`)
		case precision:
			f.Scale, _ = o.integer("scale", 0, f.Precision, false)
		}
	}
}

var (
	numberRE  = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
	decimalRE = regexp.MustCompile(`^-?([0-9]+)(?:\.([0-9]+))?$`)
	dateRE    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// defaultOf checks raw, a field's non-null default, against the field's type and returns it as
// the JSON value the engine fills an absent field with: a string (text, enum, date,
// timestamptz), a json.Number (integer, float, decimal) or a bool. A number or boolean may also
// be written as a string ("0", "false"), as APSO's generator passes defaults on as text. msg
// says what is wrong.
func defaultOf(f *Field, raw json.RawMessage) (v any, msg string) {
	var s string
	isStr := json.Unmarshal(raw, &s) == nil
	text := string(raw)
	if isStr {
		text = s
	}
	switch f.Type {
	case Text, Enum:
		switch {
		case !isStr:
			return nil, "must be a string"
		case strings.ContainsRune(s, 0):
			return nil, "must not contain a NUL character"
		case f.Length > 0 && len([]rune(s)) > f.Length:
			return nil, fmt.Sprintf("is longer than the field's length %d", f.Length)
		case f.Type == Enum && !contains(f.Values, s):
			return nil, "is not one of the enum's values"
		case f.Email && !isEmail(s):
			return nil, "is not an email address"
		}
		return s, ""
	case Boolean:
		switch text {
		case "true", "false":
			return text == "true", ""
		}
		return nil, "must be true or false"
	case Integer:
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil || text != strconv.FormatInt(n, 10) {
			return nil, "must be an integer between -2147483648 and 2147483647"
		}
		return json.Number(text), ""
	case Float:
		x, err := strconv.ParseFloat(text, 64)
		if !numberRE.MatchString(text) || err != nil || math.IsInf(x, 0) {
			return nil, "must be a number"
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), ""
	case Decimal:
		m := decimalRE.FindStringSubmatch(text)
		switch {
		case m == nil || len(text) > 1000:
			return nil, "must be a decimal number such as 12.50"
		case f.Precision > 0 && len(m[2]) > f.Scale:
			return nil, fmt.Sprintf("has more than the field's %d digits after the point", f.Scale)
		case f.Precision > 0 && len(strings.TrimLeft(m[1], "0")) > f.Precision-f.Scale:
			return nil, fmt.Sprintf("has more than the field's %d digits before the point", f.Precision-f.Scale)
		}
		return json.Number(text), ""
	case Date:
		if _, err := time.Parse(time.DateOnly, s); !isStr || !dateRE.MatchString(s) || err != nil {
			return nil, "must be a date (YYYY-MM-DD)"
		}
		return s, ""
	case Timestamptz:
		t, err := time.Parse(time.RFC3339Nano, s)
		if !isStr || err != nil || t.Year() < 1 || t.Year() > 9999 {
			return nil, "must be an RFC 3339 time such as 2024-01-02T15:04:05Z"
		}
		return t.UTC().Format(time.RFC3339Nano), ""
	}
	return nil, "a json field takes no default"
}

// isEmail accepts a bare address (no display name), as the engine's is_email check does.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}
