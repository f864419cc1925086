package attack_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/api"
	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/platform"
)

// built is one Lambda function of template.yaml, built in-process as its main builds it (package
// function holds the wiring):
// platform.Build from environment variables, the function's handler on the clients it made,
// platform's middleware around it, and lambdahttp's Lambda handler around that. Requests reach
// it as API Gateway REST (payload 1.0) events, JSON-encoded, as in AWS.
type built struct {
	name   string
	deps   *platform.Deps
	routes []api.Route
	lambda *lambdahttp.Handler
}

// buildFunctions builds every function over env. The clients close when t ends.
func buildFunctions(t *testing.T, env map[string]string) []*built {
	t.Helper()
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var fns []*built
	for _, m := range function.All() {
		d, err := platform.Build(context.Background(), lookup, io.Discard, m.Needs)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		t.Cleanup(d.Close)
		h, err := m.Build(d)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		fns = append(fns, &built{name: m.Name, deps: d, routes: h.(*api.Router).Routes(), lambda: lambdahttp.New(d.Handler(h))})
	}
	return fns
}

// serves reports whether f's router serves method on the route pattern path.
func (f *built) serves(method, path string) bool {
	for _, r := range f.routes {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// request is one API Gateway request to an operation.
type request struct {
	op     *operation
	params map[string]string // path parameter values, in the clear (API Gateway decodes them)
	query  url.Values
	header map[string]string
	body   string
	// identity is whose data the request may see when it carries no account's token: the
	// user whose credentials or generated body it carries (a login, a refresh, a register).
	identity *account
	// sourceIP is the caller's address, which the per-IP limit of public routes keys on.
	sourceIP string
}

// path is the request path, the route's pattern with the parameters put in.
func (r *request) path() string {
	p := r.op.Path
	for k, v := range r.params {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	return p
}

// String names the request in a failure message.
func (r *request) String() string {
	s := r.op.Method + " " + r.path()
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// response is a function's answer.
type response struct {
	status int
	header http.Header
	body   string
}

// invoke sends r through f as API Gateway would: header and query values in both the single-
// and the multi-value maps of the event, the path decoded, the route's resource path and
// parameters set.
func (f *built) invoke(ctx context.Context, r *request) (response, error) {
	path := r.path()
	ev := events.APIGatewayProxyRequest{
		Resource: r.op.Path, Path: path, HTTPMethod: r.op.Method, Body: r.body,
		Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
		PathParameters: r.params,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: uuid.NewString(), Stage: "Prod", HTTPMethod: r.op.Method, ResourcePath: r.op.Path,
			Identity: events.APIGatewayRequestIdentity{SourceIP: r.sourceIP},
		},
	}
	for k, v := range r.header {
		ev.Headers[k] = v
		ev.MultiValueHeaders[k] = []string{v}
	}
	if len(r.query) > 0 {
		ev.QueryStringParameters = map[string]string{}
		ev.MultiValueQueryStringParameters = map[string][]string{}
		for k, vs := range r.query {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
			ev.MultiValueQueryStringParameters[k] = vs
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return response{}, err
	}
	out, err := f.lambda.Invoke(ctx, payload)
	if err != nil {
		// Lambda reports a function error, which API Gateway answers 502.
		return response{}, fmt.Errorf("function error (API Gateway answers 502): %w", err)
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return response{}, fmt.Errorf("not a proxy response: %w", err)
	}
	hdr := http.Header{}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			hdr.Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		hdr.Set(k, v)
	}
	body := resp.Body
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return response{}, fmt.Errorf("body: %w", err)
		}
		body = string(b)
	}
	return response{status: resp.StatusCode, header: hdr, body: body}, nil
}
