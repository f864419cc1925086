package project_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
	"scaleapi/shared/project"
	"scaleapi/shared/query"
	"scaleapi/shared/resource"
	rt "scaleapi/shared/resource/resourcetest"
)

// BenchmarkGetProjectCached is the hot path as a projects function serves it: Bearer token
// verification and the session check, the per-user rate limit, the cached memberships, the cached
// project and its JSON, against the harness's real Redis (and PostgreSQL for the first fill
// only). One request at a time, as one Lambda environment serves them.
func BenchmarkGetProjectCached(b *testing.B) {
	app := rt.NewApp(b)
	alice := app.User(b, "Alice")
	org := app.Org(b, alice)
	path := "/projects/" + app.Project(b, alice, org, "Apollo").String()
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", "Bearer "+alice.Token)
	serve := func() {
		w := httptest.NewRecorder()
		app.Handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	serve() // fill
	before := app.Queries()
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
	if n := app.Queries() - before; n != 0 {
		b.Fatalf("the cached path ran %d statements", n)
	}
}

// BenchmarkHandler measures the routes' own work (routing, decoding, validation, the tenant
// check, ETags, encoding) over an in-memory store and membership table: no I/O, so what it
// reports is this package's and resource's CPU and allocations per request.
func BenchmarkHandler(b *testing.B) {
	user, org := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	store := &memStore{rows: map[uuid.UUID]project.Project{}}
	members := memMembers{user: {org: auth.RoleOwner}}
	svc := project.NewService(store, members, resource.Options{})
	rtr := api.NewRouter()
	project.Routes(rtr, svc, resource.Guards{Authn: func(h http.Handler) http.Handler { return h }})
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{UserID: user})
	desc := "A project with a description of a realistic length, long enough to be more than a word."
	id := uuid.Must(uuid.NewV7())
	store.rows[id] = project.Project{ID: id, OrganizationID: org, Name: "Apollo", Description: &desc,
		Status: project.StatusActive, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(), Version: 3}

	run := func(b *testing.B, method, path, body string, header http.Header, want int) {
		b.ReportAllocs()
		for b.Loop() {
			var rd *strings.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			r := httptest.NewRequestWithContext(ctx, method, path, nil)
			if rd != nil {
				r = httptest.NewRequestWithContext(ctx, method, path, rd)
				r.Header.Set("Content-Type", "application/json")
			}
			for k, v := range header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			rtr.ServeHTTP(w, r)
			if w.Code != want {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("Get", func(b *testing.B) { run(b, "GET", "/projects/"+id.String(), "", nil, http.StatusOK) })
	b.Run("GetNotModified", func(b *testing.B) {
		run(b, "GET", "/projects/"+id.String(), "", http.Header{"If-None-Match": {`"3"`}}, http.StatusNotModified)
	})
	b.Run("Create", func(b *testing.B) {
		run(b, "POST", "/projects", `{"organizationId":"`+org.String()+`","name":"Gemini","description":"`+desc+`","status":"active"}`, nil, http.StatusCreated)
	})
	b.Run("Patch", func(b *testing.B) {
		run(b, "PATCH", "/projects/"+id.String(), `{"status":"on_hold","description":null}`, nil, http.StatusOK)
	})
}

// memStore is an in-memory project.Store for BenchmarkHandler: pure logic, no SQL. The methods
// the benchmark doesn't reach are not implemented.
type memStore struct {
	project.Store
	mu   sync.Mutex
	rows map[uuid.UUID]project.Project
}

func (s *memStore) Get(_ context.Context, id uuid.UUID) (project.Project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.rows[id]
	if !ok {
		return p, fault.ErrNotFound
	}
	return p, nil
}

func (s *memStore) View(context.Context, uuid.UUID, *query.Query) (json.RawMessage, error) {
	panic("not used")
}

func (s *memStore) List(context.Context, []uuid.UUID, *query.Query) (*query.Page, error) {
	panic("not used")
}

func (s *memStore) Insert(_ context.Context, _ uuid.UUID, ps []project.Project) error {
	now := time.Now().UTC()
	for i := range ps {
		ps[i].CreatedAt, ps[i].UpdatedAt, ps[i].Version = now, now, 1
	}
	return nil // not kept: the benchmark creates millions
}

func (s *memStore) Update(_ context.Context, _ uuid.UUID, id uuid.UUID, _ resource.Condition, p project.Patch) (project.Project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.rows[id]
	if p.Status.Set {
		cur.Status = p.Status.Value
	}
	if p.Description.Set {
		cur.Description = p.Description.Ptr()
	}
	cur.UpdatedAt = time.Now().UTC()
	return cur, nil // not kept, so that every iteration patches the same version
}

// memMembers is an in-memory membership table.
type memMembers map[uuid.UUID]map[uuid.UUID]auth.Role

func (m memMembers) Role(_ context.Context, user, org uuid.UUID) (auth.Role, error) {
	if r, ok := m[user][org]; ok {
		return r, nil
	}
	return "", fault.ErrNotFound
}

func (m memMembers) OrganizationIDs(_ context.Context, user uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	for org := range m[user] {
		ids = append(ids, org)
	}
	return ids, nil
}
