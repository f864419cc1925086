// Package lambdahttp runs an http.Handler as an AWS Lambda function behind API Gateway.
//
// One Handler accepts both payloads API Gateway sends to a Lambda proxy integration: version 1.0
// (REST APIs, which template.yaml uses and LocalStack's free edition serves, and HTTP APIs
// configured for payload 1.0) and version 2.0 (HTTP APIs). It tells them apart by the top-level
// "version" field of the raw event and converts them with awslabs/aws-lambda-go-api-proxy.
//
// The invocation's context becomes the request's context, so r.Context() carries the Lambda
// deadline (every query bounded by it), the Lambda context and the API Gateway request context;
// RequestID, SourceIP, Stage, ColdStart and LambdaRequestID read them for middleware. The
// deadline is moved AnswerMargin earlier: a request stuck on a stalled dependency then ends in
// the function's own 503 with Retry-After, instead of in Lambda killing the invocation at its
// timeout, which API Gateway answers with a bare 502 and which costs the environment a cold
// start.
//
// Responses follow net/http semantics where the proxy's writer does not: a handler that writes
// nothing answers 200, headers changed after WriteHeader are ignored and a second WriteHeader is
// dropped. Bodies that are not valid UTF-8 are sent base64-encoded (isBase64Encoded), which is
// lossless whatever the content type; for a REST API to turn them back into bytes its
// BinaryMediaTypes must list the content type.
//
// Start runs aws-lambda-go's own lambda.Start loop, and events are converted by the proxy, on
// purpose. A Runtime API client and an event JSON codec of our own were measured to save about a
// third of a cached read's CPU in the function, but they re-implement a protocol and a format
// that AWS maintains, and they would make cmd/local test our copy instead of the runtime that
// runs in Lambda. The per-request cost that remains is spent in code AWS keeps correct, with
// one exception that changes no format: the events and responses (aws-lambda-go's own types)
// go through github.com/go-json-experiment/json/v1, which is encoding/json's behaviour on the
// v2 engine in one pass instead of two.
//
// Nothing here ends the process. At shutdown Start returns to its caller instead of calling
// os.Exit, and main returning ends the process (see WithShutdown); a library that exits would
// take that decision from the program, and from the tests that run it in-process.
package lambdahttp

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	// encoding/json's API and semantics on encoding/json/v2's engine (the Go team's module
	// that Go 1.27's standard library aliases): decoding the event was about a third of a
	// cached read's CPU, most of it encoding/json's separate validation pass. See the package
	// comment.
	json "github.com/go-json-experiment/json/v1"
)

// AnswerMargin is the time kept back from the invocation's deadline to answer in: the error
// mapping, the problem document and the Runtime API's response take well under a millisecond, and
// the rest covers a host paused by the fault that stalled the request.
const AnswerMargin = 500 * time.Millisecond

// Handler is a lambda.Handler that serves API Gateway proxy events (payload 1.0 and 2.0) with an
// http.Handler. It is safe for concurrent use.
type Handler struct {
	v1          *httpadapter.HandlerAdapter
	v2          *httpadapter.HandlerAdapterV2
	invocations atomic.Int64
}

var _ lambda.Handler = (*Handler)(nil)

// New returns a Handler that serves API Gateway events with h.
func New(h http.Handler) *Handler {
	h = netHTTPSemantics(h)
	return &Handler{v1: httpadapter.New(h), v2: httpadapter.NewV2(h)}
}

// Invoke converts one API Gateway event into an http.Request, serves it and returns the proxy
// response as JSON. It returns an error, which Lambda reports as a function error and API
// Gateway as a 502, only for a payload that is not an API Gateway proxy event.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ctx = context.WithValue(ctx, coldStartKey{}, h.invocations.Add(1) == 1)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-AnswerMargin))
		defer cancel()
	}
	if payloadVersion(payload) == "2.0" {
		return h.invokeV2(ctx, payload)
	}
	return h.invokeV1(ctx, payload)
}

func (h *Handler) invokeV1(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode API Gateway payload 1.0: %w", err)
	}
	if ev.HTTPMethod == "" {
		return nil, fmt.Errorf("decode API Gateway payload 1.0: no httpMethod: not an API Gateway proxy event")
	}
	ev.Path = escapePath(ev.Path)
	resp, err := h.v1.ProxyWithContext(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("serve API Gateway payload 1.0: %w", err)
	}
	return json.Marshal(resp)
}

func (h *Handler) invokeV2(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode API Gateway payload 2.0: %w", err)
	}
	if ev.RequestContext.HTTP.Method == "" {
		return nil, fmt.Errorf("decode API Gateway payload 2.0: no requestContext.http.method")
	}
	// HTTP APIs deliver rawPath decoded; the proxy falls back to requestContext.http.path when
	// rawPath is empty, so both are made safe to paste into a URL.
	ev.RawPath = escapePath(ev.RawPath)
	ev.RequestContext.HTTP.Path = escapePath(ev.RequestContext.HTTP.Path)
	resp, err := h.v2.ProxyWithContext(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("serve API Gateway payload 2.0: %w", err)
	}
	return json.Marshal(resp)
}
