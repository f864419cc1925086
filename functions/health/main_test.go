package main

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/lambdahttp/lambdatest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// TestFunction builds the health function as main does and calls both its public routes through
// API Gateway events: the primary through PgBouncer, the replica and Redis are all up.
func TestFunction(t *testing.T) {
	database := devtest.NewDatabase(t)
	env := map[string]string{
		"DATABASE_URL":        database.PoolerURL,
		"DATABASE_READER_URL": database.ReplicaURL,
		"REDIS_URL":           devtest.Services(t).RedisURL,
	}
	d, h := lambdatest.Build(t, needs, env, handler)
	h = d.Handler(h)
	r := lambdatest.Invoke(t, h, lambdatest.Request{Method: "GET", Path: "/health", Resource: "/health"})
	if r.Status != http.StatusOK || r.Body != `{"status":"ok","checks":{"cache":"ok","database":"ok","replica":"ok"}}`+"\n" {
		t.Fatalf("%d %q", r.Status, r.Body)
	}
	r = lambdatest.Invoke(t, h, lambdatest.Request{Method: "GET", Path: "/openapi.json", Resource: "/openapi.json"})
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `"openapi": "3.1.0"`) {
		t.Fatalf("%d %.100s", r.Status, r.Body)
	}
}
