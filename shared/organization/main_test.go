package organization

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/guard"
	"scaleapi/shared/shard"
	"scaleapi/shared/user"
)

// TestMain starts the real stack: PostgreSQL behind PgBouncer, and Redis.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

var testKey = []byte("0123456789abcdef0123456789abcdef")

// env is one organizations function over a fresh database (reached through PgBouncer in
// transaction mode, as in production) and the shared Redis, under a key prefix of its own.
type env struct {
	t        *testing.T
	url      string // the database through the pooler
	pool     *db.Pool
	rdb      *redis.Client
	redisCmd *atomic.Int64 // Redis commands sent through rdb
	prefix   string
	cache    *cache.Cache
	svc      *Service
	tokens   *auth.Tokens
	sessions *auth.Sessions
	handler  http.Handler
}

type envOptions struct {
	// limit, when not 0, is the per-user rate limit per minute; else no test reaches it.
	limit int
}

func newEnv(t *testing.T) *env { return newEnvWith(t, envOptions{}) }

func newEnvWith(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	database := devtest.NewDatabase(t)
	pool, err := db.Open(ctx, db.Options{URL: database.PoolerURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	rdb := devtest.Redis(t)
	counter := &atomic.Int64{}
	rdb.AddHook(countHook{n: counter})

	tokens, err := auth.NewTokens(testKey)
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(rdb, time.Hour)
	e := &env{
		t: t, url: database.PoolerURL, pool: pool, rdb: rdb, redisCmd: counter,
		prefix: "orgtest:" + uuid.NewString() + ":", tokens: tokens, sessions: sessions,
	}
	e.cache = e.newCache()
	e.svc = NewService(pool, shard.Of(pool, nil), e.cache, nil)

	limit := o.limit
	if limit == 0 {
		limit = 1 << 30
	}
	g, err := guard.New(rdb, auth.NewAuthenticator(tokens, sessions).Require, limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt := api.NewRouter()
	Routes(rt, e.svc, g)
	e.handler = rt
	return e
}

// newCache returns another Cache over the env's Redis and key prefix: what another execution
// environment of the same function would have (its own process-local singleflight, the same
// Redis entries).
func (e *env) newCache() *cache.Cache {
	return cache.New(e.rdb, cache.Options{Prefix: e.prefix})
}

// countHook counts the commands a client sends (a pipeline counts each of its commands).
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// account is a registered user with a live session.
type account struct {
	ID    uuid.UUID
	Email string
	Token string
}

var accounts atomic.Int64

// newAccount inserts a user and starts a session for them, as registration would.
func (e *env) newAccount(name string) account {
	e.t.Helper()
	ctx := context.Background()
	email := fmt.Sprintf("%s%d@example.com", strings.ToLower(name), accounts.Add(1))
	u := &user.User{ID: uuid.Must(uuid.NewV7()), Email: email, Name: name, PasswordHash: "$argon2id$unused"}
	if err := user.NewPG(e.pool).Create(ctx, u); err != nil {
		e.t.Fatal(err)
	}
	sid, _, err := e.sessions.Create(ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(u.ID, sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return account{ID: u.ID, Email: email, Token: tok}
}

// withHandler returns a copy of e that sends its requests to h.
func (e *env) withHandler(h http.Handler) *env {
	c := *e
	c.handler = h
	return &c
}

// response is a finished request.
type response struct {
	*httptest.ResponseRecorder
	t *testing.T
}

// req is one request to the handler.
type req struct {
	method, path string
	token        string
	body         string // sent as JSON unless header says otherwise
	header       map[string]string
}

func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	hr.RemoteAddr = "192.0.2.1:1234"
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, hr)
	return response{ResponseRecorder: w, t: e.t}
}

// status fails the test unless the response has status want.
func (r response) status(want int) response {
	r.t.Helper()
	if r.Code != want {
		r.t.Fatalf("status %d, want %d; body %s", r.Code, want, r.Body.String())
	}
	return r
}

// problem checks a problem+json answer of status want and returns it.
func (r response) problem(want int) api.Problem {
	r.t.Helper()
	r.status(want)
	if ct := r.Header().Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p api.Problem
	if err := json.Unmarshal(r.Body.Bytes(), &p); err != nil {
		r.t.Fatalf("problem: %v in %s", err, r.Body.String())
	}
	if p.Status != want {
		r.t.Fatalf("problem status %d, want %d", p.Status, want)
	}
	return p
}

// decode reads the JSON body into v.
func (r response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("decode %T: %v in %s", v, err, r.Body.String())
	}
}

// createOrg creates an organization owned by a through the API.
func (e *env) createOrg(a account, name string) Organization {
	e.t.Helper()
	var o Organization
	e.do(req{method: "POST", path: "/organizations", token: a.Token, body: jsonString(map[string]string{"name": name})}).
		status(http.StatusCreated).decode(&o)
	return o
}

// addMember makes b a member of org with role through the API, as a.
func (e *env) addMember(a account, org uuid.UUID, b account, role auth.Role) {
	e.t.Helper()
	e.do(req{method: "POST", path: "/organizations/" + org.String() + "/members", token: a.Token,
		body: jsonString(map[string]string{"email": b.Email, "role": string(role)})}).status(http.StatusCreated)
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// bigBody is a JSON object just over api.MaxBody.
func bigBody() string {
	var b bytes.Buffer
	b.WriteString(`{"name":"`)
	b.WriteString(strings.Repeat("a", api.MaxBody))
	b.WriteString(`"}`)
	return b.String()
}

// queryCounter is a pgx tracer that counts statements and can hold one matching statement after
// it has read its rows, to open the window of the cache-aside race.
type queryCounter struct {
	n atomic.Int64
	// hold, when set, is called after every statement whose SQL contains holdSQL has finished.
	holdSQL string
	hold    atomic.Pointer[func()]
}

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return context.WithValue(ctx, sqlKey{}, d.SQL)
}

func (q *queryCounter) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	sql, _ := ctx.Value(sqlKey{}).(string)
	if f := q.hold.Load(); f != nil && q.holdSQL != "" && strings.Contains(sql, q.holdSQL) {
		(*f)()
	}
}

type sqlKey struct{}

// tracedPool opens another pool on the env's database with tracer q.
func (e *env) tracedPool(q *queryCounter) *db.Pool {
	e.t.Helper()
	p, err := db.Open(context.Background(), db.Options{URL: e.url, Tracer: q})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(p.Close)
	return p
}
