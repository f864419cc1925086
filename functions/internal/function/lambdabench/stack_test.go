package lambdabench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/google/uuid"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/platform"
)

// TestMain starts the real stack: PostgreSQL behind PgBouncer with a streaming replica, and
// Redis; in BenchmarkRuntimeAPI's child, it serves the Runtime API instead.
func TestMain(m *testing.M) {
	if os.Getenv(runtimeAPIChild) != "" {
		os.Exit(serveRuntimeAPI())
	}
	os.Exit(devtest.Main(m))
}

// jwtSecret signs the benchmark's tokens.
const jwtSecret = "0123456789abcdef0123456789abcdef"

// env is the environment an execution environment of f gets in template.yaml, with the
// harness's endpoints: the writer through PgBouncer (RDS Proxy's role), the reader, Redis.
func env(database devtest.Database, redisURL string, f function.Function) map[string]string {
	e := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": f.Name,
		"DATABASE_URL":             database.PoolerURL,
		"REDIS_URL":                redisURL,
		"LOG_LEVEL":                "info", // template.yaml's
		// The limiter runs on every request (its round trip is counted) but never refuses: one
		// user sends all of a benchmark's requests.
		"RATE_LIMIT_PER_MINUTE": "100000000",
	}
	if f.Needs.Replica {
		e["DATABASE_READER_URL"] = database.ReplicaURL
	}
	if f.Needs.Auth {
		e["JWT_SECRET"] = jwtSecret
	}
	return e
}

// environment is one function's warm execution environment: its handler, built as
// lambdamain.Run builds it (platform.Build, the function's Build, platform's middleware,
// lambdahttp.New), and the counter its EMF lines go through.
type environment struct {
	f       function.Function
	handler *lambdahttp.Handler
	lines   *lineCounter
	// traceHeader is the invocations' X-Ray trace header; empty is unsampled's.
	traceHeader string
}

// stack is every function built over one database, with the data the routes read.
type stack struct {
	database devtest.Database
	redisURL string
	envs     map[string]*environment // by function name
	token    string                  // alice's access token
	refresh  string
	email    string
	org      string
	project  string // a project with tasks, which the reads read
	written  string // a project of the same organization, which the writes change
}

// newStack builds every function over a fresh database and seeds it. Its clients close when tb
// ends.
func newStack(tb testing.TB) *stack {
	tb.Helper()
	database := devtest.NewDatabase(tb)
	redisURL := devtest.Services(tb).RedisURL
	s := &stack{database: database, redisURL: redisURL, envs: map[string]*environment{}}
	for _, f := range function.All() {
		s.envs[f.Name] = build(tb, f, env(database, redisURL, f))
	}
	if err := s.seed(tb); err != nil {
		tb.Fatal(err)
	}
	return s
}

// build builds f's execution environment from the environment variables e, as lambdamain.Run
// does: platform.Build, the function's Build, platform's middleware, lambdahttp.New.
func build(tb testing.TB, f function.Function, e map[string]string) *environment {
	tb.Helper()
	lines := &lineCounter{}
	lookup := func(k string) (string, bool) { v, ok := e[k]; return v, ok }
	d, err := platform.Build(tb.Context(), lookup, lines, f.Needs)
	if err != nil {
		tb.Fatalf("%s: %v", f.Name, err)
	}
	tb.Cleanup(d.Close)
	tb.Cleanup(lines.close)
	h, err := f.Build(d)
	if err != nil {
		tb.Fatalf("%s: %v", f.Name, err)
	}
	return &environment{f: f, handler: lambdahttp.New(d.Handler(h)), lines: lines}
}

// seed makes the data through the functions themselves: alice, her organization, a project
// with ten tasks, as a client would.
func (s *stack) seed(tb testing.TB) error {
	s.email = "alice-" + uuid.NewString()[:8] + "@example.com"
	var auth struct {
		AccessToken, RefreshToken string
	}
	if err := s.call(tb, request{method: "POST", resource: "/auth/register", path: "/auth/register",
		body: `{"email":"` + s.email + `","password":"correct horse battery","name":"Alice"}`}, 201, &auth); err != nil {
		return err
	}
	s.token, s.refresh = auth.AccessToken, auth.RefreshToken
	var created struct{ ID string }
	if err := s.call(tb, request{method: "POST", resource: "/organizations", path: "/organizations", token: s.token,
		body: `{"name":"Acme"}`}, 201, &created); err != nil {
		return err
	}
	s.org = created.ID
	if err := s.call(tb, request{method: "POST", resource: "/projects", path: "/projects", token: s.token,
		body: `{"organizationId":"` + s.org + `","name":"Apollo","description":"The first project"}`}, 201, &created); err != nil {
		return err
	}
	s.project = created.ID
	for i := range 10 {
		body := fmt.Sprintf(`{"projectId":%q,"title":"Task %d","priority":"high","dueDate":"2030-01-%02d"}`, s.project, i, i+1)
		if err := s.call(tb, request{method: "POST", resource: "/tasks", path: "/tasks", token: s.token, body: body}, 201, nil); err != nil {
			return err
		}
	}
	for i := range 20 {
		body := fmt.Sprintf(`{"organizationId":%q,"name":"Project %d"}`, s.org, i)
		if err := s.call(tb, request{method: "POST", resource: "/projects", path: "/projects", token: s.token, body: body}, 201, &created); err != nil {
			return err
		}
		if i == 0 {
			s.written = created.ID
		}
	}
	return nil
}

// call invokes the function that serves r once and decodes its JSON body into out.
func (s *stack) call(tb testing.TB, r request, status int, out any) error {
	e := s.envFor(r.resource)
	resp, err := e.invoke(context.Background(), event(tb, r))
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: %d %s, want %d", r.method, r.path, resp.StatusCode, resp.Body, status)
	}
	if out != nil {
		return json.Unmarshal([]byte(resp.Body), out)
	}
	return nil
}

// envFor is the environment of the function that template.yaml routes resource to.
func (s *stack) envFor(resource string) *environment {
	name := function.Entities.Name
	switch {
	case hasPrefix(resource, "/auth"):
		name = function.Auth.Name
	case hasPrefix(resource, "/organizations"):
		name = function.Organizations.Name
	case hasPrefix(resource, "/reports"):
		name = function.Reports.Name
	case resource == "/health" || resource == "/openapi.json":
		name = function.Health.Name
	}
	return s.envs[name]
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// unsampled is the X-Ray header of an invocation X-Ray did not sample, as Lambda sends it
// (Tracing: Active): most invocations' header.
const unsampled = "Root=1-67a0f1e2-5ab1c2d3e4f5a6b7c8d9e0f1;Parent=53995c3f42cd8ad8;Sampled=0"

// invocationTimeout is template.yaml's Globals Timeout: the deadline Lambda gives each
// invocation.
const invocationTimeout = 10 * time.Second

var invocations atomic.Int64

// invoke is what aws-lambda-go's invoke loop does with one event once the Runtime API has
// handed it over: a context with the invocation's deadline, its lambdacontext and trace id,
// then the handler's Invoke. The exchange with the Runtime API itself is BenchmarkRuntimeAPI's.
func (e *environment) invoke(base context.Context, payload []byte) (events.APIGatewayProxyResponse, error) {
	out, err := e.invokeRaw(base, payload)
	var resp events.APIGatewayProxyResponse
	if err == nil {
		err = json.Unmarshal(out, &resp)
	}
	return resp, err
}

func (e *environment) invokeRaw(base context.Context, payload []byte) ([]byte, error) {
	n := invocations.Add(1)
	ctx, cancel := context.WithDeadline(base, time.Now().Add(invocationTimeout))
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       "8f5c2a5e-0000-4000-8000-" + fmt.Sprintf("%012d", n),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:" + accountID + ":function:" + e.f.Name,
	})
	header := e.traceHeader
	if header == "" {
		header = unsampled
	}
	//lint:ignore SA1029 the string key is aws-lambda-go's own, which this stands in for
	ctx = context.WithValue(ctx, "x-amzn-trace-id", header)
	return e.handler.Invoke(ctx, payload)
}

// lineCounter is where an environment's log and EMF lines go: to /dev/null, through a write
// system call per line as to Lambda's stdout, after reading the request's round trips off each
// EMF line (RedisCalls, DatabaseCalls).
type lineCounter struct {
	mu        sync.Mutex
	null      *os.File
	lines     int64
	redis, pg int64
	lastRedis int64
	lastPG    int64
}

func (c *lineCounter) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.null != nil {
		_ = c.null.Close()
	}
}

var (
	redisField = []byte(`"RedisCalls":`)
	pgField    = []byte(`"DatabaseCalls":`)
)

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.null == nil {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		c.null = f
	}
	if r, ok := intField(p, redisField); ok {
		pg, _ := intField(p, pgField)
		c.lines++
		c.redis += r
		c.pg += pg
		c.lastRedis, c.lastPG = r, pg
	}
	return c.null.Write(p)
}

// counts returns the EMF lines seen and the round trips they add up to.
func (c *lineCounter) counts() (lines, redis, pg int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines, c.redis, c.pg
}

// last returns the round trips of the latest EMF line.
func (c *lineCounter) last() (redis, pg int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastRedis, c.lastPG
}

// intField reads the integer after name in line.
func intField(line, name []byte) (int64, bool) {
	i := bytes.Index(line, name)
	if i < 0 {
		return 0, false
	}
	rest := line[i+len(name):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n, err == nil
}
