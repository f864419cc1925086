// Package resourcetest sets up what the tests of projects and tasks share: a fresh migrated
// database reached through PgBouncer in transaction mode, real Redis, real tokens and sessions,
// and users, organizations and memberships made by the packages that own them. Nothing here is
// a fake: a test that passes with it passes against the services production runs.
package resourcetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/guard"
	"scaleapi/shared/organization"
	"scaleapi/shared/shard"
	"scaleapi/shared/user"
)

// Env is one test's world.
type Env struct {
	// DB is the test's own database on the first shard (the directory's), through PgBouncer.
	DB *db.Pool
	// Shards are the test's databases: devtest.ShardCount of them, each through its own
	// PgBouncer, the first being DB.
	Shards *shard.Set
	// Redis is the stack's standalone Redis; Cache is a cache over it with a prefix of its own.
	Redis   redis.UniversalClient
	Cache   *cache.Cache
	Members *organization.Access
	Tokens  *auth.Tokens
	Authn   *auth.Authenticator
	// Guards are the guards main wires, with a rate limit no test reaches.
	Guards guard.Guards

	sessions *auth.Sessions
	prefix   string
	log      *slog.Logger
	pools    []*db.Pool
	specs    []shard.Spec
	orgs     *organization.Service
	owners   *sync.Map // organization id -> owner's id, for Join
}

// New builds an Env for t, over devtest.ShardCount shards; everything is released when t ends.
func New(t testing.TB) *Env {
	t.Helper()
	return NewSharded(t, devtest.ShardCount())
}

// NewSharded is New over n shards (1 to 3), whatever devtest.ShardCount says.
func NewSharded(t testing.TB, n int) *Env {
	t.Helper()
	ctx := context.Background()
	var pools []*db.Pool
	var specs []shard.Spec
	for i, d := range devtest.NewShardDatabases(t, n) {
		p, err := db.Open(ctx, db.Options{URL: d.PoolerURL, MaxConns: 8})
		if err != nil {
			t.Fatalf("open database: %v", err)
		}
		t.Cleanup(p.Close)
		pools = append(pools, p)
		specs = append(specs, shard.Spec{Name: fmt.Sprintf("s%d", i+1), Writer: d.PoolerURL})
	}
	pool := pools[0]
	// Production's 50 ms timeouts make a slow Redis cost a request little; on a shared test
	// machine under load a reply can take longer than that without anything being wrong, and
	// a test (or benchmark) that silently fell back to the database would prove nothing.
	rdb, err := cache.NewClient(cache.ClientOptions{URL: devtest.Services(t).RedisURL, PoolSize: 8,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prefix := "test:" + random() + ":"
	c := cache.New(rdb, cacheOptions(prefix, pool, log))
	key := []byte(random() + random())
	tokens, err := auth.NewTokens(key)
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(rdb, time.Hour)
	authn := auth.NewAuthenticator(tokens, sessions)
	guards, err := guard.New(rdb, authn.Require, 1<<30, log)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{
		DB: pool, Redis: rdb, Cache: c, Members: organization.NewAccess(pool, c),
		Tokens: tokens, Authn: authn, Guards: guards, sessions: sessions, prefix: prefix, log: log,
		pools: pools, specs: specs, owners: &sync.Map{},
	}
	e.Shards = e.newShards(t, c)
	e.orgs = organization.NewService(pool, e.Shards, c, log)
	return e
}

// newShards is the Env's shard set over its pools, with its own directory memory (one per
// execution environment), looking placements up through c.
func (e *Env) newShards(t testing.TB, c *cache.Cache) *shard.Set {
	return e.shardsThrough(t, c, func(d shard.DB) shard.DB { return d })
}

// shardsThrough is newShards with every pool behind wrap.
func (e *Env) shardsThrough(t testing.TB, c *cache.Cache, wrap func(shard.DB) shard.DB) *shard.Set {
	if len(e.pools) == 1 {
		return shard.Of(wrap(e.pools[0]), nil)
	}
	set, err := shard.NewSet(e.specs, func(_ context.Context, name string, _ bool, _, _ string) (shard.DB, error) {
		for i, sp := range e.specs {
			if sp.Name == name {
				return wrap(e.pools[i]), nil
			}
		}
		return nil, fmt.Errorf("no shard %s", name)
	}, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set.CacheLookups(c)
	return set
}

// Sibling returns another execution environment of the same deployment: the same database,
// Redis, keys and sessions, but its own in-process state (the cache's singleflight and
// cooldown), as a second Lambda environment would have.
func (e *Env) Sibling(t testing.TB) *Env {
	s := *e
	s.Cache = cache.New(e.Redis, cacheOptions(e.prefix, e.DB, e.log))
	s.Members = organization.NewAccess(e.DB, s.Cache)
	s.Shards = e.newShards(t, s.Cache)
	s.orgs = organization.NewService(e.DB, s.Shards, s.Cache, e.log)
	return &s
}

// cacheOptions are the cache options of platform.Build, fenced by the test's database, but with
// an epoch that is read once per Env: tests that count a warm read's queries must not see the
// once-a-second epoch read of production (shared/cache tests the interval itself).
func cacheOptions(prefix string, pool *db.Pool, log *slog.Logger) cache.Options {
	return cache.Options{Prefix: prefix, Logger: log, Epochs: db.CacheEpochs{Pool: pool}, EpochInterval: time.Hour}
}

func random() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// User is a registered user with a live session.
type User struct {
	ID    uuid.UUID
	Email string
	Token string
}

// User registers a user named name and logs them in.
func (e *Env) User(t testing.TB, name string) User {
	t.Helper()
	ctx := context.Background()
	u := &user.User{ID: uuid.Must(uuid.NewV7()), Email: strings.ToLower(name) + "-" + random() + "@example.com", Name: name,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$unused$unused"} // #nosec G101 -- a malformed placeholder no password matches: these users get sessions directly, never log in
	if err := user.NewPG(e.DB).Create(ctx, u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	sid, _, err := e.sessions.Create(ctx, u.ID)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	token, _, err := e.Tokens.Issue(u.ID, sid)
	if err != nil {
		t.Fatal(err)
	}
	return User{ID: u.ID, Email: u.Email, Token: token}
}

// Org creates an organization owned by owner, through the organization service: with several
// shards it is placed on one and copied there.
func (e *Env) Org(t testing.TB, owner User) uuid.UUID {
	t.Helper()
	o, err := e.orgs.Create(context.Background(), owner.ID, organization.Creation{Name: "org " + random()})
	if err != nil {
		t.Fatalf("create organization: %v", err)
	}
	e.owners.Store(o.ID, owner.ID)
	return o.ID
}

// Join makes u a member of org (made by Org) with role, through the organization service, as
// its owner.
func (e *Env) Join(t testing.TB, org uuid.UUID, u User, role auth.Role) {
	t.Helper()
	owner, ok := e.owners.Load(org)
	if !ok {
		t.Fatalf("join: organization %s was not made by Org", org)
	}
	if _, err := e.orgs.AddMember(context.Background(), owner.(uuid.UUID), org, organization.NewMember{Email: u.Email, Role: role}); err != nil {
		t.Fatalf("membership: %v", err)
	}
}

// Orgs returns the organization service the Env's organizations are made with, for a test
// that changes them as the organizations function would.
func (e *Env) Orgs() *organization.Service { return e.orgs }

// Queries returns how many statements the test's databases have run so far, on every shard.
func (e *Env) Queries() int64 {
	var n int64
	for _, p := range e.pools {
		n += p.QueryStats().Count
	}
	return n
}

// Request is one HTTP request for Do.
type Request struct {
	Method, Path string
	// Body is sent as application/json unless Header sets another Content-Type.
	Body   string
	Header http.Header
}

// Do serves req with h as u (no Authorization header for the zero User) and returns the
// recorded response.
func Do(h http.Handler, u User, req Request) *httptest.ResponseRecorder {
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	r := httptest.NewRequest(req.Method, req.Path, body)
	r.RemoteAddr = "192.0.2.10:1234"
	if req.Body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range req.Header {
		r.Header[k] = vs
	}
	if u.Token != "" {
		r.Header.Set("Authorization", "Bearer "+u.Token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Router returns a router with the routes routes registers.
func Router(routes func(rt *api.Router)) http.Handler {
	rt := api.NewRouter()
	routes(rt)
	return rt
}

// Expect fails t unless w has status, showing the body.
func Expect(t testing.TB, w *httptest.ResponseRecorder, status int, what string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("%s: status %d, want %d: %s", what, w.Code, status, w.Body)
	}
}

// Header returns a header with the given name and value pairs.
func Header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// Response is a recorded response with helpers.
type Response struct {
	*httptest.ResponseRecorder
}

// JSON decodes the body into v, failing t if it doesn't decode.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Expect fails t unless the status is status.
func (r *Response) Expect(t testing.TB, status int, what string) *Response {
	t.Helper()
	Expect(t, r.ResponseRecorder, status, what)
	return r
}

// Problem fails t unless the response is a problem+json with status that, when field is not
// "", names field among its errors.
func (r *Response) Problem(t testing.TB, status int, field, what string) {
	t.Helper()
	r.Expect(t, status, what)
	var p api.Problem
	r.JSON(t, &p)
	if r.Header().Get("Content-Type") != "application/problem+json" || p.Status != status {
		t.Fatalf("%s: not a problem: %v %s", what, r.Header(), r.Body)
	}
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("%s: the problem does not name %s: %s", what, field, r.Body)
}
