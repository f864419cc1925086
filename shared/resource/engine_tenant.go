package resource

import (
	"scaleapi/shared/apsorc"
)

// TenantTable is one table of an organization's rows: the entities' tables and their
// ManyToMany join tables, for moving an organization between shards.
type TenantTable struct {
	// Table is the table's name.
	Table string
	// Of is the condition on alias t that selects organization $1's rows.
	Of string
	// Key is the table's primary key columns.
	Key []string
}

// TenantTables returns the tables holding an organization's rows, every table after those its
// rows reference (copy in this order, delete in the reverse). The engine's entities only:
// the platform's tables (organizations, memberships, users) are the organization package's.
func (eng *Engine) TenantTables() []TenantTable {
	var out []TenantTable
	done := map[*model]bool{}
	var visit func(m *model)
	visit = func(m *model) {
		if done[m] {
			return
		}
		done[m] = true
		for _, f := range m.e.Fields {
			if r := f.Relation; r != nil && r.Target != m.e {
				if t, ok := m.all[r.Target]; ok {
					visit(t)
				}
			}
		}
		out = append(out, TenantTable{Table: m.e.Table, Of: orgOf(m.e, aliased("t")) + " = $1::uuid", Key: []string{"id"}})
	}
	for _, m := range eng.models {
		visit(m)
	}
	seen := map[string]bool{}
	for _, m := range eng.models {
		for _, r := range m.e.Relations {
			if r.Kind != apsorc.ManyToMany || r.JoinTable == "" || seen[r.JoinTable] {
				continue
			}
			if _, ok := m.all[r.Target]; !ok {
				continue
			}
			seen[r.JoinTable] = true
			out = append(out, TenantTable{Table: r.JoinTable,
				Of:  "EXISTS (SELECT 1 FROM " + m.e.Table + " a WHERE a.id = t." + r.JoinColumn + " AND " + orgOf(m.e, aliased("a")) + " = $1::uuid)",
				Key: []string{r.JoinColumn, r.InverseJoinColumn}})
		}
	}
	return out
}
