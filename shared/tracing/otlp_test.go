package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestExporterSpeaksOTLPJSON exports spans with every kind of attribute value, an event, a link,
// a remote parent, two scopes and both error and ok statuses, and decodes the request with the
// collector's OTLP/JSON unmarshaler: every field must come out as the SDK recorded it.
func TestExporterSpeaksOTLPJSON(t *testing.T) {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong request", http.StatusBadRequest)
			return
		}
		body, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(newExporter(srv.URL, time.Second)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "things"))),
	)
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x5b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		SpanID:  trace.SpanID{0xaa, 1, 2, 3, 4, 5, 6, 7}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x77, 15: 1}, SpanID: trace.SpanID{0x66, 7: 1},
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	start := time.Unix(1_700_000_000, 123_456_789)
	ctx, server := tp.Tracer("scope-a", trace.WithInstrumentationVersion("1.2")).Start(ctx, "GET /things/{id}",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithLinks(trace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("why", "retry")}}))
	server.SetAttributes(
		attribute.String("s", "text"), attribute.Bool("b", true), attribute.Int64("i", -1<<40), attribute.Float64("f", 2.5),
		attribute.StringSlice("ss", []string{"x", "y"}), attribute.Int64Slice("is", []int64{1, 2}),
		attribute.BoolSlice("bs", []bool{true, false}), attribute.Float64Slice("fs", []float64{0.5}),
	)
	server.AddEvent("retried", trace.WithTimestamp(start.Add(time.Millisecond)), trace.WithAttributes(attribute.Int("attempt", 2)))
	server.SetStatus(codes.Error, "boom")
	_, client := tp.Tracer("scope-b").Start(ctx, "SELECT", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start))
	client.SetStatus(codes.Ok, "")
	client.End(trace.WithTimestamp(start.Add(2 * time.Millisecond)))
	server.End(trace.WithTimestamp(start.Add(3 * time.Millisecond)))

	var u ptrace.JSONUnmarshaler
	traces, err := u.UnmarshalTraces(body) // the last export holds the server span
	if err != nil {
		t.Fatalf("the collector's unmarshaler refuses the export: %v\n%s", err, body)
	}
	if traces.SpanCount() != 1 || traces.ResourceSpans().Len() != 1 {
		t.Fatalf("%d spans in %d resources, want 1 in 1: %s", traces.SpanCount(), traces.ResourceSpans().Len(), body)
	}
	rs := traces.ResourceSpans().At(0)
	if v, _ := rs.Resource().Attributes().Get("service.name"); v.Str() != "things" {
		t.Errorf("service.name %v", v.AsString())
	}
	ss := rs.ScopeSpans().At(0)
	if ss.Scope().Name() != "scope-a" || ss.Scope().Version() != "1.2" {
		t.Errorf("scope %s %s", ss.Scope().Name(), ss.Scope().Version())
	}
	s := ss.Spans().At(0)
	if s.TraceID() != pcommon.TraceID(parent.TraceID()) || s.ParentSpanID() != pcommon.SpanID(parent.SpanID()) ||
		s.SpanID() != pcommon.SpanID(server.SpanContext().SpanID()) {
		t.Errorf("ids: trace %s parent %s span %s", s.TraceID(), s.ParentSpanID(), s.SpanID())
	}
	if s.Name() != "GET /things/{id}" || s.Kind() != ptrace.SpanKindServer ||
		s.StartTimestamp().AsTime() != start.UTC() || s.EndTimestamp().AsTime() != start.Add(3*time.Millisecond).UTC() {
		t.Errorf("span %s kind %v %v–%v", s.Name(), s.Kind(), s.StartTimestamp(), s.EndTimestamp())
	}
	if s.Status().Code() != ptrace.StatusCodeError || s.Status().Message() != "boom" {
		t.Errorf("status %v %q", s.Status().Code(), s.Status().Message())
	}
	if s.Flags() != 0x301 {
		t.Errorf("flags %#x, want sampled with a remote parent (0x301)", s.Flags())
	}
	want := map[string]any{"s": "text", "b": true, "i": int64(-1 << 40), "f": 2.5,
		"ss": []any{"x", "y"}, "is": []any{int64(1), int64(2)}, "bs": []any{true, false}, "fs": []any{0.5}}
	got := s.Attributes().AsRaw()
	for k, v := range want {
		if g, ok := got[k]; !ok || !equalRaw(g, v) {
			t.Errorf("attribute %s = %#v, want %#v", k, g, v)
		}
	}
	if s.Events().Len() != 1 || s.Events().At(0).Name() != "retried" || s.Events().At(0).Timestamp().AsTime() != start.Add(time.Millisecond).UTC() {
		t.Errorf("events %v", s.Events().Len())
	} else if v, _ := s.Events().At(0).Attributes().Get("attempt"); v.Int() != 2 {
		t.Errorf("event attribute %v", v.AsString())
	}
	if s.Links().Len() != 1 || s.Links().At(0).TraceID() != pcommon.TraceID(linked.TraceID()) || s.Links().At(0).SpanID() != pcommon.SpanID(linked.SpanID()) {
		t.Errorf("links %d", s.Links().Len())
	}
}

func equalRaw(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok != bok {
		return false
	}
	if !aok {
		return a == b
	}
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// A batch's spans of one resource and two scopes nest as OTLP wants them, and a receiver's
// refusal is the export's error.
func TestExporterGroupsAndFails(t *testing.T) {
	var body []byte
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	e := newExporter(srv.URL, time.Second)
	rec := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&collect{}))
	var spans []sdktrace.ReadOnlySpan
	for _, scope := range []string{"a", "b", "a"} {
		_, s := rec.Tracer(scope).Start(context.Background(), scope)
		s.End()
		spans = append(spans, s.(sdktrace.ReadOnlySpan))
	}
	if err := e.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	var u ptrace.JSONUnmarshaler
	traces, err := u.UnmarshalTraces(body)
	if err != nil {
		t.Fatal(err)
	}
	scopes := traces.ResourceSpans().At(0).ScopeSpans()
	if traces.ResourceSpans().Len() != 1 || scopes.Len() != 2 || scopes.At(0).Spans().Len() != 2 || scopes.At(1).Spans().Len() != 1 {
		t.Fatalf("nesting: %s", body)
	}
	status = http.StatusServiceUnavailable
	if err := e.ExportSpans(context.Background(), spans); err == nil {
		t.Fatal("a 503 from the receiver is not an error")
	}
	if err := e.ExportSpans(context.Background(), nil); err != nil {
		t.Fatalf("an empty batch: %v", err)
	}
	srv.Close()
	if err := e.ExportSpans(context.Background(), spans); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("a receiver that is gone: %v", err)
	}
}

// collect is an exporter that keeps nothing: the spans above are exported by hand.
type collect struct{}

func (*collect) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (*collect) Shutdown(context.Context) error                             { return nil }
