package report

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/guard"
	"scaleapi/shared/organization"
	"scaleapi/shared/shard"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// fixture is an organization with known rows, written on the primary and read back from the
// replica, as the reports function does.
type fixture struct {
	primary, replica *db.Pool
	database         devtest.Database
	rdb              *redis.Client
	cache            *cache.Cache
	org, other       uuid.UUID
	member, outsider uuid.UUID
	today            time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	d := devtest.NewDatabase(t)
	f := &fixture{database: d, today: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	var err error
	if f.primary, err = db.Open(ctx, db.Options{URL: d.PoolerURL, Name: "primary"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.primary.Close)
	if f.replica, err = db.Open(ctx, db.Options{URL: d.ReplicaURL, Name: "replica"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.replica.Close)
	opt, err := redis.ParseURL(devtest.Services(t).RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	f.rdb = redis.NewClient(opt)
	t.Cleanup(func() { _ = f.rdb.Close() })
	f.cache = cache.New(f.rdb, cache.Options{Prefix: "reporttest:" + uuid.NewString() + ":"})

	f.org, f.other = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	f.member, f.outsider = uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := f.primary.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO organizations (id, name) VALUES ($1, 'A'), ($2, 'B')`, f.org, f.other)
	exec(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, 'm@example.com', 'M', 'x'), ($2, 'o@example.com', 'O', 'x')`, f.member, f.outsider)
	exec(`INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'member'), ($3, $4, 'owner')`, f.org, f.member, f.other, f.outsider)
	// Organization A: projects 2 active, 1 planning, 1 deleted active; tasks in the live active
	// project: todo overdue, todo due today (not overdue), in_progress overdue, done overdue
	// (done is never overdue), deleted todo overdue.
	p1, p2, p3, p4 := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	exec(`INSERT INTO projects (id, organization_id, name, status, deleted_at) VALUES
	  ($1, $5, 'p1', 'active', NULL), ($2, $5, 'p2', 'active', NULL), ($3, $5, 'p3', 'planning', NULL), ($4, $5, 'p4', 'active', now())`,
		p1, p2, p3, p4, f.org)
	exec(`INSERT INTO tasks (id, project_id, organization_id, title, status, due_date, deleted_at) VALUES
	  ($1, $6, $7, 't1', 'todo', '2026-11-25', NULL),
	  ($2, $6, $7, 't2', 'todo', '2026-11-26', NULL),
	  ($3, $6, $7, 't3', 'in_progress', '2026-01-01', NULL),
	  ($4, $6, $7, 't4', 'done', '2026-01-01', NULL),
	  ($5, $6, $7, 't5', 'todo', '2026-01-01', now())`,
		uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), p1, f.org)
	// Organization B's rows must never be counted in A's report.
	pb := uuid.Must(uuid.NewV7())
	exec(`INSERT INTO projects (id, organization_id, name, status) VALUES ($1, $2, 'b', 'active')`, pb, f.other)
	exec(`INSERT INTO tasks (id, project_id, organization_id, title, status, due_date) VALUES ($1, $2, $3, 'tb', 'todo', '2020-01-01')`,
		uuid.Must(uuid.NewV7()), pb, f.other)
	if err := devservices.WaitReplay(ctx, d.PrimaryURL, d.ReplicaURL); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSummaryFromReplica(t *testing.T) {
	f := newFixture(t)
	got, err := NewStore(shard.Of(f.primary, f.replica)).Summary(context.Background(), f.org, f.today)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		OrganizationID:   f.org,
		ProjectsByStatus: map[string]int64{"planning": 1, "active": 2, "on_hold": 0, "completed": 0, "archived": 0},
		TasksByStatus:    map[string]int64{"todo": 2, "in_progress": 1, "done": 1},
		OverdueTasks:     2,
	}
	if got.OrganizationID != want.OrganizationID || got.OverdueTasks != want.OverdueTasks ||
		!equal(got.ProjectsByStatus, want.ProjectsByStatus) || !equal(got.TasksByStatus, want.TasksByStatus) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if !got.GeneratedAt.Equal(f.today) {
		t.Fatalf("generatedAt %v", got.GeneratedAt)
	}
}

func TestSummaryRoute(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tokens, err := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(f.rdb, time.Hour)
	bearer := func(user uuid.UUID) string {
		sid, _, err := sessions.Create(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := tokens.Issue(user, sid)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	store := NewStore(shard.Of(f.primary, f.replica))
	svc := NewService(store, organization.NewAccess(f.primary, f.cache), f.cache, time.Minute)
	svc.now = func() time.Time { return f.today }
	r := api.NewRouter()
	g, err := guard.New(f.rdb, auth.NewAuthenticator(tokens, sessions).Require, 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	Routes(r, svc, g)

	get := func(path, authz string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	path := "/reports/organizations/" + f.org.String() + "/summary"
	member := bearer(f.member)

	t.Run("OK", func(t *testing.T) {
		w := get(path, member)
		if w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		var s Summary
		if err := json.Unmarshal(w.Body.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.OverdueTasks != 2 || s.ProjectsByStatus["active"] != 2 {
			t.Fatalf("%s", w.Body)
		}
	})
	t.Run("CachedSecondReadRunsNoSQL", func(t *testing.T) {
		before := f.replica.QueryStats().Count
		if w := get(path, member); w.Code != http.StatusOK {
			t.Fatalf("%d", w.Code)
		}
		if n := f.replica.QueryStats().Count - before; n != 0 {
			t.Fatalf("a cached summary ran %d queries on the replica", n)
		}
	})
	t.Run("OtherTenantIs404", func(t *testing.T) {
		if w := get("/reports/organizations/"+f.other.String()+"/summary", member); w.Code != http.StatusNotFound {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := get(path, bearer(f.outsider)); w.Code != http.StatusNotFound {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("UnknownAndMalformedIdsAre404", func(t *testing.T) {
		// The caller's own organization in the other spellings uuid.Parse reads is not the
		// id the document declares: each is a 404, as in the organizations function.
		own := f.org.String()
		for _, id := range []string{uuid.NewString(), "not-a-uuid", "1%27%20OR%201=1",
			"%7B" + own + "%7D", "urn:uuid:" + own, strings.ReplaceAll(own, "-", "")} {
			if w := get("/reports/organizations/"+id+"/summary", member); w.Code != http.StatusNotFound {
				t.Fatalf("%s: %d %s", id, w.Code, w.Body)
			}
		}
	})
	t.Run("NoTokenIs401", func(t *testing.T) {
		if w := get(path, ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("%d", w.Code)
		}
		if w := get(path, "Bearer forged.token.value"); w.Code != http.StatusUnauthorized {
			t.Fatalf("%d", w.Code)
		}
	})
}

func equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSummaryInvalidatedByOrganizationWrites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc := NewService(NewStore(shard.Of(f.primary, f.replica)), organization.NewAccess(f.primary, f.cache), f.cache, time.Minute)
	svc.now = func() time.Time { return f.today }
	first, err := svc.Summary(ctx, f.member, f.org)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.primary.Exec(ctx, `INSERT INTO projects (id, organization_id, name, status) VALUES ($1, $2, 'new', 'on_hold')`,
		uuid.Must(uuid.NewV7()), f.org); err != nil {
		t.Fatal(err)
	}
	if err := devservices.WaitReplay(ctx, f.database.PrimaryURL, f.database.ReplicaURL); err != nil {
		t.Fatal(err)
	}
	cached, err := svc.Summary(ctx, f.member, f.org)
	if err != nil {
		t.Fatal(err)
	}
	if cached.ProjectsByStatus["on_hold"] != first.ProjectsByStatus["on_hold"] {
		t.Fatalf("without an invalidation the cached summary should be served")
	}
	// What the projects function does after committing a write.
	if err := f.cache.Bump(ctx, "org:"+f.org.String()); err != nil {
		t.Fatal(err)
	}
	fresh, err := svc.Summary(ctx, f.member, f.org)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.ProjectsByStatus["on_hold"] != 1 {
		t.Fatalf("after the write's invalidation the summary must be recomputed: %+v", fresh.ProjectsByStatus)
	}
}
