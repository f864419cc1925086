// Package lambdatest drives a function's handler the way API Gateway and the Lambda runtime do:
// a REST API (payload 1.0) event, JSON-encoded, through lambdahttp's Invoke, and the JSON
// response decoded back. Function tests use it to exercise main's wiring end to end.
package lambdatest

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/platform"
)

// Request is one API Gateway request.
type Request struct {
	Method   string
	Path     string // the concrete path, /projects/0190...
	Resource string // the template's route path, /projects/{id}
	Headers  map[string]string
	Body     string
	SourceIP string // default 192.0.2.10
}

// Response is the function's answer with its headers merged.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Invoke sends r to h as API Gateway would and returns the answer.
func Invoke(t testing.TB, h http.Handler, r Request) Response {
	t.Helper()
	ip := r.SourceIP
	if ip == "" {
		ip = "192.0.2.10"
	}
	ev := events.APIGatewayProxyRequest{
		Resource: r.Resource, Path: r.Path, HTTPMethod: r.Method, Body: r.Body, Headers: r.Headers,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: uuid.NewString(), Stage: "Prod", HTTPMethod: r.Method, ResourcePath: r.Resource,
			Identity: events.APIGatewayRequestIdentity{SourceIP: ip},
		},
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambdahttp.New(h).Invoke(t.Context(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	hdr := http.Header(resp.MultiValueHeaders).Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	for k, v := range resp.Headers {
		hdr.Set(k, v)
	}
	return Response{Status: resp.StatusCode, Header: hdr, Body: resp.Body}
}

// Build builds a function the way its main does: platform.Build from env (in place of the
// process environment), then the function's handler. The clients close when the test ends.
func Build(t testing.TB, needs platform.Needs, env map[string]string, handler func(*platform.Deps) (http.Handler, error)) (*platform.Deps, http.Handler) {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	d, err := platform.Build(t.Context(), lookup, io.Discard, needs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	h, err := handler(d)
	if err != nil {
		t.Fatal(err)
	}
	return d, h
}
