package resource

import (
	"strconv"
	"strings"

	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/query"
)

// The engine's SQL is built once per entity, from the schema's identifiers only (validated
// plain identifiers, see apsorc), when the engine starts; the statements that depend on which
// fields a PATCH names are built per request from the same identifiers. Every value is a bound
// parameter, sent as text and cast to its column's type, so the statement text never depends
// on a value and the pgx exec mode (see package db) needs no statement description.

// ref names a column of a row: "t.col" for a table's alias, or a parameter for a value that
// is about to be written.
type ref func(column string) string

// aliased returns the ref of the columns of alias.
func aliased(alias string) ref { return func(c string) string { return alias + "." + c } }

// sqlType is the PostgreSQL type a field's text value is cast to.
func sqlType(f *apsorc.Field) string {
	switch f.Type {
	case apsorc.Text, apsorc.Enum:
		return "text"
	case apsorc.Integer:
		return "integer"
	case apsorc.Boolean:
		return "boolean"
	case apsorc.Float:
		return "double precision"
	case apsorc.Decimal:
		return "numeric"
	case apsorc.Date:
		return "date"
	case apsorc.Timestamptz:
		return "timestamptz"
	case apsorc.JSON:
		return "jsonb"
	case apsorc.UUID:
		return "uuid"
	case apsorc.BigInt:
		return "bigint"
	}
	panic("resource: unknown schema type")
}

// idType is the SQL type of e's key.
func idType(e *apsorc.Entity) string {
	if e.Key == apsorc.SerialKey {
		return "bigint"
	}
	return "uuid"
}

// orgOf is the SQL of the organization of e's row whose columns r names: its own scope column,
// or the scope column at the end of its scope path, reached through the path's foreign keys
// (one subquery, on the targets' primary keys).
func orgOf(e *apsorc.Entity, r ref) string {
	sc := e.Scope
	if sc.Direct() {
		return r(sc.Field.Column)
	}
	var b strings.Builder
	n := len(sc.Path)
	last := "s" + strconv.Itoa(n)
	b.WriteString("(SELECT " + last + "." + sc.Field.Column + " FROM ")
	for i, rel := range sc.Path {
		a := "s" + strconv.Itoa(i+1)
		if i == 0 {
			b.WriteString(rel.Target.Table + " " + a)
			continue
		}
		prev := "s" + strconv.Itoa(i)
		b.WriteString(" JOIN " + rel.Target.Table + " " + a + " ON " + a + ".id = " + prev + "." + rel.Field.Column)
	}
	b.WriteString(" WHERE s1.id = " + r(sc.Path[0].Field.Column) + ")")
	return b.String()
}

// roles lists the roles at least min, as an SQL list.
func roles(min auth.Role) string {
	switch min {
	case auth.RoleOwner:
		return "('owner')"
	case auth.RoleAdmin:
		return "('owner', 'admin')"
	}
	return "('owner', 'admin', 'member')"
}

// memberOf is the SQL that holds when the user (parameter user) has at least min in org, a
// live organization (a deleted one's rows are nobody's to write, as they are nobody's to read):
// the migrations' scaleapi_member_role, whose plan each server connection keeps (see
// 00009_member_role.sql), TRUE or FALSE, never NULL.
func memberOf(org, user string, min auth.Role) string {
	return "(scaleapi_member_role(" + org + ", " + user + ") IN " + roles(min) + ") IS TRUE"
}

// check is one condition a written row must meet, with the field a failure is reported on.
type check struct {
	field   string // "" for the membership guard (a 404), else the foreign key
	sql     string
	message string
	hidden  bool // a failure is a 404 naming the field (a row that isn't the caller's), else a 422
	// visible, for a hidden check, holds when the row referenced is live and the caller's to
	// see (in another of their organizations): its failure is then a 422, not a 404.
	visible string
	// target and value, for a hidden check, are the entity referenced and the SQL of the key
	// written: with several shards, a row of another of the caller's organizations may be on
	// another shard, which visible can't see (model.failed looks there).
	target *apsorc.Entity
	value  string
}

// checks are the conditions a row of e about to be written (columns r, organization org) must
// meet: the writer is a member of the organization, and each foreign key in fks points at a
// live row of the same organization (a user who is a member of it, for a reference to the
// user entity). A reference to a row that is missing, deleted or another tenant's is a 404
// naming the field, as for the row itself; a user who isn't a member is a 422. The references are locked FOR SHARE, so a concurrent delete of the target
// waits for the write or the write sees the target gone.
func checks(e *apsorc.Entity, r ref, org, user string, fks []*apsorc.Field) []check {
	cs := []check{{sql: memberOf(org, user, auth.RoleMember)}}
	for _, f := range fks {
		t := f.Relation.Target
		v := r(f.Column)
		var cond, msg, visible string
		switch t.Platform {
		case apsorc.Users:
			cond = "EXISTS (SELECT 1 FROM memberships x WHERE x.user_id = " + v + " AND x.organization_id = " + org + ")"
			msg = "must be a member of the organization"
		case apsorc.Organizations:
			if f == e.Scope.Field {
				continue // the membership guard is the check
			}
			cond = v + " = " + org
			msg = "must be the entity's own organization"
		default:
			live := ""
			if t.Options.SoftDelete {
				live = " AND x.deleted_at IS NULL"
			}
			same := " AND " + orgOf(t, aliased("x")) + " = " + org
			if len(e.Scope.Path) > 0 && e.Scope.Path[0].Field == f {
				same = "" // the entity's organization is the target's by definition
			}
			cond = "EXISTS (SELECT 1 FROM " + t.Table + " x WHERE x.id = " + v + live + same + " FOR SHARE OF x)"
			msg = t.Noun + " not found"
			visible = "EXISTS (SELECT 1 FROM " + t.Table + " x WHERE x.id = " + v + live + " AND " +
				memberOf(orgOf(t, aliased("x")), user, auth.RoleMember) + ")"
		}
		if f.Nullable {
			cond = "(" + v + " IS NULL OR " + cond + ")"
		}
		c := check{field: f.Name, sql: cond, message: msg, visible: visible}
		if t.Platform == apsorc.NotPlatform {
			c.hidden, c.target, c.value = true, t, v
		}
		cs = append(cs, c)
	}
	return cs
}

// all is the conjunction of cs.
func all(cs []check) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.sql
	}
	return strings.Join(parts, " AND ")
}

// each is cs as a boolean array, for explaining which failed: each check's condition and
// then its visible one (TRUE when it has none). See failed.
func each(cs []check) string {
	parts := make([]string, 0, 2*len(cs))
	for _, c := range cs {
		v := c.visible
		if v == "" {
			v = "TRUE"
		}
		parts = append(parts, c.sql, v)
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]"
}

// referenced is the key each hidden check of cs references, as text (empty for the other
// checks and for a null reference), for model.failed.
func referenced(cs []check) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = "''"
		if c.hidden {
			parts[i] = "coalesce((" + c.value + ")::text, '')"
		}
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]::text[]"
}

// item is the JSON of a row of m's table under alias, as a GET answers it.
func (m *model) item(alias string) string {
	var args query.Args
	return m.plain.Item(alias, &args)
}
