package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices/devtest"
)

// TestIndexesServeQueries checks that each index matches the query its comment names: with
// sequential scans priced out, the planner answers each query from that index, and keyset pages
// come off the index already ordered (no Sort). It guards against an index whose columns or
// predicate drift away from the query it was made for.
func TestIndexesServeQueries(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx := context.Background()
	c := connect(t, d.PrimaryURL)

	// Realistic proportions matter: with one organization and one assignee every partial index
	// matches every row and the planner's choice among them is arbitrary. Here 20 organizations
	// share 2000 tasks, 40 users, most tasks are done and some are deleted.
	seed := []string{
		`INSERT INTO organizations (id, name) SELECT gen_random_uuid(), 'o' || i FROM generate_series(1, 20) i`,
		`INSERT INTO users (id, email, name, password_hash)
			SELECT gen_random_uuid(), 'u' || i || '@example.com', 'u', 'x' FROM generate_series(1, 40) i`,
		`INSERT INTO memberships (organization_id, user_id, role)
			SELECT o.id, u.id, 'member' FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM organizations) o
			JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM users) u ON u.n % 20 = o.n % 20`,
		`INSERT INTO projects (id, organization_id, name) SELECT gen_random_uuid(), id, 'p' FROM organizations`,
		`INSERT INTO tasks (id, project_id, organization_id, title, status, assignee_id, due_date, deleted_at)
			SELECT gen_random_uuid(), p.id, p.organization_id, 't' || i,
				CASE WHEN i % 10 < 7 THEN 'done' ELSE 'todo' END,
				(SELECT id FROM users ORDER BY id OFFSET (i + p.n) % 40 LIMIT 1),
				current_date + (i % 30) - 15,
				CASE WHEN i % 10 = 0 THEN now() END
			FROM (SELECT id, organization_id, row_number() OVER () n FROM projects) p, generate_series(1, 100) i`,
		// Then 30 more projects in each organization, without tasks: with one project an
		// organization, a keyset cursor near the top of the id range let the planner walk the
		// primary key and filter by organization as cheaply as using the organization's index.
		`INSERT INTO projects (id, organization_id, name) SELECT gen_random_uuid(), id, 'q' FROM organizations, generate_series(1, 30)`,
		`ANALYZE`,
		`SET enable_seqscan = off`,
		// And bitmap scans too, so that an index that covers its query shows as an Index Only
		// Scan (which the indexOnly cases require) rather than as a bitmap heap visit.
		`SET enable_bitmapscan = off`,
	}
	for _, s := range seed {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	// :project has tasks; :cursor is the organization's first project id, so a page after it
	// holds the rest of the organization's projects.
	var org, user, project, cursor uuid.UUID
	if err := c.QueryRow(ctx, `SELECT p.organization_id, p.id, m.user_id,
			(SELECT id FROM projects WHERE organization_id = p.organization_id ORDER BY id LIMIT 1)
		FROM projects p JOIN memberships m USING (organization_id)
		WHERE EXISTS (SELECT FROM tasks WHERE project_id = p.id) LIMIT 1`).Scan(&org, &project, &user, &cursor); err != nil {
		t.Fatal(err)
	}
	ids := strings.NewReplacer(":org", "'"+org.String()+"'", ":user", "'"+user.String()+"'",
		":project", "'"+project.String()+"'", ":cursor", "'"+cursor.String()+"'")

	cases := []struct {
		index  string
		query  string
		sorted bool // rows must come off the index in order, with no Sort node
		// indexOnly: the index holds every column the query reads, so once the table is
		// vacuumed the query never visits the heap (the report's aggregates over 1,000s of rows).
		indexOnly bool
	}{
		{"projects_live_keyset_idx", `SELECT id FROM projects WHERE organization_id = :org AND deleted_at IS NULL
			AND (created_at, id) > ('2000-01-01', :project) ORDER BY created_at, id LIMIT 20`, true, false},
		{"projects_organization_id_id_key", `SELECT id FROM projects WHERE organization_id = :org
			AND id > :cursor ORDER BY id LIMIT 20`, true, false},
		{"projects_organization_id_status_idx", `SELECT count(*) FROM projects WHERE organization_id = :org AND status = 'active'`, false, false},
		{"tasks_project_live_keyset_idx", `SELECT id FROM tasks WHERE project_id = :project AND deleted_at IS NULL
			AND (created_at, id) > ('2000-01-01', :project) ORDER BY created_at, id LIMIT 20`, true, false},
		{"tasks_project_id_idx", `SELECT id FROM tasks WHERE project_id = :project AND deleted_at IS NOT NULL`, false, false},
		{"tasks_assignee_live_idx", `SELECT id FROM tasks WHERE assignee_id = :user AND deleted_at IS NULL`, false, false},
		{"projects_organization_status_live_idx", `SELECT status, count(*) FROM projects WHERE organization_id = :org
			AND deleted_at IS NULL GROUP BY status`, false, true},
		{"tasks_organization_status_live_idx", `SELECT status, count(*) FROM tasks WHERE organization_id = :org
			AND deleted_at IS NULL GROUP BY status`, false, true},
		{"tasks_organization_overdue_idx", `SELECT count(*) FROM tasks WHERE organization_id = :org
			AND due_date < current_date AND status <> 'done' AND deleted_at IS NULL`, false, true},
		{"memberships_user_id_idx", `SELECT organization_id, role FROM memberships WHERE user_id = :user`, false, false},
		{"users_email_key", `SELECT id FROM users WHERE email = 'u@example.com'`, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.index, func(t *testing.T) {
			q := ids.Replace(tc.query)
			rows, err := c.Query(ctx, "EXPLAIN "+q, pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			if !strings.Contains(plan, " using "+tc.index+" ") && !strings.Contains(plan, " on "+tc.index+"\n") &&
				!strings.Contains(plan, " on "+tc.index+" ") && !strings.HasSuffix(plan, " on "+tc.index) {
				t.Errorf("plan does not use %s:\n%s", tc.index, plan)
			}
			if tc.indexOnly && !strings.Contains(plan, "Index Only Scan using "+tc.index+" ") {
				t.Errorf("plan is not an index-only scan of %s:\n%s", tc.index, plan)
			}
			if tc.sorted && strings.Contains(plan, "Sort") {
				t.Errorf("plan sorts instead of reading the index in order:\n%s", plan)
			}
		})
	}
}
