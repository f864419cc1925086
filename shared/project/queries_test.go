package project_test

import (
	"fmt"
	"net/http"
	"testing"

	rt "scaleapi/shared/resource/resourcetest"
)

// TestJoinIsOneStatement counts the statements a list with join=tasks runs: the same for a page
// of 1 project as for a page of 100, each with its tasks (no N+1).
func TestJoinIsOneStatement(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	var projects []projectJSON
	app.Do(alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: bulkBody(100, func(i int) string {
		return fmt.Sprintf(`{"organizationId":"%s","name":"p%d"}`, org, i)
	})}).Expect(t, http.StatusCreated, "projects").JSON(t, &projects)
	app.Project(t, alice, org, "one more") // so that a page of 100 is full and needs a count
	for round := range 2 {
		app.Do(alice, rt.Request{Method: "POST", Path: "/tasks/bulk", Body: bulkBody(100, func(i int) string {
			return fmt.Sprintf(`{"projectId":"%s","title":"t%d"}`, projects[i].ID, round)
		})}).Expect(t, http.StatusCreated, "tasks")
	}

	count := func(query string, wantItems int) int64 {
		t.Helper()
		before := app.Queries()
		page := app.List(t, alice, "/projects?cache=0&join=tasks&"+query)
		n := app.Queries() - before
		if len(page.Data) != wantItems {
			t.Fatalf("%s: %d items, want %d", query, len(page.Data), wantItems)
		}
		for _, p := range page.Data {
			if p.Name != "one more" && len(p.Tasks) != 2 {
				t.Fatalf("%s: project %s has %d tasks joined, want 2", query, p.Name, len(p.Tasks))
			}
		}
		return n
	}
	for _, mode := range []struct{ name, one, hundred string }{
		{"Offset", "limit=1", "limit=100"},
		{"Cursor", "cursor=&limit=1", "cursor=&limit=100"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			one, hundred := count(mode.one, 1), count(mode.hundred, 100)
			// cache=0 reads everything fresh, the caller's memberships included: at most
			// memberships, list and count.
			if one != hundred || hundred > 3 {
				t.Fatalf("1 row: %d statements, 100 rows: %d (want equal, at most 3)", one, hundred)
			}
		})
	}
}
