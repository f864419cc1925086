package domain_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/organization"
	rt "scaleapi/shared/resource/resourcetest"
)

// TestSecondReadRunsNoSQL reads each cached route twice: the second read must not reach the
// database at all (memberships included).
func TestSecondReadRunsNoSQL(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	p := app.Project(t, alice, org, "Apollo")
	app.Task(t, alice, p, "Launch")
	for _, path := range []string{
		"/projects/" + p.String(),
		"/projects/" + p.String() + "?join=tasks&fields=name",
		"/projects",
		"/projects?filter=name||$starts||Apo&sort=createdAt,DESC&join=organization",
		"/projects/" + p.String() + "/tasks",
		"/tasks?filter=title||$eq||Launch",
	} {
		first := app.Do(alice, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "first read")
		before := app.Queries()
		second := app.Do(alice, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "second read")
		if n := app.Queries() - before; n != 0 {
			t.Errorf("GET %s: the second read ran %d statements", path, n)
		}
		if second.Body.String() != first.Body.String() || second.Header().Get("ETag") != first.Header().Get("ETag") {
			t.Errorf("GET %s: the cached answer differs: %s / %s", path, first.Body, second.Body)
		}
		before = app.Queries()
		app.Do(alice, rt.Request{Method: "GET", Path: path + sep(path) + "cache=0"}).Expect(t, http.StatusOK, "cache=0")
		if app.Queries() == before {
			t.Errorf("GET %s with cache=0 did not read the database", path)
		}
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}

// TestWriteInvalidates warms the entity and every kind of list of an organization, writes, and
// expects every one of them to show the write at once.
func TestWriteInvalidates(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice, carol := app.User(t, "Alice"), app.User(t, "Carol")
	orgA, orgC := app.Org(t, alice), app.Org(t, carol)
	app.Join(t, orgC, alice, auth.RoleMember)
	p := app.Project(t, alice, orgA, "Apollo")
	app.Task(t, alice, p, "Launch")
	entity := "/projects/" + p.String()
	lists := []string{
		"/projects",
		"/projects?filter=status||$eq||planning",
		"/projects?join=tasks",
		entity + "?join=tasks",
		"/projects?cursor=&limit=5",
	}
	for _, path := range append(lists, entity) {
		app.Do(alice, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "warm "+path)
	}

	app.Do(alice, rt.Request{Method: "PATCH", Path: entity, Body: `{"name":"Artemis"}`}).Expect(t, http.StatusOK, "patch")

	if got := app.Do(alice, rt.Request{Method: "GET", Path: entity}); !strings.Contains(got.Body.String(), "Artemis") || got.Header().Get("ETag") != `"2"` {
		t.Fatalf("entity after PATCH: %v %s", got.Header(), got.Body)
	}
	for _, path := range lists {
		if got := app.Do(alice, rt.Request{Method: "GET", Path: path}); !strings.Contains(got.Body.String(), "Artemis") {
			t.Errorf("%s after PATCH is stale: %s", path, got.Body)
		}
	}

	t.Run("TaskWriteInvalidatesProjectJoins", func(t *testing.T) {
		app.Task(t, alice, p, "Orbit")
		for _, path := range []string{"/projects?join=tasks", entity + "?join=tasks"} {
			if got := app.Do(alice, rt.Request{Method: "GET", Path: path}); !strings.Contains(got.Body.String(), "Orbit") {
				t.Errorf("%s after a task was created is stale: %s", path, got.Body)
			}
		}
	})
	t.Run("WriteInAnyOrganizationOfAList", func(t *testing.T) {
		// Alice's list spans A and C: a project Carol creates in C must show in it.
		app.List(t, alice, "/projects")
		app.Project(t, carol, orgC, "Carols")
		if page := app.List(t, alice, "/projects"); page.Total != 2 {
			t.Fatalf("Alice's list after a create in C: %+v", page)
		}
	})
	t.Run("DeleteAndRecover", func(t *testing.T) {
		app.Do(alice, rt.Request{Method: "DELETE", Path: entity}).Expect(t, http.StatusNoContent, "delete")
		app.Do(alice, rt.Request{Method: "GET", Path: entity}).Expect(t, http.StatusNotFound, "get after delete")
		if page := app.List(t, alice, "/projects?filter=organizationId||$eq||"+orgA.String()); page.Total != 0 {
			t.Fatalf("list after delete: %+v", page)
		}
		app.Do(alice, rt.Request{Method: "PATCH", Path: entity + "/recover"}).Expect(t, http.StatusOK, "recover")
		// The GET after the delete cached a "not found"; the recover must have removed it.
		app.Do(alice, rt.Request{Method: "GET", Path: entity}).Expect(t, http.StatusOK, "get after recover")
		if page := app.List(t, alice, "/projects?filter=organizationId||$eq||"+orgA.String()); page.Total != 1 {
			t.Fatalf("list after recover: %+v", page)
		}
	})
}

// TestCacheAsideRace is the classic race: environment R misses the cache and reads the project;
// environment W commits a PATCH and invalidates; only then does R write what it read into the
// cache. R's stale value must not be left there.
func TestCacheAsideRace(t *testing.T) {
	t.Parallel()
	// The reader's fill pauses once it has read the row from the database.
	gate := rt.NewGate("FROM projects t WHERE t.id = $1", true)
	reader := rt.NewApp(t, rt.WrapDB(gate.Wrap))
	writer := rt.NewAppOn(t, reader.Env.Sibling(t))
	alice := reader.User(t, "Alice")
	org := reader.Org(t, alice)
	p := writer.Project(t, alice, org, "Old")
	path := "/projects/" + p.String()
	discarded := reader.Cache.Stats().Discarded

	gate.Arm()
	read := make(chan *rt.Response)
	go func() { read <- reader.Do(alice, rt.Request{Method: "GET", Path: path}) }()
	<-gate.Entered
	writer.Do(alice, rt.Request{Method: "PATCH", Path: path, Body: `{"name":"New"}`}).Expect(t, http.StatusOK, "patch while a read fills")
	close(gate.Release)
	if r := <-read; !strings.Contains(r.Body.String(), "Old") {
		t.Fatalf("the racing read began before the write and should answer the old row: %s", r.Body)
	}

	if n := reader.Cache.Stats().Discarded - discarded; n != 1 {
		t.Fatalf("%d fills discarded, want the racing one", n)
	}
	for name, app := range map[string]*rt.App{"reader": reader, "writer": writer} {
		if r := app.Do(alice, rt.Request{Method: "GET", Path: path}); !strings.Contains(r.Body.String(), "New") {
			t.Fatalf("%s reads a stale project after the race: %s", name, r.Body)
		}
	}
}

// TestRedisDownServesFromDatabase serves the routes with a cache whose Redis is gone (a closed
// loopback port): reads and writes still answer, from the database. The cache is an
// optimisation, never a dependency for correctness. (The guards keep their own Redis client:
// sessions and rate limits are not the cache.)
func TestRedisDownServesFromDatabase(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	id := app.Project(t, alice, org, "Apollo")

	dead, err := cache.NewClient(cache.ClientOptions{URL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dead.Close() })
	c := cache.New(dead, cache.Options{Prefix: "down:"})
	env := *app.Env
	env.Cache, env.Members = c, organization.NewAccess(app.DB, c)
	down := rt.NewAppOn(t, &env)

	path := "/projects/" + id.String()
	if w := down.Do(alice, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "GET with Redis down"); !strings.Contains(w.Body.String(), "Apollo") {
		t.Fatalf("GET with Redis down: %s", w.Body)
	}
	if w := down.Do(alice, rt.Request{Method: "GET", Path: "/projects?filter=name||$eq||Apollo"}).Expect(t, http.StatusOK, "list with Redis down"); !strings.Contains(w.Body.String(), "Apollo") {
		t.Fatalf("list with Redis down: %s", w.Body)
	}
	if w := down.Do(alice, rt.Request{Method: "PATCH", Path: path, Body: `{"name":"Artemis"}`}).Expect(t, http.StatusOK, "PATCH with Redis down"); !strings.Contains(w.Body.String(), "Artemis") {
		t.Fatalf("PATCH with Redis down: %s", w.Body)
	}
	if c.Stats().Errors == 0 {
		t.Fatal("the cache saw no Redis error: the test did not run with Redis down")
	}
}

// TestWarmReadRoundTrips pins what a warm read costs in Redis round trips, since on a 2-core
// machine each one is a measurable share of a cached read's time (make bench). The guards
// (session check and rate limit) share one, which also carries the reads a handler starts with
// (guard.Prefetching): the entity, the caller's memberships and, for a view of the entity's own
// children, the view and its view scope's generation; for a list the memberships, the page and
// the generations of the organizations the caller's last list covered. A view that joins beyond
// the children is under the organization's scope, which the entity names: it and its scope's
// generation take a second round trip.
func TestWarmReadRoundTrips(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	other := app.Org(t, alice) // alice's lists span two organizations
	p := app.Project(t, alice, org, "Apollo")
	app.Project(t, alice, other, "Gemini")
	var trips devtest.RoundTrips
	app.Redis.AddHook(&trips)
	for _, c := range []struct {
		path string
		want int64
	}{
		{"/projects/" + p.String(), 1},                        // guards + project + memberships
		{"/projects/" + p.String() + "?join=tasks", 1},        // guards + project + memberships + the view + its scope
		{"/projects/" + p.String() + "?join=organization", 2}, // guards + project + memberships; the view + the organization's scope
		{"/projects", 1}, // guards + memberships + the page + both generations
	} {
		app.Do(alice, rt.Request{Method: "GET", Path: c.path}).Expect(t, http.StatusOK, "first read")
		trips.Reset()
		app.Do(alice, rt.Request{Method: "GET", Path: c.path}).Expect(t, http.StatusOK, "warm read")
		if n := trips.N(); n != c.want {
			t.Errorf("warm GET %s: %d Redis round trips, want %d", c.path, n, c.want)
		}
	}
}

// TestProjectViewsKeyedByProject: a project's view (join=tasks, fields=) is cached under the
// project's own view scope, so writes elsewhere in its organization leave it cached, while the
// project's writes and its tasks' (a move between projects included) retire it. join=organization
// stays under the organization's scope, which a rename bumps.
func TestProjectViewsKeyedByProject(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	p1, p2 := app.Project(t, alice, org, "Apollo"), app.Project(t, alice, org, "Gemini")
	task := app.Task(t, alice, p1, "Launch")
	view := func(p uuid.UUID, q string) string {
		return app.Do(alice, rt.Request{Method: "GET", Path: "/projects/" + p.String() + q}).Expect(t, http.StatusOK, "view").Body.String()
	}
	cachedRead := func(what string, read func() string) string {
		t.Helper()
		before := app.Queries()
		body := read()
		if n := app.Queries() - before; n != 0 {
			t.Errorf("%s: ran %d statements, want a cache hit", what, n)
		}
		return body
	}

	view(p1, "?join=tasks")
	view(p1, "?fields=name")
	app.Do(alice, rt.Request{Method: "PATCH", Path: "/projects/" + p2.String(), Body: `{"status":"active"}`}).Expect(t, http.StatusOK, "patch p2")
	app.Task(t, alice, p2, "Elsewhere")
	cachedRead("p1?join=tasks after writes to p2", func() string { return view(p1, "?join=tasks") })
	cachedRead("p1?fields=name after writes to p2", func() string { return view(p1, "?fields=name") })

	app.Do(alice, rt.Request{Method: "PATCH", Path: "/projects/" + p1.String(), Body: `{"name":"Artemis"}`}).Expect(t, http.StatusOK, "patch p1")
	for _, q := range []string{"?fields=name", "?join=tasks"} {
		if got := view(p1, q); !strings.Contains(got, "Artemis") {
			t.Errorf("p1%s after its PATCH is stale: %s", q, got)
		}
	}
	app.Do(alice, rt.Request{Method: "PATCH", Path: "/tasks/" + task.String(), Body: `{"status":"done"}`}).Expect(t, http.StatusOK, "patch task")
	if got := view(p1, "?join=tasks"); !strings.Contains(got, `"done"`) {
		t.Errorf("p1?join=tasks after its task's PATCH is stale: %s", got)
	}
	view(p2, "?join=tasks")
	app.Do(alice, rt.Request{Method: "PATCH", Path: "/tasks/" + task.String(), Body: `{"projectId":"` + p2.String() + `"}`}).Expect(t, http.StatusOK, "move task")
	if got := view(p1, "?join=tasks"); strings.Contains(got, "Launch") {
		t.Errorf("p1?join=tasks still shows the task moved away: %s", got)
	}
	if got := view(p2, "?join=tasks"); !strings.Contains(got, "Launch") {
		t.Errorf("p2?join=tasks does not show the task moved in: %s", got)
	}
	app.Do(alice, rt.Request{Method: "DELETE", Path: "/tasks/" + task.String()}).Expect(t, http.StatusNoContent, "delete task")
	if got := view(p2, "?join=tasks"); strings.Contains(got, "Launch") {
		t.Errorf("p2?join=tasks still shows the deleted task: %s", got)
	}
	app.Do(alice, rt.Request{Method: "PATCH", Path: "/tasks/" + task.String() + "/recover"}).Expect(t, http.StatusOK, "recover task")
	if got := view(p2, "?join=tasks"); !strings.Contains(got, "Launch") {
		t.Errorf("p2?join=tasks does not show the recovered task: %s", got)
	}

	t.Run("JoinOrganizationFollowsARename", func(t *testing.T) {
		view(p1, "?join=organization")
		name := "Renamed Org"
		if _, err := app.Orgs().Update(context.Background(), alice.ID, org, organization.Patch{Name: &name}, nil); err != nil {
			t.Fatal(err)
		}
		if got := view(p1, "?join=organization"); !strings.Contains(got, name) {
			t.Errorf("p1?join=organization after the organization's rename is stale: %s", got)
		}
	})
}
