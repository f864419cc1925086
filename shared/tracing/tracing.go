// Package tracing gives every request, every PostgreSQL query and every Redis command an
// OpenTelemetry span, exported over OTLP/HTTP. In Lambda the receiver is the AWS Distro for
// OpenTelemetry collector, which runs as an extension from a layer (template.yaml's Tracing
// parameter) and forwards the spans to X-Ray; locally nothing is configured and tracing is off,
// at no cost: New returns nil, and nil is a *Tracing whose methods do nothing.
//
// Sampling is X-Ray's. Lambda hands each invocation the X-Ray trace header of the segment it
// made for it (Root, Parent, Sampled), which aws-lambda-go puts in the invocation's context;
// the request span becomes that segment's child and is recorded only when X-Ray sampled the
// request (its default rule: the first request each second and 5 % of the rest). Outside Lambda
// (functions/server) a request's span continues a W3C traceparent header's trace, but whether it
// is recorded is this process's own ratio (SampleRatio, applied to the trace id), never the
// header's flag: a client must not be able to have every one of its requests traced.
//
// Lambda freezes an environment as soon as the invocation returns, so spans batched for later
// would wait, unsent, for the next invocation. With FlushEachRequest (set under the Lambda
// Runtime API) a sampled request's spans are flushed to the collector before the response is
// returned: one OTLP request to localhost, on sampled requests only. The collector then
// exports to X-Ray on its own time.
//
// The X-Ray header is parsed here, in a few lines, rather than through
// go.opentelemetry.io/contrib/propagators/aws, which its maintainers have deprecated; the
// format (Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>) is fixed by X-Ray. Query spans
// are github.com/exaring/otelpgx's and command spans github.com/redis/go-redis/extra/redisotel's;
// neither records statement arguments or command values, which hold users' data.
package tracing

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Options configure New.
type Options struct {
	// Endpoint is the OTLP/HTTP base URL (http://localhost:4318 for the collector extension);
	// empty turns tracing off.
	Endpoint string
	// SampleRatio is the share of requests traced when no X-Ray header decides (outside Lambda).
	SampleRatio float64
	// Service names the spans' service: the function's name.
	Service string
	// FlushEachRequest flushes a sampled request's spans before it is answered (in Lambda).
	FlushEachRequest bool
	// FlushTimeout bounds that flush, so that a collector that hangs costs a request at most
	// this long.
	FlushTimeout time.Duration
}

// Tracing is the process's tracer provider and the instrumentation built on it. A nil *Tracing
// is tracing turned off.
type Tracing struct {
	provider  *sdktrace.TracerProvider
	tracer    trace.Tracer
	opts      Options
	traceCtxt propagation.TraceContext
}

// New returns tracing as o configures it, or nil when o.Endpoint is empty.
func New(o Options) (*Tracing, error) {
	if o.Endpoint == "" {
		return nil, nil
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %v is not within [0, 1]", o.SampleRatio)
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = 100 * time.Millisecond
	}
	// A failed export is dropped, not retried: a retry would hold the invocation that flushes,
	// and spans are a sample anyway.
	exporter := newExporter(strings.TrimSuffix(o.Endpoint, "/"), time.Second)
	ratio := sdktrace.TraceIDRatioBased(o.SampleRatio)
	// A remote parent's flag is X-Ray's decision in Lambda (the only remote parent there) and
	// a client's claim elsewhere, where the ratio decides instead.
	sampler := sdktrace.ParentBased(ratio)
	if !o.FlushEachRequest {
		sampler = sdktrace.ParentBased(ratio, sdktrace.WithRemoteParentSampled(ratio), sdktrace.WithRemoteParentNotSampled(ratio))
	}
	res := resource.NewSchemaless(
		semconv.ServiceName(o.Service),
		semconv.CloudProviderAWS,
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(res),
	)
	return &Tracing{provider: tp, tracer: tp.Tracer("scaleapi"), opts: o}, nil
}

// Enabled reports whether spans are made at all.
func (t *Tracing) Enabled() bool { return t != nil }

// Start starts r's request span, the child of the invocation's X-Ray segment in Lambda or of a
// traceparent header elsewhere, and returns the request's new context and the function that
// ends the span once the request has been answered with status on route. Off, it returns r's
// own context and a function that does nothing.
func (t *Tracing) Start(r *http.Request) (context.Context, func(route string, status int)) {
	ctx := r.Context()
	if t == nil {
		return ctx, func(string, int) {}
	}
	if sc, ok := lambdaParent(ctx); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	} else {
		ctx = t.traceCtxt.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
	if !span.IsRecording() {
		return ctx, func(string, int) { span.End() }
	}
	span.SetAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path))
	return ctx, func(route string, status int) {
		path := strings.TrimPrefix(route, r.Method+" ") // the mux's pattern is "GET /things/{id}"
		span.SetName(r.Method + " " + path)
		span.SetAttributes(
			semconv.HTTPRoute(path),
			semconv.HTTPResponseStatusCode(status),
		)
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
		if t.opts.FlushEachRequest {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.opts.FlushTimeout)
			defer cancel()
			_ = t.provider.ForceFlush(fctx) // a lost sample is not the request's failure
		}
	}
}

// QueryTracer returns the pgx tracer that makes a span of each query, batch and COPY run under a
// recorded span, or nil when tracing is off. Statement arguments are never recorded.
func (t *Tracing) QueryTracer() *otelpgx.Tracer {
	if t == nil {
		return nil
	}
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(t.provider),
		otelpgx.WithDisableAcquireTracer(),
	)
}

// InstrumentRedis makes a span of each command and pipeline rdb sends under a recorded span (a
// cluster client's nodes each get the hook as they are discovered). Keys and values are never
// recorded: the command's name is the span's name.
func (t *Tracing) InstrumentRedis(rdb redis.UniversalClient) error {
	if t == nil {
		return nil
	}
	return redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(t.provider),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
		redisotel.WithAttributes(attribute.String("db.system.name", "redis")),
	)
}

// Shutdown exports what is left and stops the exporter; it runs at SIGTERM.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// lambdaTraceKey is where aws-lambda-go leaves the invocation's X-Ray trace header: a plain
// string key, its own choice, which is why it is spelled out here.
const lambdaTraceKey = "x-amzn-trace-id"

// lambdaParent returns the X-Ray segment the invocation in ctx belongs to, as a remote parent.
func lambdaParent(ctx context.Context) (trace.SpanContext, bool) {
	h, _ := ctx.Value(lambdaTraceKey).(string)
	if h == "" {
		return trace.SpanContext{}, false
	}
	sc, err := ParseXRayHeader(h)
	return sc, err == nil
}

// ParseXRayHeader parses an X-Ray trace header (Root=1-5759e988-bd862e3fe1be46a994272793;
// Parent=53995c3f42cd8ad8;Sampled=1, fields in any order, others such as Lineage ignored) into
// a remote span context. Root and Parent are required; Sampled=1 marks it sampled, and anything
// else (0, ?, absent) does not.
func ParseXRayHeader(h string) (trace.SpanContext, error) {
	var tid trace.TraceID
	var sid trace.SpanID
	var haveRoot, haveParent bool
	var flags trace.TraceFlags
	for field := range strings.SplitSeq(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch k {
		case "Root":
			// 1-<8 hex digits of epoch seconds>-<24 hex digits>: together the 16-byte trace id.
			if len(v) != 35 || v[0] != '1' || v[1] != '-' || v[10] != '-' {
				return trace.SpanContext{}, errors.New("tracing: malformed X-Ray Root")
			}
			if _, err := hex.Decode(tid[:4], []byte(v[2:10])); err != nil {
				return trace.SpanContext{}, errors.New("tracing: malformed X-Ray Root")
			}
			if _, err := hex.Decode(tid[4:], []byte(v[11:])); err != nil {
				return trace.SpanContext{}, errors.New("tracing: malformed X-Ray Root")
			}
			haveRoot = true
		case "Parent":
			if len(v) != 16 {
				return trace.SpanContext{}, errors.New("tracing: malformed X-Ray Parent")
			}
			if _, err := hex.Decode(sid[:], []byte(v)); err != nil {
				return trace.SpanContext{}, errors.New("tracing: malformed X-Ray Parent")
			}
			haveParent = true
		case "Sampled":
			if v == "1" {
				flags = trace.FlagsSampled
			}
		}
	}
	if !haveRoot || !haveParent {
		return trace.SpanContext{}, errors.New("tracing: X-Ray header without Root and Parent")
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
	if !sc.IsValid() {
		return trace.SpanContext{}, errors.New("tracing: X-Ray header with a zero id")
	}
	return sc, nil
}
