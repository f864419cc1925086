package query_test

import (
	"fmt"
	"net/http/httptest"

	"scaleapi/shared/query"
)

// projects is how a domain package declares its allow-list: once, at package level.
var projects = query.NewSchema("projects",
	query.Field{Name: "organizationId", Column: "organization_id", Type: query.UUID},
	query.Field{Name: "name", Column: "name", Type: query.Text},
	query.Field{Name: "description", Column: "description", Type: query.Text, Nullable: true},
	query.Field{Name: "status", Column: "status", Type: query.Enum, Values: []string{"planning", "active", "on_hold", "completed", "archived"}},
	query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz},
	query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz},
	query.Field{Name: "version", Column: "version", Type: query.Int},
)

var tasks = query.NewSchema("tasks",
	query.Field{Name: "projectId", Column: "project_id", Type: query.UUID},
	query.Field{Name: "title", Column: "title", Type: query.Text},
	query.Field{Name: "status", Column: "status", Type: query.Enum, Values: []string{"todo", "in_progress", "done"}},
)

func init() {
	projects.Join(query.Relation{Name: "tasks", Many: true, Schema: tasks, Local: "id", Foreign: "project_id", DeletedAt: "deleted_at"})
}

// A store lists projects: ParseRequest in the handler (a *fault.Error 400 on bad input), then
// Build with the store's own tenant scope, whose values come first ($1), then run List (and
// Count when the page can't tell the total), and ReadPage. In a store:
//
//	st := q.Build(query.Scope{Alias: "p", Where: scope, Args: []any{orgIDs}})
//	rows, err := pool.Query(ctx, st.List, st.ListArgs...)
//	if err != nil { ... }
//	page, err := q.ReadPage(rows) // closes rows
//	if err != nil { ... }
//	if page.NeedsTotal() {
//		var total int64
//		if err := pool.QueryRow(ctx, st.Count, st.CountArgs...).Scan(&total); err != nil { ... }
//		page.SetTotal(total)
//	}
//	return page, nil // q.Respond(w.Header(), page's JSON) is the response
func Example() {
	r := httptest.NewRequest("GET", "/projects?filter=status||$in||active,planning&or=name||$contL||apollo&sort=createdAt,DESC&limit=10&page=2&fields=name&join=tasks||title", nil)
	q, err := query.ParseRequest(r, projects)
	if err != nil {
		fmt.Println(err)
		return
	}
	st := q.Build(query.Scope{
		Alias: "p",
		Where: "p.organization_id = ANY($1) AND p.deleted_at IS NULL",
		Args:  []any{[]string{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}},
	})
	fmt.Println(st.List)
	fmt.Println(st.ListArgs[1:])
	fmt.Println(st.Count)
	// Output:
	// SELECT json_build_object('id', p.id, 'name', p.name, 'tasks', (SELECT coalesce(json_agg(json_build_object('id', p_j0.id, 'title', p_j0.title) ORDER BY p_j0.id), '[]'::json) FROM tasks p_j0 WHERE p_j0.project_id = p.id AND p_j0.deleted_at IS NULL)) AS item, NULL::json AS key FROM projects p WHERE (p.organization_id = ANY($1) AND p.deleted_at IS NULL) AND (p.status = ANY($2::text[]) OR lower(p.name COLLATE "und-x-icu") LIKE lower($3::text COLLATE "und-x-icu") ESCAPE '\') ORDER BY p.created_at DESC NULLS FIRST, p.id DESC NULLS FIRST LIMIT $4 OFFSET $5
	// [[active planning] %apollo% 10 10]
	// SELECT count(*) FROM projects p WHERE (p.organization_id = ANY($1) AND p.deleted_at IS NULL) AND (p.status = ANY($2::text[]) OR lower(p.name COLLATE "und-x-icu") LIKE lower($3::text COLLATE "und-x-icu") ESCAPE '\')
}

// In cursor mode the first page asks with an empty cursor; each page's nextCursor asks for the
// next, with the same sort. The keyset condition replaces OFFSET.
func Example_cursor() {
	q, _ := query.ParseRequest(httptest.NewRequest("GET", "/projects?sort=createdAt,ASC&limit=2&cursor=", nil), projects)
	fmt.Println(q.Build(query.Scope{Alias: "p"}).List)
	// Output:
	// SELECT json_build_object('id', p.id, 'organizationId', p.organization_id, 'name', p.name, 'description', p.description, 'status', p.status, 'createdAt', rtrim(rtrim(to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z', 'updatedAt', rtrim(rtrim(to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z', 'version', p.version) AS item, json_build_array(p.created_at, p.id) AS key FROM projects p WHERE TRUE ORDER BY p.created_at ASC NULLS LAST, p.id ASC NULLS LAST LIMIT $1
}
