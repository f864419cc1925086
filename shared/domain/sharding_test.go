package domain_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/auth"
	rt "scaleapi/shared/resource/resourcetest"
)

// shardedWorld is one user's organizations and projects, made alike on one shard and on three.
type shardedWorld struct {
	app   *rt.App
	alice rt.User
	orgs  []uuid.UUID       // in creation order, the same positions in both worlds
	index map[uuid.UUID]int // organization id -> position

}

var shardStatuses = []string{"planning", "active", "on_hold", "completed", "archived"}

// newShardedWorld makes at least n organizations of alice, more until they are on every shard,
// with eight projects each whose names sort in a mixed order across them:
// accents and case under the ICU collation, and a status.
func newShardedWorld(t *testing.T, shards int, n int) *shardedWorld {
	t.Helper()
	w := &shardedWorld{app: rt.NewAppOn(t, rt.NewSharded(t, shards)), index: map[uuid.UUID]int{}}
	w.alice = w.app.User(t, "Alice")
	for len(w.orgs) < n || (len(w.spread(t)) < shards && len(w.orgs) < 60) {
		org := w.app.Org(t, w.alice)
		w.index[org] = len(w.orgs)
		w.orgs = append(w.orgs, org)
	}
	if sp := w.spread(t); len(sp) < shards {
		t.Fatalf("organizations on %v: the test needs all %d shards", sp, shards)
	}
	words := []string{"Élan", "alpha", "Zulu", "émile", "Bravo", "ångström", "charlie", "Delta"}
	for i, org := range w.orgs {
		for j, word := range words {
			body := fmt.Sprintf(`{"organizationId":%q,"name":"%s %02d","status":%q}`, org, word, i, shardStatuses[(i+j)%len(shardStatuses)])
			var c rt.Created
			w.app.Do(w.alice, rt.Request{Method: "POST", Path: "/projects", Body: body}).Expect(t, http.StatusCreated, "create").JSON(t, &c)
		}
	}
	return w
}

// spread returns how many of w's organizations each shard holds.
func (w *shardedWorld) spread(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, org := range w.orgs {
		sh, err := w.app.Shards.For(context.Background(), org)
		if err != nil {
			t.Fatal(err)
		}
		out[sh.Name()]++
	}
	return out
}

// rows is what a page says, independent of the ids the world happened to get: each item's
// organization position and name, then the page's count, total and whether it has a next cursor.
func (w *shardedWorld) rows(p rt.Page) string {
	s := ""
	for _, it := range p.Data {
		s += fmt.Sprintf("%d/%s ", w.index[it.OrganizationID], it.Name)
	}
	return s + fmt.Sprintf("| count %d total %d next %t", p.Count, p.Total, p.NextCursor != nil)
}

// TestShardedListsAreOneDatabases: a list over organizations on three shards answers, page for
// page, what the same list answers on one database: every sort, filter, offset page and cursor
// walk, with the same totals.
func TestShardedListsAreOneDatabases(t *testing.T) {
	t.Parallel()
	three := newShardedWorld(t, 3, 6)
	one := newShardedWorld(t, 1, len(three.orgs))
	t.Logf("organizations per shard: %v", three.spread(t))

	queries := []string{
		"sort=name,ASC", "sort=name,DESC", "sort=status,ASC&sort=name,DESC",
		"filter=status||$in||active,completed&sort=name,ASC", "s=" + url.QueryEscape(`{"name":{"$contL":"É"}}`) + "&sort=name,ASC",
	}
	for _, q := range queries {
		for _, limit := range []int{1, 5, 50} {
			// Offset pages, one past the end included.
			for page := 1; ; page++ {
				path := fmt.Sprintf("/projects?%s&limit=%d&page=%d", q, limit, page)
				a, b := one.app.List(t, one.alice, path), three.app.List(t, three.alice, path)
				if one.rows(a) != three.rows(b) {
					t.Fatalf("%s:\none shard:    %s\nthree shards: %s", path, one.rows(a), three.rows(b))
				}
				if len(a.Data) == 0 {
					break
				}
			}
			// The cursor walk, each world following its own cursors.
			ca, cb := "", ""
			for range 100 {
				pa := one.app.List(t, one.alice, fmt.Sprintf("/projects?%s&limit=%d&cursor=%s", q, limit, ca))
				pb := three.app.List(t, three.alice, fmt.Sprintf("/projects?%s&limit=%d&cursor=%s", q, limit, cb))
				if one.rows(pa) != three.rows(pb) {
					t.Fatalf("cursor page of %s limit %d:\none shard:    %s\nthree shards: %s", q, limit, one.rows(pa), three.rows(pb))
				}
				if pa.NextCursor == nil {
					break
				}
				ca, cb = url.QueryEscape(*pa.NextCursor), url.QueryEscape(*pb.NextCursor)
			}
		}
	}
}

// TestShardedTenancy: on three shards, every organization's rows are on its own shard and no
// other, a member of some organizations reads and writes only theirs, and a bulk create over
// the caller's organizations on two shards is refused whole.
func TestShardedTenancy(t *testing.T) {
	t.Parallel()
	w := newShardedWorld(t, 3, 9)
	ctx := context.Background()
	bob := w.app.User(t, "Bob")
	var bobs, others []uuid.UUID
	for i, org := range w.orgs {
		if i%3 == 0 {
			w.app.Join(t, org, bob, auth.RoleMember)
			bobs = append(bobs, org)
		} else {
			others = append(others, org)
		}
	}

	// Where the rows are.
	for _, sh := range w.app.Shards.Shards() {
		conn, err := sh.Primary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, "SELECT organization_id FROM projects")
		if err != nil {
			t.Fatal(err)
		}
		orgs, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			t.Fatal(err)
		}
		for _, org := range orgs {
			if placed, _ := w.app.Shards.For(ctx, org); placed != sh {
				t.Fatalf("shard %s holds a project of organization %s, placed on %s", sh.Name(), org, placed.Name())
			}
		}
	}

	// Bob's lists hold his organizations' projects only, from every shard they are on.
	page := w.app.List(t, bob, "/projects?limit=100")
	seen := map[uuid.UUID]int{}
	for _, it := range page.Data {
		if !slices.Contains(bobs, it.OrganizationID) {
			t.Fatalf("Bob's list holds a project of %s, not his", it.OrganizationID)
		}
		seen[it.OrganizationID]++
	}
	if len(seen) != len(bobs) || page.Total != 8*len(bobs) {
		t.Fatalf("Bob's list: %d of his %d organizations, total %d", len(seen), len(bobs), page.Total)
	}

	// Every one of Alice's projects: Bob reads, changes and deletes those of his organizations
	// and gets 404 for the others', wherever they are.
	all := w.app.List(t, w.alice, "/projects?limit=100")
	for _, it := range all.Data {
		p := "/projects/" + it.ID.String()
		want := http.StatusNotFound
		if slices.Contains(bobs, it.OrganizationID) {
			want = http.StatusOK
		}
		w.app.Do(bob, rt.Request{Method: "GET", Path: p}).Expect(t, want, "GET "+p)
		w.app.Do(bob, rt.Request{Method: "PATCH", Path: p, Body: `{"description":"bob was here"}`}).Expect(t, want, "PATCH "+p)
		task := fmt.Sprintf(`{"projectId":%q,"title":"t"}`, it.ID)
		w.app.Do(bob, rt.Request{Method: "POST", Path: "/tasks", Body: task}).Expect(t, map[int]int{200: 201, 404: 404}[want], "POST /tasks in "+p)
	}
	for _, org := range others {
		body := fmt.Sprintf(`{"organizationId":%q,"name":"intruder"}`, org)
		w.app.Do(bob, rt.Request{Method: "POST", Path: "/projects", Body: body}).Expect(t, http.StatusNotFound, "create in another's organization")
	}

	// A bulk over two of Alice's organizations on different shards: refused whole.
	byShard := map[string]uuid.UUID{}
	for _, org := range w.orgs {
		sh, _ := w.app.Shards.For(ctx, org)
		byShard[sh.Name()] = org
	}
	var two []uuid.UUID
	for _, org := range byShard {
		two = append(two, org)
	}
	before := w.app.List(t, w.alice, "/projects?limit=1").Total
	body := fmt.Sprintf(`{"bulk":[{"organizationId":%q,"name":"x"},{"organizationId":%q,"name":"y"}]}`, two[0], two[1])
	w.app.Do(w.alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: body}).Expect(t, http.StatusUnprocessableEntity, "bulk over two shards")
	if after := w.app.List(t, w.alice, "/projects?limit=1").Total; after != before {
		t.Fatalf("a refused bulk left %d projects behind", after-before)
	}

	// A task moved to a project of another of Alice's organizations, on another shard: 422
	// naming projectId, as on one database; to a project of an organization she isn't in, on
	// another shard: 404. Neither moves it.
	home, _ := w.app.Shards.For(ctx, two[0])
	var task rt.Created
	w.app.Do(w.alice, rt.Request{Method: "POST", Path: "/tasks", Body: fmt.Sprintf(`{"projectId":%q,"title":"stay"}`, w.app.Project(t, w.alice, two[0], "from"))}).
		Expect(t, http.StatusCreated, "create a task").JSON(t, &task)
	path := "/tasks/" + task.ID.String()
	w.app.Do(w.alice, rt.Request{Method: "PATCH", Path: path, Body: fmt.Sprintf(`{"projectId":%q}`, w.app.Project(t, w.alice, two[1], "to"))}).
		Problem(t, http.StatusUnprocessableEntity, "projectId", "move to her project on another shard")
	carol := w.app.User(t, "Carol")
	carols := w.app.Org(t, carol)
	for n := 1; ; n++ {
		if sh, _ := w.app.Shards.For(ctx, carols); sh != home {
			break
		}
		if n == 60 {
			t.Fatalf("60 organizations all on shard %s", home.Name())
		}
		carols = w.app.Org(t, carol)
	}
	w.app.Do(w.alice, rt.Request{Method: "PATCH", Path: path, Body: fmt.Sprintf(`{"projectId":%q}`, w.app.Project(t, carol, carols, "theirs"))}).
		Problem(t, http.StatusNotFound, "projectId", "move to another tenant's project on another shard")
	var got struct {
		ProjectID uuid.UUID `json:"projectId"`
		Version   int       `json:"version"`
	}
	w.app.Do(w.alice, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "the task").JSON(t, &got)
	if got.Version != task.Version {
		t.Fatalf("refused moves changed the task: %+v, created at version %d", got, task.Version)
	}
}
