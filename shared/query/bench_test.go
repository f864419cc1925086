package query

import "testing"

// typicalList is a list query as a dashboard sends it: two filters, a case-insensitive search,
// a sort, a page, a field selection and a join.
const typicalList = "filter=status||$in||active,planning&filter=createdAt||$gte||2024-01-01T00:00:00Z" +
	"&filter=name||$contL||apo&sort=createdAt,DESC&limit=20&page=2&fields=name,status,createdAt&join=tasks||title,status"

func BenchmarkParse(b *testing.B) {
	r := request(typicalList)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(r, testProjects); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseBuild is the whole per-request cost: parse, then render the statement.
func BenchmarkParseBuild(b *testing.B) {
	r := request(typicalList)
	scope := Scope{Alias: "p", Where: "p.organization_id = ANY($1) AND p.deleted_at IS NULL", Args: []any{[]string{id1}}}
	b.ReportAllocs()
	for b.Loop() {
		q, err := ParseRequest(r, testProjects)
		if err != nil {
			b.Fatal(err)
		}
		_ = q.Build(scope)
	}
}
