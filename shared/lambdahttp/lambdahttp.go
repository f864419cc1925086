// Package lambdahttp runs an http.Handler as an AWS Lambda function behind API Gateway.
//
// One Handler accepts both payloads API Gateway sends to a Lambda proxy integration: version 1.0
// (REST APIs, which template.yaml uses and LocalStack's free edition serves, and HTTP APIs
// configured for payload 1.0) and version 2.0 (HTTP APIs). It tells them apart by the top-level
// "version" field of the raw event.
//
// # What is ours and what is aws-lambda-go-api-proxy's
//
// Every invocation goes event JSON → http.Request → handler → response JSON, and on a cached
// read that plumbing cost more than the handler. The proxy's request path decodes the event with
// encoding/json (reflection over a 1.7 KB document: by far the largest part) and rebuilds the
// URL by string concatenation, then parses it again. So this package decodes events itself, in
// one pass into aws-lambda-go's event types (decode.go, falling back to encoding/json for
// anything it does not fully understand), and builds the http.Request from them directly
// (request.go), with the proxy's semantics for every field a handler can see.
//
// The response side stays the proxy's: its ProxyResponseWriter and ProxyResponseWriterV2 are
// the ResponseWriters handlers write to, and their GetProxyResponse builds the proxy response —
// the status, Content-Type sniffed when a handler sets none, base64 for bodies that are not
// UTF-8, and for payload 2.0 the comma-joined headers and the separate cookies list HTTP APIs
// expect. That is cheap and subtle, which is what a shared library is for. Only the final
// json.Marshal of that response is replaced by an encoder that writes the same bytes
// (encode.go).
//
// # Context
//
// The invocation's context becomes the request's context, so r.Context() carries the Lambda
// deadline (every query bounded by it), the Lambda context and the API Gateway request context;
// RequestID, SourceIP, Stage, ColdStart and LambdaRequestID read them for middleware.
//
// # Responses
//
// Responses follow net/http semantics where the proxy's writer does not: a handler that writes
// nothing answers 200, headers changed after WriteHeader are ignored and a second WriteHeader is
// dropped. Bodies that are not valid UTF-8 are sent base64-encoded (isBase64Encoded), which is
// lossless whatever the content type; for a REST API to turn them back into bytes its
// BinaryMediaTypes must list the content type.
package lambdahttp

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// Handler is a lambda.Handler that serves API Gateway proxy events (payload 1.0 and 2.0) with an
// http.Handler. It is safe for concurrent use.
type Handler struct {
	h           http.Handler
	invocations atomic.Int64
}

var _ lambda.Handler = (*Handler)(nil)

// New returns a Handler that serves API Gateway events with h.
func New(h http.Handler) *Handler {
	return &Handler{h: netHTTPSemantics(h)}
}

// Invoke converts one API Gateway event into an http.Request, serves it and returns the proxy
// response as JSON. It returns an error, which Lambda reports as a function error and API
// Gateway as a 502, only for a payload that is not an API Gateway proxy event.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	inv := &invocation{cold: h.invocations.Add(1) == 1}
	if payloadVersion(payload) == "2.0" {
		return h.invokeV2(ctx, inv, payload)
	}
	return h.invokeV1(ctx, inv, payload)
}

func (h *Handler) invokeV1(ctx context.Context, inv *invocation, payload []byte) ([]byte, error) {
	var ev events.APIGatewayProxyRequest
	if err := decodeV1(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode API Gateway payload 1.0: %w", err)
	}
	if ev.HTTPMethod == "" {
		return nil, fmt.Errorf("decode API Gateway payload 1.0: no httpMethod: not an API Gateway proxy event")
	}
	inv.v1 = &ev.RequestContext
	r, err := requestV1(context.WithValue(ctx, invocationKey{}, inv), &ev)
	if err != nil {
		return nil, fmt.Errorf("serve API Gateway payload 1.0: %w", err)
	}
	w := core.NewProxyResponseWriter()
	h.h.ServeHTTP(w, r)
	resp, err := w.GetProxyResponse()
	if err != nil {
		return nil, fmt.Errorf("serve API Gateway payload 1.0: %w", err)
	}
	return appendResponseV1(make([]byte, 0, responseSize(resp.Body)), &resp), nil
}

func (h *Handler) invokeV2(ctx context.Context, inv *invocation, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := decodeV2(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode API Gateway payload 2.0: %w", err)
	}
	if ev.RequestContext.HTTP.Method == "" {
		return nil, fmt.Errorf("decode API Gateway payload 2.0: no requestContext.http.method")
	}
	inv.v2 = &ev.RequestContext
	r, err := requestV2(context.WithValue(ctx, invocationKey{}, inv), &ev)
	if err != nil {
		return nil, fmt.Errorf("serve API Gateway payload 2.0: %w", err)
	}
	w := core.NewProxyResponseWriterV2()
	h.h.ServeHTTP(w, r)
	resp, err := w.GetProxyResponse()
	if err != nil {
		return nil, fmt.Errorf("serve API Gateway payload 2.0: %w", err)
	}
	return appendResponseV2(make([]byte, 0, responseSize(resp.Body)), &resp), nil
}

// responseSize is room for a response with body and a few headers, so that encoding it
// allocates once.
func responseSize(body string) int { return len(body) + len(body)/8 + 512 }
