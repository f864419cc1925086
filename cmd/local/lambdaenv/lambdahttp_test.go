package lambdaenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// These tests run the Runtime API under shared/lambdahttp's own client (testdata/lambdahttp),
// which the project's functions use, as TestRuntimeAPIConformance does under aws-lambda-go's.

// httpReport is what testdata/lambdahttp's /echo answers.
type httpReport struct {
	PID        int    `json:"pid"`
	RequestID  string `json:"requestId"`
	ARN        string `json:"arn"`
	DeadlineMS int64  `json:"deadlineMs"`
	TraceID    string `json:"traceId"`
	TraceEnv   string `json:"traceEnv"`
	BodyLen    int    `json:"bodyLen"`
}

// apiEvent is a minimal API Gateway payload 1.0 event for target ("/path?k=v").
func apiEvent(method, target, body string) []byte {
	path, query, _ := strings.Cut(target, "?")
	q, _ := url.ParseQuery(query)
	b, _ := json.Marshal(map[string]any{
		"httpMethod": method, "path": path, "body": body, "multiValueQueryStringParameters": q,
		"requestContext": map[string]any{"requestId": "gw-1", "identity": map[string]any{"sourceIp": "127.0.0.1"}},
	})
	return b
}

func newHTTPPool(t *testing.T, timeout time.Duration) (*Pool, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	p := NewPool(Spec{
		Name: "HTTPFunction", Binary: httpFixture, Handler: "bootstrap", Timeout: timeout, MemoryMB: 256,
		MaxInstances: 1, Region: "eu-west-1", AccountID: "123456789012",
	}, Options{Output: out, ShutdownGrace: 2 * time.Second})
	t.Cleanup(p.Close)
	return p, out
}

// httpCall invokes the function with an event for path and returns the result and the proxy
// response it carries.
func httpCall(t *testing.T, p *Pool, method, path, body string) (*Result, struct {
	StatusCode int
	Body       string
}) {
	t.Helper()
	var resp struct {
		StatusCode int
		Body       string
	}
	res, err := p.Invoke(context.Background(), apiEvent(method, path, body))
	if err != nil {
		t.Fatalf("Invoke %s: %v", path, err)
	}
	if res.Err == nil {
		if err := json.Unmarshal(res.Payload, &resp); err != nil {
			t.Fatalf("decode %.200s: %v", res.Payload, err)
		}
	}
	return res, resp
}

func httpEcho(t *testing.T, p *Pool, body string) (*Result, httpReport) {
	t.Helper()
	res, resp := httpCall(t, p, "POST", "/echo", body)
	if res.Err != nil || resp.StatusCode != 200 {
		t.Fatalf("echo: %v, status %d", res.Err, resp.StatusCode)
	}
	var r httpReport
	if err := json.Unmarshal([]byte(resp.Body), &r); err != nil {
		t.Fatalf("decode %q: %v", resp.Body, err)
	}
	return res, r
}

func TestLambdahttpRuntime(t *testing.T) {
	const timeout = 3 * time.Second
	p, out := newHTTPPool(t, timeout)

	before := time.Now()
	res, first := httpEcho(t, p, "hello")
	after := time.Now()
	t.Run("Invocation", func(t *testing.T) {
		if first.RequestID != res.RequestID || first.RequestID == "" {
			t.Errorf("the function saw request id %q, the pool reports %q", first.RequestID, res.RequestID)
		}
		if want := "arn:aws:lambda:eu-west-1:123456789012:function:HTTPFunction"; first.ARN != want {
			t.Errorf("invoked function ARN = %q, want %q", first.ARN, want)
		}
		dl := time.UnixMilli(first.DeadlineMS)
		if lo, hi := before.Add(timeout).Add(-time.Millisecond), after.Add(timeout); dl.Before(lo) || dl.After(hi) {
			t.Errorf("ctx.Deadline() = %v, want within [%v, %v]", dl, lo, hi)
		}
		if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(first.TraceID) ||
			first.TraceEnv != first.TraceID {
			t.Errorf("trace id %q, _X_AMZN_TRACE_ID %q", first.TraceID, first.TraceEnv)
		}
		if first.BodyLen != 5 {
			t.Errorf("body of %d bytes, want 5", first.BodyLen)
		}
	})
	t.Run("WarmReuse", func(t *testing.T) {
		seen := map[string]bool{}
		for range 50 {
			res, r := httpEcho(t, p, "again")
			if r.PID != first.PID || res.ColdStart || seen[r.RequestID] || r.RequestID != res.RequestID {
				t.Fatalf("invocation %+v of pid %d: want the warm instance %d and a fresh request id", r, r.PID, first.PID)
			}
			seen[r.RequestID] = true
		}
	})
	t.Run("LargeEventAndResponse", func(t *testing.T) {
		// The Runtime API sends an event over 4 KB chunked; a response over 64 KB is written
		// in two parts.
		body := strings.Repeat("e", 300<<10)
		if _, r := httpEcho(t, p, body); r.BodyLen != len(body) || r.PID != first.PID {
			t.Errorf("large event: body of %d bytes, pid %d", r.BodyLen, r.PID)
		}
		res, resp := httpCall(t, p, "GET", "/big?n=1000000", "")
		if res.Err != nil || len(resp.Body) != 1000000 {
			t.Errorf("large response: %v, body of %d bytes", res.Err, len(resp.Body))
		}
	})
	t.Run("ReturnedError", func(t *testing.T) {
		res, err := p.Invoke(context.Background(), []byte(`{"op":"not an API Gateway event"}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome() != OutcomeError || res.Err.Type != "errorString" || !strings.Contains(res.Err.Message, "not an API Gateway proxy event") {
			t.Fatalf("result err = %+v; want errorString ... not an API Gateway proxy event", res.Err)
		}
		if _, r := httpEcho(t, p, ""); r.PID != first.PID {
			t.Error("a returned error replaced the instance; Lambda keeps it")
		}
	})
	t.Run("PanicReplacesInstance", func(t *testing.T) {
		res, _ := httpCall(t, p, "GET", "/panic", "")
		if res.Outcome() != OutcomeError || res.Err.Type != "string" || res.Err.Message != "kaboom" {
			t.Fatalf("result err = %+v; want errorType string, message kaboom", res.Err)
		}
		var doc struct {
			StackTrace []struct {
				Label string `json:"label"`
			} `json:"stackTrace"`
		}
		if err := json.Unmarshal(res.Err.Payload, &doc); err != nil || len(doc.StackTrace) == 0 || !strings.Contains(doc.StackTrace[0].Label, "main.main") {
			t.Errorf("panic error document's stack does not start at the panicking handler: %s", res.Err.Payload)
		}
		res2, r := httpEcho(t, p, "")
		if !res2.ColdStart || r.PID == first.PID {
			t.Errorf("after a panic: cold=%v pid=%d (was %d); want a new instance", res2.ColdStart, r.PID, first.PID)
		}
		if alive(first.PID) {
			t.Errorf("the panicked process %d is still alive", first.PID)
		}
		first = r
	})
	t.Run("SIGTERMRunsShutdown", func(t *testing.T) {
		p.Close()
		if !strings.Contains(out.String(), fmt.Sprintf("sigterm %d", first.PID)) {
			t.Errorf("the function's shutdown callback did not run; output %q", out.String())
		}
	})
}
