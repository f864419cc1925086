package domain_test

import (
	"fmt"
	"net/http"
	"strings"
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

// TestListQuerySyntax runs issue 10's list query syntax through the projects and tasks
// routes, the cache included: sorting on every field, null in s, filters on joined relations,
// Unicode case folding, text that isn't text, and the PostgREST dialect.
func TestListQuerySyntax(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	apollo := app.Project(t, alice, org, "Apollo")
	zeta := app.Project(t, alice, org, "Zeta")
	echelle := app.Project(t, alice, org, "ÉCHELLE")
	app.Do(alice, rt.Request{Method: "PATCH", Path: "/projects/" + zeta.String(), Body: `{"description":"the last"}`}).Expect(t, http.StatusOK, "describe")
	todo := app.Task(t, alice, apollo, "todo")
	done := app.Task(t, alice, apollo, "done")
	app.Do(alice, rt.Request{Method: "PATCH", Path: "/tasks/" + done.String(), Body: `{"status":"done"}`}).Expect(t, http.StatusOK, "finish")
	app.Task(t, alice, zeta, "other")

	names := func(p rt.Page) string {
		var out []string
		for _, it := range p.Data {
			out = append(out, it.Name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct{ path, want string }{
		{"/projects?sort=description,ASC&sort=name,DESC", "Zeta,ÉCHELLE,Apollo"}, // NULLs last with ASC
		{"/projects?sort=description,DESC&sort=name,ASC", "Apollo,ÉCHELLE,Zeta"}, // and first with DESC
		{"/projects?sort=organizationId,DESC&sort=name", "Apollo,ÉCHELLE,Zeta"},  // ICU order: É sorts with E
		{"/projects?sort=version,DESC&sort=name,DESC", "Zeta,ÉCHELLE,Apollo"},
		{`/projects?s={"description":null}&sort=name`, "Apollo,ÉCHELLE"},
		{`/projects?s={"description":{"$ne":null}}&sort=name`, "Apollo,ÉCHELLE"}, // null means IS NULL, whatever the operator
		{"/projects?filter=name||$contL||échel", "ÉCHELLE"},
		{"/projects?join=tasks&filter=tasks.status||$eq||done", "Apollo"},
	} {
		if got := names(app.List(t, alice, strings.ReplaceAll(c.path, `"`, "%22"))); got != c.want {
			t.Errorf("GET %s: %s, want %s", c.path, got, c.want)
		}
	}

	// A project listed by a task filter holds only the matching tasks.
	p := app.List(t, alice, "/projects?join=tasks&filter=tasks.status||$eq||done")
	if len(p.Data) != 1 || len(p.Data[0].Tasks) != 1 || p.Data[0].Tasks[0].ID != done {
		t.Fatalf("join=tasks&filter=tasks.status: %+v", p.Data)
	}
	// And through a task's many-to-one relation.
	tasks := app.List(t, alice, "/tasks?join=project&filter=project.name||$eqL||apollo&sort=title,ASC")
	if len(tasks.Data) != 2 || tasks.Data[0].ID != done || tasks.Data[1].ID != todo || tasks.Data[0].Project == nil || tasks.Data[0].Project.ID != apollo {
		t.Fatalf("join=project&filter=project.name: %+v", tasks.Data)
	}

	for _, c := range []struct{ path, want string }{
		{"/projects?filter=tasks.status||$eq||done", `filter: field \"tasks.status\": relation \"tasks\" is not joined (add join=tasks)`},
		{"/projects?filter=name||$eq||%FF%FE", `filter: field \"name\": \"name||$eq||\\xff\\xfe\" is not UTF-8 text without NUL bytes`},
		{"/tasks?title=eq.x&filter=title||$eq||y", `nestjsx parameters (filter) and PostgREST parameters (title)`},
		{"/projects?select=name&tasks.status=eq.done", `relation \"tasks\" is not embedded`},
	} {
		r := app.Do(alice, rt.Request{Method: "GET", Path: c.path})
		r.Problem(t, http.StatusBadRequest, "", "GET "+c.path)
		if !strings.Contains(r.Body.String(), c.want) {
			t.Errorf("GET %s: %s does not name %s", c.path, r.Body, c.want)
		}
	}

	t.Run("PostgREST", func(t *testing.T) {
		path := "/projects?select=id,name,tasks(id,status)&tasks.status=eq.done&order=name.asc"
		r := app.Do(alice, rt.Request{Method: "GET", Path: path, Header: rt.Header("Prefer", "count=exact")}).Expect(t, http.StatusOK, "GET "+path)
		var items []rt.Item
		r.JSON(t, &items)
		if len(items) != 3 || items[0].ID != apollo || items[1].ID != echelle || items[2].ID != zeta ||
			len(items[0].Tasks) != 1 || items[0].Tasks[0].ID != done || len(items[2].Tasks) != 0 {
			t.Fatalf("GET %s: %s", path, r.Body)
		}
		if r.Header().Get("Content-Range") != "0-2/3" || r.Header().Get("X-Crud-Dialect") != "postgrest" {
			t.Fatalf("GET %s: Content-Range %q", path, r.Header().Get("Content-Range"))
		}
		r = app.Do(alice, rt.Request{Method: "GET", Path: "/projects/" + apollo.String() + "/tasks?select=title&order=title.desc&limit=1", Header: rt.Header("Prefer", "count=exact")}).
			Expect(t, http.StatusPartialContent, "a project's tasks")
		if r.Body.String() != `[{"title":"todo"}]` || r.Header().Get("Content-Range") != "0-0/2" {
			t.Fatalf("a project's tasks: %s %q", r.Body, r.Header().Get("Content-Range"))
		}

		// The same page in both dialects is one cache entry: the second dialect's read runs no
		// statement, and answers in its own shape.
		app.List(t, alice, "/tasks?filter=title||$eq||other")
		before := app.Queries()
		r = app.Do(alice, rt.Request{Method: "GET", Path: "/tasks?title=eq.other", Header: rt.Header("Prefer", "count=exact")}).Expect(t, http.StatusOK, "PostgREST read")
		if n := app.Queries() - before; n != 0 {
			t.Errorf("the PostgREST spelling of a cached list ran %d statements", n)
		}
		if !strings.HasPrefix(r.Body.String(), `[{"id":`) || r.Header().Get("Content-Range") != "0-0/1" {
			t.Errorf("PostgREST answer from the cache: %s %q", r.Body, r.Header().Get("Content-Range"))
		}
	})
}
