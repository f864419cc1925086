package resourcetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/shard"
)

// FromDeps returns an Env over the clients a function's main built, for tests that run the
// function as main wires it.
func FromDeps(d *platform.Deps) *Env {
	e := &Env{
		DB: d.Primary, Shards: d.Shards, Redis: d.Redis, Cache: d.Cache, Members: organization.NewAccess(d.Primary, d.Cache),
		Tokens: d.Tokens, Authn: d.Auth, sessions: d.Sessions, log: d.Log,
		orgs: organization.NewService(d.Primary, d.Shards, d.Cache, d.Log), owners: &sync.Map{},
	}
	for _, sh := range d.Shards.Shards() {
		if p, err := sh.Primary(context.Background()); err == nil {
			e.pools = append(e.pools, p.(*db.Pool)) // platform's pools
		}
	}
	return e
}

// DatabaseEnv returns the database variables of a function's environment for t's own
// databases: DATABASE_URL (and DATABASE_READER_URL, the streaming replica, with replica), or
// DATABASE_SHARDS over devtest.ShardCount shards, the first with that reader.
func DatabaseEnv(t testing.TB, replica bool) map[string]string {
	t.Helper()
	dbs := devtest.NewShardDatabases(t, devtest.ShardCount())
	if len(dbs) == 1 {
		env := map[string]string{"DATABASE_URL": dbs[0].PoolerURL}
		if replica {
			env["DATABASE_READER_URL"] = dbs[0].ReplicaURL
		}
		return env
	}
	specs := make([]shard.Spec, len(dbs))
	for i, d := range dbs {
		specs[i] = shard.Spec{Name: fmt.Sprintf("s%d", i+1), Writer: d.PoolerURL}
	}
	if replica {
		specs[0].Reader = dbs[0].ReplicaURL
	}
	b, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"DATABASE_SHARDS": string(b)}
}

// Invoker sends one API Gateway REST API (payload 1.0) event through a function as u and
// returns its answer. path is the request path; its resource (/projects/{id}) is worked out
// from the routes the function serves.
type Invoker func(u User, method, path, body string) events.APIGatewayProxyResponse

// Lambda returns an Invoker for the Lambda handler h (lambdahttp.New(...).Invoke) whose routes
// are resources, the API Gateway resource paths.
func Lambda(t testing.TB, invoke func(payload []byte) ([]byte, error), resources []string) Invoker {
	return func(u User, method, path, body string) events.APIGatewayProxyResponse {
		t.Helper()
		resource := resourceOf(path, resources)
		headers := map[string]string{"Content-Type": "application/json"}
		if u.Token != "" {
			headers["Authorization"] = "Bearer " + u.Token
		}
		p, rawQuery, _ := strings.Cut(path, "?")
		ev := events.APIGatewayProxyRequest{
			Resource: resource, Path: p, HTTPMethod: method, Body: body, Headers: headers,
			PathParameters: pathParameters(p, resource),
			RequestContext: events.APIGatewayProxyRequestContext{
				RequestID: uuid.NewString(), Stage: "Prod", HTTPMethod: method, ResourcePath: resource,
				Identity: events.APIGatewayRequestIdentity{SourceIP: "192.0.2.10"},
			},
		}
		if rawQuery != "" {
			ev.MultiValueQueryStringParameters = map[string][]string{}
			for kv := range strings.SplitSeq(rawQuery, "&") {
				k, v, _ := strings.Cut(kv, "=")
				ev.MultiValueQueryStringParameters[k] = append(ev.MultiValueQueryStringParameters[k], v)
			}
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		out, err := invoke(payload)
		if err != nil {
			t.Fatalf("invoke %s %s: %v", method, path, err)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
}

// resourceOf returns the resource path among resources that path matches.
func resourceOf(path string, resources []string) string {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for _, r := range resources {
		rs := strings.Split(r, "/")
		if len(rs) != len(segs) {
			continue
		}
		match := true
		for i := range rs {
			if rs[i] != segs[i] && !strings.HasPrefix(rs[i], "{") {
				match = false
				break
			}
		}
		if match {
			return r
		}
	}
	return path
}

func pathParameters(path, resource string) map[string]string {
	ps := map[string]string{}
	segs, rs := strings.Split(path, "/"), strings.Split(resource, "/")
	for i := range rs {
		if strings.HasPrefix(rs[i], "{") && i < len(segs) {
			ps[strings.Trim(rs[i], "{}")] = segs[i]
		}
	}
	return ps
}

// ResponseHeader returns the response's header named k.
func ResponseHeader(resp events.APIGatewayProxyResponse, k string) string {
	return http.Header(resp.MultiValueHeaders).Get(k)
}

// Function builds a function the way its main does (platform.Build from environment variables
// pointing at the test stack, then handler), for a test that drives it through the Lambda
// adapter: it returns the function's Env and an Invoker over the wrapped handler, and fails t
// unless the function serves exactly routes.
func Function(t testing.TB, needs platform.Needs, handler func(*platform.Deps) (http.Handler, error), routes []api.Route) (*Env, Invoker) {
	t.Helper()
	env := DatabaseEnv(t, false)
	env["REDIS_URL"] = devtest.Services(t).RedisURL
	env["JWT_SECRET"] = "0123456789abcdef0123456789abcdef"
	d, err := platform.Build(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard, needs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	h, err := handler(d)
	if err != nil {
		t.Fatal(err)
	}
	got := h.(*api.Router).Routes()
	if !slices.Equal(got, routes) {
		t.Fatalf("routes %v, want %v", got, routes)
	}
	var resources []string
	for _, r := range got {
		resources = append(resources, r.Path)
	}
	fn := lambdahttp.New(d.Handler(h))
	return FromDeps(d), Lambda(t, func(p []byte) ([]byte, error) { return fn.Invoke(context.Background(), p) }, resources)
}
