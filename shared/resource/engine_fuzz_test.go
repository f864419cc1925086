package resource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scaleapi"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/domain"
	"scaleapi/shared/guard"
	"scaleapi/shared/resource"
	"scaleapi/shared/shard"
)

// errReached is what the fuzz target's database answers every statement with: a body that gets
// that far has passed every check the engine makes before the database.
var errReached = errors.New("fuzz: the statement reached the database")

// reachedDB is a resource.DB that records the arguments of the statements sent to it and fails
// them all with errReached.
type reachedDB struct {
	mu   sync.Mutex
	args [][]any
}

func (d *reachedDB) record(args []any) {
	d.mu.Lock()
	d.args = append(d.args, args)
	d.mu.Unlock()
}

func (d *reachedDB) Exec(_ context.Context, _ string, args ...any) (pgconn.CommandTag, error) {
	d.record(args)
	return pgconn.CommandTag{}, errReached
}

func (d *reachedDB) Query(_ context.Context, _ string, args ...any) (pgx.Rows, error) {
	d.record(args)
	return nil, errReached
}

func (d *reachedDB) QueryRow(_ context.Context, _ string, args ...any) pgx.Row {
	d.record(args)
	return errRow{}
}

func (d *reachedDB) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults {
	d.record(nil)
	return errBatch{}
}

func (d *reachedDB) Begin(context.Context) (pgx.Tx, error) {
	d.record(nil)
	return nil, errReached
}

func (d *reachedDB) BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error) {
	d.record(nil)
	return nil, errReached
}

type errRow struct{}

func (errRow) Scan(...any) error { return errReached }

type errBatch struct{}

func (errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, errReached }
func (errBatch) Query() (pgx.Rows, error)         { return nil, errReached }
func (errBatch) QueryRow() pgx.Row                { return errRow{} }
func (errBatch) Close() error                     { return errReached }
func (errBatch) Tx() pgx.Tx                       { return nil }

// oneOrg is a caller who belongs to one organization, as owner.
type oneOrg struct{ org uuid.UUID }

func (o oneOrg) Role(context.Context, uuid.UUID, uuid.UUID) (auth.Role, error) {
	return auth.RoleOwner, nil
}

func (o oneOrg) OrganizationIDs(context.Context, uuid.UUID) ([]uuid.UUID, error) {
	return []uuid.UUID{o.org}, nil
}

// fuzzRoute is one write route of the engine.
type fuzzRoute struct{ method, path string }

// FuzzEngineBody sends arbitrary bodies to the write routes (create, bulk create, PATCH, PUT)
// of every entity the engine serves from the root .apsorc, with its domain hooks, and from the
// shop example (the types the root schema lacks), through the engine's real handlers with a
// database that refuses every statement. It checks that:
//
//   - a request is answered with a 4xx problem+json whose status is its code, unless it reached
//     the database: bad input is never a 500, and nothing panics;
//   - every text the engine binds for a statement that reached the database is text PostgreSQL
//     can hold (valid UTF-8 without NUL), so a value can't turn into a database error.
//
// Run it with: go test ./shared/resource -run '^$' -fuzz FuzzEngineBody
func FuzzEngineBody(f *testing.F) {
	root, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		f.Fatal(err)
	}
	shop, err := apsorc.Load("../../examples/shop/.apsorc")
	if err != nil {
		f.Fatal(err)
	}
	db := &reachedDB{}
	deps := resource.EngineDeps{Shards: shard.Of(db, nil), Members: oneOrg{uuid.New()}}
	user := auth.Principal{UserID: uuid.New(), SessionID: uuid.New()}
	g := guard.Guards{Authn: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), user)))
		})
	}}
	rt := api.NewRouter()
	var routes []fuzzRoute
	for _, s := range []struct {
		schema *apsorc.Schema
		hooks  map[string]resource.Hooks
	}{{root, domain.Hooks()}, {shop, nil}} {
		eng, err := resource.NewEngine(s.schema, deps, s.hooks)
		if err != nil {
			f.Fatal(err)
		}
		eng.Mount(rt, g)
		for _, e := range s.schema.Entities {
			if e.Platform != apsorc.NotPlatform || !e.HTTP {
				continue
			}
			id := uuid.NewString()
			if e.Key == apsorc.SerialKey {
				id = "42"
			}
			base := "/" + e.Path
			routes = append(routes, fuzzRoute{"POST", base}, fuzzRoute{"POST", base + "/bulk"},
				fuzzRoute{"PATCH", base + "/" + id}, fuzzRoute{"PUT", base + "/" + id})
		}
	}
	org, project := uuid.NewString(), uuid.NewString()
	for i, body := range []string{
		`{"organizationId":"` + org + `","name":"  Apollo ","status":"active"}`,
		`{"projectId":"` + project + `","title":"Write","priority":"high","dueDate":"2024-02-29","assigneeId":null}`,
		`{"bulk":[{"projectId":"` + project + `","title":"a"},{"title":" "},null]}`,
		`{"name":"x","sku":"A-1","price":"12.50","attributes":{"colour":"red"},"storeId":"` + org + `"}`,
		`{"placedAt":"2024-01-02T03:04:05+01:00","status":"paid","note":null}`,
		`{"quantity":2147483648,"unitPrice":1e3,"gift":"yes","orderId":"9"}`,
		`{"weightKg":12.3456,"warrantyMonths":-1,"productId":"` + project + `"}`,
		`{"id":"` + project + `","version":3}`,
		`{"name":"\u0000"}`,
		`{}`,
		`[]`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rte := routes[int(route)%len(routes)]
		db.mu.Lock()
		db.args = nil
		db.mu.Unlock()
		r := httptest.NewRequest(rte.method, rte.path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, r)

		db.mu.Lock()
		reached := len(db.args) > 0
		for _, args := range db.args {
			checkArgs(t, rte, body, args)
		}
		db.mu.Unlock()
		if w.Code >= 500 && !reached {
			t.Fatalf("%s %s %q: %d without reaching the database: %s", rte.method, rte.path, body, w.Code, w.Body)
		}
		if w.Code < 400 {
			t.Fatalf("%s %s %q: %d although the database refuses everything", rte.method, rte.path, body, w.Code)
		}
		var p api.Problem
		if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s %s %q: %d with Content-Type %q", rte.method, rte.path, body, w.Code, ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Detail == "" {
			t.Fatalf("%s %s %q: %d answered %s (%v)", rte.method, rte.path, body, w.Code, w.Body, err)
		}
	})
}

// checkArgs fails t unless every text among a statement's arguments is PostgreSQL text.
func checkArgs(t *testing.T, rte fuzzRoute, body []byte, args []any) {
	text := func(s string) {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("%s %s %q: bound %q, which PostgreSQL text can't hold", rte.method, rte.path, body, s)
		}
	}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			text(a)
		case *string:
			if a != nil {
				text(*a)
			}
		case []string:
			for _, s := range a {
				text(s)
			}
		case []*string:
			for _, s := range a {
				if s != nil {
					text(*s)
				}
			}
		}
	}
}
