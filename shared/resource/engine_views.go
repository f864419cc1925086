package resource

import (
	"slices"

	"scaleapi/shared/apsorc"
	"scaleapi/shared/cache"
	"scaleapi/shared/query"
)

// An entity's views (GET /{path}/{id}?fields=…&join=…) that join only its children, the rows
// of its OneToMany relations (a project's tasks), are cached under the entity's own view scope,
// cache.ViewScope, instead of its organization's: they change only when the entity or one
// of its children does, so the other writes of the organization leave them cached. Every write
// of an entity bumps its own view scope and its parents' (a task's project's), both the old
// and the new parent when a write moves it. A view with any other join stays under the
// organization's scope.

// childJoins are the relations of m whose rows are its children: OneToMany relations whose
// foreign key is on an entity the engine serves.
func (m *model) childJoins(byEntity map[*apsorc.Entity]*model) []string {
	var joins []string
	for _, r := range m.e.Relations {
		if r.Kind == apsorc.OneToMany && r.Inverse != nil && r.Inverse.Field != nil && byEntity[r.Target] != nil {
			joins = append(joins, r.Name)
		}
	}
	return joins
}

// parentKeys are m's foreign keys to parents whose views show m's rows: ManyToOne relations
// whose inverse is a OneToMany of an entity the engine serves.
func (m *model) parentKeys(byEntity map[*apsorc.Entity]*model) []*apsorc.Field {
	var fks []*apsorc.Field
	for _, f := range m.e.Fields {
		r := f.Relation
		if r != nil && r.Kind == apsorc.ManyToOne && r.Inverse != nil && r.Inverse.Kind == apsorc.OneToMany && byEntity[r.Target] != nil {
			fks = append(fks, f)
		}
	}
	return fks
}

// ownView reports whether q's view is cached under the entity's own view scope.
func (m *model) ownView(q *query.Query) bool {
	for _, j := range q.Joins() {
		if !slices.Contains(m.viewJoins, j) {
			return false
		}
	}
	return true
}

// parentColumns are the SQL of the parent keys of a written row t as text, for a RETURNING
// list: the new values, and, with old, also the values before the statement (a subquery in
// RETURNING reads the statement's snapshot, so it sees the row as it was).
func (m *model) parentColumns(old bool) string {
	var s string
	for _, f := range m.parents {
		s += ", t." + f.Column + "::text"
		if old {
			s += ", (SELECT o." + f.Column + "::text FROM " + m.e.Table + " o WHERE o.id = t.id)"
		}
	}
	return s
}

// views are the view scopes a write of entity id changes: its own and those of the parents
// named by parents (values of parentColumns; NULLs skipped).
func (m *model) views(id string, parents []*string) []string {
	scopes := []string{cache.ViewScope(m.e.Noun, id)}
	for i, p := range parents {
		if p == nil {
			continue
		}
		per := len(parents) / len(m.parents) // 1, or 2 with the old values
		f := m.parents[i/per]
		if s := cache.ViewScope(f.Relation.Target.Noun, *p); !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes
}
