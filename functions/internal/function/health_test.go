package function_test

import (
	"net/http"
	"strings"
	"testing"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/lambdahttp/lambdatest"
)

// TestHealth builds the health function as main does and calls both its public routes through
// API Gateway events: the primary through PgBouncer, the replica and Redis are all up.
func TestHealth(t *testing.T) {
	_, d, h := build(t, function.Health)
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
