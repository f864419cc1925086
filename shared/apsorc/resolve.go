package apsorc

import (
	"fmt"
	"slices"
	"strings"
)

// platformTable is the table of each platform entity, and platformFields the fields a file
// may declare on it: the platform's columns that the engine shows (never a password hash).
var (
	platformTable  = map[Platform]string{Users: "users", Organizations: "organizations", Memberships: "memberships"}
	platformFields = map[Platform][]string{Users: {"name", "email"}, Organizations: {"name"}}
	platformRoles  = []string{"owner", "admin", "member"}
)

// platform finds the entities that stand for the platform's tables (see Auth) and checks that
// they ask for nothing those tables don't have.
func (l *loader) platform() {
	a := &l.s.Auth
	user, member := l.byName[a.UserEntity], l.byName[a.AccountUserEntity]
	var org *spec
	if member != nil {
		for _, f := range member.e.Fields {
			if f.Name == a.OrganizationField && f.Relation != nil && f.Relation.Kind == ManyToOne {
				org = l.byEntity[f.Relation.Target]
			}
		}
		if org == nil {
			l.ps.add(member.where, "it is the account-user entity, so it needs a ManyToOne relation whose foreign key is %q (auth.organizationField): its target is the organization", a.OrganizationField)
		}
	} else {
		org = l.byName["Organization"]
	}
	a.UserEntity, a.AccountUserEntity, a.OrganizationEntity = "", "", ""
	for _, p := range []struct {
		sp   *spec
		p    Platform
		name *string
	}{{user, Users, &a.UserEntity}, {org, Organizations, &a.OrganizationEntity}, {member, Memberships, &a.AccountUserEntity}} {
		switch {
		case p.sp == nil:
		case p.sp.e.Platform != NotPlatform:
			l.ps.add(p.sp.where, "it can't be both the platform's %s and its %s", platformTable[p.sp.e.Platform], platformTable[p.p])
		default:
			p.sp.e.Platform = p.p
			*p.name = p.sp.e.Name
			l.platformEntity(p.sp)
		}
	}
	// An ordinary entity whose derived table is a platform table (a schema's own User, without
	// an auth block) gets "app_" before it; a table the file names must be free (identifiers).
	for _, sp := range l.specs {
		if e := sp.e; e.Platform == NotPlatform && sp.tableWritten == "" && (slices.Contains(ownTables, e.Table) || isPlatformTable(e.Table)) {
			e.Table = "app_" + e.Table
		}
	}
	// The memberships table is keyed by (organization_id, user_id): nothing can reference it.
	for _, sp := range l.specs {
		for _, r := range sp.e.Relations {
			if (r.Field != nil || r.Kind == ManyToMany) && (r.Target.Platform == Memberships || r.Kind == ManyToMany && sp.e.Platform == Memberships) {
				l.ps.add(sp.where, "relation %q (%s): the platform's memberships table has no id to reference", r.Name, l.origin[r])
			}
		}
	}
}

// platformEntity checks platform entity sp and gives it the platform's table and columns.
func (l *loader) platformEntity(sp *spec) {
	e, a := sp.e, l.s.Auth
	table := platformTable[e.Platform]
	if sp.tableWritten != "" && sp.tableWritten != table {
		l.ps.add(sp.where, "table %q: it is the platform's %s table", sp.tableWritten, table)
	}
	if sp.keyWritten == "serial" {
		l.ps.add(sp.where, `primaryKeyType "serial": the platform's %s table is UUID-keyed`, table)
	}
	e.Table, e.Key = table, UUIDKey
	for _, k := range []string{"scopeBy", "scopeOptions", "scaleapi"} {
		if sp.obj.has(k) {
			l.ps.add(sp.where, "%q has no effect on a platform entity (the platform's %s table)", k, table)
		}
	}
	allowed := platformFields[e.Platform]
	if e.Platform == Memberships {
		allowed = []string{a.RoleField}
	}
	user := false // the memberships entity's foreign key to the users entity is user_id
	for _, f := range e.Fields {
		w := fmt.Sprintf("%s field %q", sp.where, f.Name)
		switch {
		case f.Relation != nil && e.Platform == Memberships && f.Name == a.OrganizationField:
			f.Column = "organization_id"
		case f.Relation != nil && e.Platform == Memberships && f.Relation.Target.Name == a.UserEntity && !user:
			f.Column, user = "user_id", true
		case f.Relation != nil:
			l.ps.add(sp.where, "relation %q (%s): its foreign key %q would be a column of the platform's %s table, which has none; declare the relationship from the other side",
				f.Relation.Name, l.origin[f.Relation], f.Name, table)
		case !contains(allowed, f.Name):
			l.ps.add(w, "the platform's %s table has no such column; the entity may declare only %s", table, strings.Join(allowed, ", "))
		case e.Platform != Memberships && f.Type != Text:
			l.ps.add(w, "must be text, as the platform's %s.%s is", table, f.Name)
		case e.Platform == Memberships && (f.Type != Enum || slices.ContainsFunc(f.Values, func(v string) bool { return !contains(platformRoles, v) })):
			l.ps.add(w, "must be an enum of owner, admin and member (or fewer), as the platform's memberships.role is")
		case e.Platform == Memberships:
			f.Column = "role"
		}
	}
}

// keyTypes gives every foreign key its target's key type.
func (l *loader) keyTypes() {
	for _, e := range l.s.Entities {
		for _, f := range e.Fields {
			if f.Relation != nil {
				f.Type = keyType(f.Relation.Target)
			}
		}
	}
}

func keyType(e *Entity) Type {
	if e.Key == SerialKey {
		return BigInt
	}
	return UUID
}

// scopes resolves every served entity's scopeBy (["organizationId"] when absent) to the field
// that holds its organization's id.
func (l *loader) scopes() {
	org := l.byName[l.s.Auth.OrganizationEntity]
	// First the entities that hold the id themselves without declaring it get the implicit
	// field, so that another entity's scope path may end at it.
	for _, sp := range l.specs {
		if sp.e.Platform != NotPlatform {
			continue
		}
		if _, declared := sp.e.Field("organizationId"); !declared && (sp.scopeBy == nil || contains(sp.scopeBy, "organizationId")) {
			l.implicit(sp, org)
		}
	}
	orgName := "the organization"
	if org != nil {
		orgName = org.e.Name
	}
	for _, sp := range l.specs {
		if sp.e.Platform != NotPlatform {
			continue
		}
		paths := sp.scopeBy
		if paths == nil {
			paths = []string{"organizationId"}
		}
		for _, p := range paths {
			rels, f, msg := l.scopePath(sp.e, org, orgName, p)
			switch {
			case msg != "" && sp.scopeBy == nil:
				l.ps.add(sp.where, "field %q %s: an entity without scopeBy is scoped by its organizationId; declare scopeBy, or make organizationId the foreign key to %s", p, msg, orgName)
			case msg != "":
				l.ps.add(sp.where, "scopeBy %q %s", p, msg)
			case sp.e.Scope.Field == nil || len(rels) < len(sp.e.Scope.Path):
				// Every path leads to the same organization: the shortest costs the fewest joins.
				sp.e.Scope.Path, sp.e.Scope.Field = rels, f
			}
		}
	}
}

// implicit adds organizationId, and its relation when the schema declares the organization
// entity, to sp.
func (l *loader) implicit(sp *spec, org *spec) {
	f := &Field{Name: "organizationId", Column: "organization_id", Type: UUID, Implicit: true}
	if org != nil {
		r := &Relation{Name: "organization", Kind: ManyToOne, Target: org.e, Field: f}
		f.Relation = r
		sp.e.Relations = append(sp.e.Relations, r)
		l.origin[r] = "implicit: the organization scope"
	}
	sp.e.Fields = append(sp.e.Fields, f)
}

// scopePath walks scope path p from e: ManyToOne relations (by name, or by foreign key name)
// to the field that holds the organization's id. msg says why it doesn't get there.
func (l *loader) scopePath(e *Entity, org *spec, orgName, p string) (rels []*Relation, f *Field, msg string) {
	segs := strings.Split(p, ".")
	for _, seg := range segs[:len(segs)-1] {
		i := slices.IndexFunc(e.Relations, func(r *Relation) bool {
			return r.Field != nil && (r.Name == seg || r.Field.Name == seg)
		})
		if i < 0 {
			return nil, nil, fmt.Sprintf("does not lead to %s: entity %q has no ManyToOne relation %q", orgName, e.Name, seg)
		}
		rels = append(rels, e.Relations[i])
		e = e.Relations[i].Target
	}
	f, ok := e.Field(segs[len(segs)-1])
	switch {
	case !ok:
		return nil, nil, fmt.Sprintf("does not lead to %s: entity %q has no field %q", orgName, e.Name, segs[len(segs)-1])
	case !f.Implicit && (f.Relation == nil || org == nil || f.Relation.Target != org.e):
		return nil, nil, fmt.Sprintf("does not lead to %s; scaleapi scopes by the organization", orgName)
	case f.Nullable || slices.ContainsFunc(rels, func(r *Relation) bool { return r.Nullable }):
		return nil, nil, "may be null: every row of a scoped entity must belong to an organization"
	}
	return rels, f, ""
}

// collisions checks that no two of an entity's fields and relations share a name or a column,
// and that no two entities share a path or a noun.
func (l *loader) collisions() {
	paths, nouns := map[string]string{}, map[string]string{}
	for _, sp := range l.specs {
		e := sp.e
		if other, dup := nouns[e.Noun]; dup {
			l.ps.add(sp.where, "entity %q has the same lower-case name: their cache keys would collide", other)
		} else if other, dup := paths[e.Path]; dup {
			l.ps.add(sp.where, "its path %q is entity %q's too", e.Path, other)
		}
		nouns[e.Noun], paths[e.Path] = e.Name, e.Name
		names, columns := map[string]string{}, map[string]string{}
		claim := func(m map[string]string, key, what, format string) {
			if other, dup := m[key]; dup {
				l.ps.add(sp.where, format, other, what, key)
				return
			}
			m[key] = what
		}
		for _, f := range e.Fields {
			what := l.describeField(f)
			claim(names, f.Name, what, "%s and %s have the same name %q")
			claim(columns, f.Column, what, "%s and %s have the same column %q")
		}
		for _, r := range e.Relations {
			what := fmt.Sprintf("relation %q (%s)", r.Name, l.origin[r])
			if engineNames[r.Name] {
				l.ps.add(sp.where, "%s: the engine adds %q", what, r.Name)
				continue
			}
			claim(names, r.Name, what, "%s and %s have the same name %q")
		}
	}
}

func (l *loader) describeField(f *Field) string {
	switch {
	case f.Implicit:
		return `the implicit field "organizationId" (the organization scope)`
	case f.Relation != nil:
		return fmt.Sprintf("foreign key %q of relation %q (%s)", f.Name, f.Relation.Name, l.origin[f.Relation])
	}
	return fmt.Sprintf("field %q", f.Name)
}

// indexes builds sp's indexes and unique constraints: the file's, then what the engine needs.
// A platform entity's are checked and dropped: the platform's tables have their own.
func (l *loader) indexes(sp *spec) {
	e := sp.e
	set := &indexSet{table: e.Table}
	for i, raw := range sp.obj.array("indexes") {
		w := fmt.Sprintf("%s index %d", sp.where, i+1)
		if o := readObject(&l.ps, w, raw); o != nil {
			o.check("fields", "unique")
			if cols, ok := l.indexColumns(w, e, o); ok {
				set.add(o.boolean("unique", false), "", cols)
			}
		}
	}
	for i, raw := range sp.obj.array("uniques") {
		w := fmt.Sprintf("%s unique %d", sp.where, i+1)
		if o := readObject(&l.ps, w, raw); o != nil {
			o.check("name", "fields")
			name, _ := o.str("name")
			if cols, ok := l.indexColumns(w, e, o); ok {
				set.add(true, name, cols)
			}
		}
	}
	for _, f := range e.Fields {
		if f.Unique {
			set.add(true, "", []string{f.Column})
		}
		if slices.Contains(sp.indexed, f) {
			set.add(false, "", []string{f.Column})
		}
	}
	for _, lk := range sp.links {
		if lk.index && lk.fk != nil {
			set.add(false, "", []string{lk.fk.Column})
		}
	}
	if e.Platform != NotPlatform {
		return
	}
	if e.Scope.Direct() {
		set.add(false, "", []string{e.Scope.Field.Column, "id"})
	}
	// Every foreign key leads an index: lookups by it, joins on it, and the ON DELETE of its
	// target must not scan.
	for _, f := range e.Fields {
		if (f.Relation != nil || f.Implicit) && !set.leads(f.Column) {
			set.add(false, "", []string{f.Column})
		}
	}
	e.Indexes, e.Uniques = set.idx, set.uni
}

// indexColumns resolves an index's fields (API names, or the engine's id, createdAt and
// updatedAt when the entity has them) to columns.
func (l *loader) indexColumns(w string, e *Entity, o *object) ([]string, bool) {
	names, ok := o.strs("fields")
	if ok && len(names) == 0 || !o.has("fields") {
		l.ps.add(w, `"fields" must name at least one field`)
		ok = false
	}
	var cols []string
	for _, n := range names {
		var col string
		f, found := e.Field(n)
		switch {
		case found:
			col = f.Column
		case n == "id":
			col = "id"
		case n == "createdAt" && e.CreatedAt:
			col = "created_at"
		case n == "updatedAt" && e.UpdatedAt:
			col = "updated_at"
		default:
			l.ps.add(w, "unknown field %q", n)
			ok = false
			continue
		}
		if slices.Contains(cols, col) {
			l.ps.add(w, "field %q appears twice", n)
			ok = false
		}
		cols = append(cols, col)
	}
	return cols, ok
}

// indexSet is an entity's indexes and unique constraints being built.
type indexSet struct {
	table    string
	idx, uni []Index
}

// add adds an index (a unique constraint with unique), named <table>_<columns>_idx (_key) when
// name is "", unless one on the same columns is there already.
func (s *indexSet) add(unique bool, name string, cols []string) {
	same := func(x Index) bool { return slices.Equal(x.Columns, cols) }
	if slices.ContainsFunc(s.uni, same) || !unique && slices.ContainsFunc(s.idx, same) {
		return
	}
	list, suffix := &s.idx, "idx"
	if unique {
		list, suffix = &s.uni, "key"
	}
	if name == "" {
		name = objectName(suffix, append([]string{s.table}, cols...)...)
	}
	*list = append(*list, Index{Name: name, Columns: cols})
}

// leads reports whether an index or unique constraint of s starts with column col.
func (s *indexSet) leads(col string) bool {
	first := func(x Index) bool { return x.Columns[0] == col }
	return slices.ContainsFunc(s.idx, first) || slices.ContainsFunc(s.uni, first)
}

// ownTables are the tables of the platform's migrations besides platformTable's.
var ownTables = []string{"cache_epoch", "goose_db_version"}

// isPlatformTable reports whether t is one of platformTable's.
func isPlatformTable(t string) bool {
	for _, p := range platformTable {
		if p == t {
			return true
		}
	}
	return false
}

// identifiers checks every name the DDL will write: plain identifiers, tables and indexes
// unique in the database's namespace, constraints unique in their table.
func (l *loader) identifiers() {
	space := map[string]string{}
	for _, t := range platformTable {
		space[t] = "the platform's " + t + " table"
	}
	for _, t := range ownTables {
		space[t] = "the platform's " + t + " table"
	}
	claim := func(where, name, what string) {
		if other, dup := space[name]; dup {
			l.ps.add(where, "%s %q is also %s", what, name, other)
			return
		}
		space[name] = fmt.Sprintf("%s of %s", what, where)
	}
	for _, sp := range l.specs {
		for _, lk := range sp.links {
			if lk.kind == ManyToMany {
				l.joinTable(lk, claim)
			}
		}
		e := sp.e
		if e.Platform != NotPlatform {
			continue
		}
		if msg := identProblem(e.Table); msg != "" {
			l.ps.add(sp.where, `table %q %s; set "table" to another name`, e.Table, msg)
		}
		claim(sp.where, e.Table, "table")
		constraints := map[string]bool{}
		for _, f := range e.Fields {
			if msg := identProblem(f.Column); msg != "" {
				l.ps.add(sp.where, "%s: column %q %s; rename it", l.describeField(f), f.Column, msg)
			}
			if f.Type == Enum {
				constraints[checkName(e.Table, f.Column)] = true
			}
			if f.Relation != nil || f.Implicit {
				constraints[fkeyName(e.Table, f.Column)] = true
			}
		}
		for _, x := range slices.Concat(e.Indexes, e.Uniques) {
			if msg := identProblem(x.Name); msg != "" {
				l.ps.add(sp.where, "index or unique %q %s", x.Name, msg)
			}
			claim(sp.where, x.Name, "index")
		}
		for _, u := range e.Uniques {
			if constraints[u.Name] {
				l.ps.add(sp.where, "unique %q has the name of another constraint of the table", u.Name)
			}
		}
	}
}

// joinTable checks a ManyToMany's join table and columns.
func (l *loader) joinTable(lk *link, claim func(where, name, what string)) {
	for _, n := range []string{lk.joinTable, lk.joinCol, lk.invCol} {
		if msg := identProblem(n); msg != "" {
			l.ps.add(lk.where, "join table name or column %q %s; set joinTableName, joinColumnName or inverseJoinColumnName", n, msg)
		}
	}
	if lk.joinCol == lk.invCol {
		l.ps.add(lk.where, "both join columns are %q; set joinColumnName and inverseJoinColumnName", lk.joinCol)
	}
	claim(lk.where, lk.joinTable, "join table")
	claim(lk.where, joinIndexName(lk.joinTable, lk.invCol), "index")
}
