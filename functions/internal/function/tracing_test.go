package function_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/api"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/lambdahttp/lambdatest"
	rt "scaleapi/shared/resource/resourcetest"
	"scaleapi/shared/tracing/tracingtest"
)

// TestTracing builds the entities function as main does with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at a receiver and the Lambda Runtime API named, and invokes it with X-Ray trace
// headers where aws-lambda-go leaves them, on standalone Redis and on Redis Cluster. A sampled
// invocation's spans are at the receiver when it answers: the request's span, a child of
// X-Ray's segment, and under it each Redis command or pipeline and each PostgreSQL query, none
// holding the request's data or credentials. An unsampled invocation sends nothing.
func TestTracing(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		name := map[bool]string{false: "standalone", true: "cluster"}[cluster]
		t.Run(name, func(t *testing.T) { testTracing(t, cluster) })
	}
}

func testTracing(t *testing.T, cluster bool) {
	rcv := tracingtest.Start(t)
	database := devtest.NewDatabase(t)
	env := map[string]string{
		"DATABASE_URL": database.PoolerURL, "DATABASE_READER_URL": database.ReplicaURL,
		"REDIS_URL": devtest.Services(t).RedisURL, "JWT_SECRET": "0123456789abcdef0123456789abcdef",
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.URL, "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
		"AWS_LAMBDA_FUNCTION_NAME": "scaleapi-entities",
	}
	if cluster {
		env["REDIS_URL"], env["REDIS_CLUSTER"] = devtest.Services(t).RedisClusterURL, "true"
	}
	d, h := lambdatest.Build(t, function.Entities.Needs, env, function.Entities.Build)
	if d.Tracing == nil {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT set, and tracing is off")
	}
	var resources []string
	for _, r := range h.(*api.Router).Routes() {
		resources = append(resources, r.Path)
	}
	fn := lambdahttp.New(d.Handler(h))
	var header string // the X-Ray header of the next invocation
	invoke := rt.Lambda(t, func(p []byte) ([]byte, error) {
		//lint:ignore SA1029 aws-lambda-go's own key, a plain string, is what the function reads
		return fn.Invoke(context.WithValue(context.Background(), "x-amzn-trace-id", header), p)
	}, resources)
	e := rt.FromDeps(d)
	alice := e.User(t, "Alice")
	org := e.Org(t, alice)

	const secret = "Project Nightingale"
	header = "Root=1-67a0f1e2-000000000000000000000001;Parent=1111111111111111;Sampled=0"
	created := invoke(alice, "POST", "/projects", `{"organizationId":"`+org.String()+`","name":"`+secret+`"}`)
	if created.StatusCode != http.StatusCreated {
		t.Fatalf("POST /projects: %d %s", created.StatusCode, created.Body)
	}
	if n := len(rcv.Spans()); n != 0 {
		t.Fatalf("an unsampled invocation exported %d spans", n)
	}
	path := rt.ResponseHeader(created, "Location")

	for i, c := range []struct {
		what  string
		query bool // the invocation reads PostgreSQL
	}{{"uncached GET", true}, {"cached GET", false}} {
		traceID := "67a0f1e20000000000000000000001" + hex.EncodeToString([]byte{byte(0x10 + i)})
		header = "Root=1-" + traceID[:8] + "-" + traceID[8:] + ";Parent=2222222222222222;Sampled=1"
		if r := invoke(alice, "GET", path, ""); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", c.what, r.StatusCode, r.Body)
		}
		spans := rcv.Trace(traceID)
		var server *tracingtest.Span
		for i := range spans {
			if spans[i].Kind == ptrace.SpanKindServer {
				server = &spans[i]
			}
		}
		if server == nil {
			t.Fatalf("%s: no request span at the receiver when the invocation answered: %+v", c.what, spans)
		}
		if server.Name != "GET /projects/{id}" || server.ParentID != "2222222222222222" || server.Service != "scaleapi-entities" ||
			server.Attributes["http.response.status_code"] != "200" {
			t.Fatalf("%s: request span %+v", c.what, *server)
		}
		parent := map[string]string{}
		for _, s := range spans {
			parent[s.SpanID] = s.ParentID
		}
		// under reports whether id descends from the request span: a command's span may be the
		// child of another's (the HELLO of a connection a pipeline opens).
		under := func(id string) bool {
			for range spans {
				id = parent[id]
				if id == server.SpanID {
					return true
				}
			}
			return false
		}
		var redisSpans, querySpans int
		for _, s := range spans {
			if s.Kind != ptrace.SpanKindClient {
				continue
			}
			if !under(s.SpanID) {
				t.Errorf("%s: span %q is not under the request span", c.what, s.Name)
			}
			switch {
			case s.Attributes["db.system.name"] == "redis":
				redisSpans++
			case s.Attributes["db.system.name"] == "postgresql":
				querySpans++
				if !strings.Contains(s.Attributes["db.query.text"], "$1") {
					t.Errorf("%s: query span %q without its parameterised statement: %v", c.what, s.Name, s.Attributes)
				}
			default:
				t.Errorf("%s: client span %q of no known system: %v", c.what, s.Name, s.Attributes)
			}
			for k, v := range s.Attributes {
				if strings.Contains(v, secret) || strings.Contains(v, alice.Token) || strings.Contains(v, "0123456789abcdef") {
					t.Errorf("%s: span %q attribute %s holds request data or a credential: %q", c.what, s.Name, k, v)
				}
			}
		}
		if redisSpans == 0 {
			t.Errorf("%s: no Redis span", c.what)
		}
		if c.query != (querySpans > 0) {
			t.Errorf("%s: %d query spans, want some: %v", c.what, querySpans, c.query)
		}
	}
}
