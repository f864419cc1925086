package tracing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	// The JSON codec lambdahttp already links (see its package comment).
	json "github.com/go-json-experiment/json/v1"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exporter sends spans as OTLP/HTTP with the JSON encoding (POST <endpoint>/v1/traces,
// application/json), which every OTLP receiver accepts beside protobuf, the ADOT collector's
// included.
//
// It stands in for go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp on
// measurement: that exporter encodes protobuf through go.opentelemetry.io/proto/otlp, whose
// collector package is generated with its gRPC service, so every function linked gRPC, grpc-gateway
// and golang.org/x/net/trace with it. Each binary grew 5.6 MB, and an execution environment's Max
// Memory Used (make bench-lambda's BenchmarkColdStart, alternating with the commit before) grew
// from 21.6 to 28.7 MiB, with tracing off: the runtime touches every package's type and itab data
// at start. The OTLP/JSON mapping is short and fixed by the OTLP specification (hex trace and
// span ids, integer enums, 64-bit integers as decimal strings), and tracingtest's receiver
// decodes what is sent here with the collector's own OTLP/JSON unmarshaler
// (go.opentelemetry.io/collector/pdata), so a mapping error fails the tests.
type exporter struct {
	url    string
	client *http.Client
}

func newExporter(endpoint string, timeout time.Duration) *exporter {
	return &exporter{url: endpoint + "/v1/traces", client: &http.Client{Timeout: timeout}}
}

// ExportSpans implements sdktrace.SpanExporter: one request per batch, no retry (see New).
func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	body, err := json.Marshal(encode(spans))
	if err != nil {
		return fmt.Errorf("tracing: encode spans: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("tracing: export: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("tracing: export: the receiver answered %s", resp.Status)
	}
	return nil
}

// Shutdown implements sdktrace.SpanExporter; there is nothing to release.
func (e *exporter) Shutdown(context.Context) error { return nil }

// The OTLP/JSON messages (opentelemetry-proto's trace/v1, common/v1 and resource/v1), with the
// fields this exporter sets.
type (
	exportRequest struct {
		ResourceSpans []resourceSpans `json:"resourceSpans"`
	}
	resourceSpans struct {
		Resource   resourceJSON `json:"resource"`
		ScopeSpans []scopeSpans `json:"scopeSpans"`
		SchemaURL  string       `json:"schemaUrl,omitempty"`
	}
	resourceJSON struct {
		Attributes []keyValue `json:"attributes"`
	}
	scopeSpans struct {
		Scope     scopeJSON  `json:"scope"`
		Spans     []spanJSON `json:"spans"`
		SchemaURL string     `json:"schemaUrl,omitempty"`
	}
	scopeJSON struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	}
	spanJSON struct {
		TraceID                string      `json:"traceId"`
		SpanID                 string      `json:"spanId"`
		TraceState             string      `json:"traceState,omitempty"`
		ParentSpanID           string      `json:"parentSpanId,omitempty"`
		Flags                  uint32      `json:"flags,omitempty"`
		Name                   string      `json:"name"`
		Kind                   int         `json:"kind"`
		StartTimeUnixNano      uint64      `json:"startTimeUnixNano,string"`
		EndTimeUnixNano        uint64      `json:"endTimeUnixNano,string"`
		Attributes             []keyValue  `json:"attributes,omitempty"`
		DroppedAttributesCount int         `json:"droppedAttributesCount,omitempty"`
		Events                 []eventJSON `json:"events,omitempty"`
		DroppedEventsCount     int         `json:"droppedEventsCount,omitempty"`
		Links                  []linkJSON  `json:"links,omitempty"`
		DroppedLinksCount      int         `json:"droppedLinksCount,omitempty"`
		Status                 statusJSON  `json:"status"`
	}
	eventJSON struct {
		TimeUnixNano           uint64     `json:"timeUnixNano,string"`
		Name                   string     `json:"name"`
		Attributes             []keyValue `json:"attributes,omitempty"`
		DroppedAttributesCount int        `json:"droppedAttributesCount,omitempty"`
	}
	linkJSON struct {
		TraceID                string     `json:"traceId"`
		SpanID                 string     `json:"spanId"`
		TraceState             string     `json:"traceState,omitempty"`
		Attributes             []keyValue `json:"attributes,omitempty"`
		DroppedAttributesCount int        `json:"droppedAttributesCount,omitempty"`
	}
	statusJSON struct {
		Message string `json:"message,omitempty"`
		Code    int    `json:"code,omitempty"`
	}
	keyValue struct {
		Key   string   `json:"key"`
		Value anyValue `json:"value"`
	}
	anyValue struct {
		StringValue *string     `json:"stringValue,omitempty"`
		BoolValue   *bool       `json:"boolValue,omitempty"`
		IntValue    *int64      `json:"intValue,string,omitempty"`
		DoubleValue *float64    `json:"doubleValue,omitempty"`
		ArrayValue  *arrayValue `json:"arrayValue,omitempty"`
	}
	arrayValue struct {
		Values []anyValue `json:"values"`
	}
)

// OTLP's Status.code: UNSET 0, OK 1, ERROR 2 (the API's codes.Ok and codes.Error are 2 and 1).
var statusCodes = map[codes.Code]int{codes.Unset: 0, codes.Ok: 1, codes.Error: 2}

// OTLP's span flags: the W3C trace flags in the low byte, and bits 8 and 9 saying whether the
// parent is known to be remote, and whether it is.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// encode groups spans by resource and then by instrumentation scope, as OTLP nests them.
func encode(spans []sdktrace.ReadOnlySpan) exportRequest {
	var req exportRequest
	resources := map[attribute.Distinct]int{}
	scopeKeys := map[attribute.Distinct]map[string]int{}
	for _, s := range spans {
		res := s.Resource()
		rk := res.Equivalent()
		ri, ok := resources[rk]
		if !ok {
			ri = len(req.ResourceSpans)
			resources[rk] = ri
			scopeKeys[rk] = map[string]int{}
			req.ResourceSpans = append(req.ResourceSpans, resourceSpans{
				Resource: resourceJSON{Attributes: keyValues(res.Attributes())}, SchemaURL: res.SchemaURL(),
			})
		}
		sc := s.InstrumentationScope()
		sk := sc.Name + "\x00" + sc.Version + "\x00" + sc.SchemaURL
		si, ok := scopeKeys[rk][sk]
		if !ok {
			si = len(req.ResourceSpans[ri].ScopeSpans)
			scopeKeys[rk][sk] = si
			req.ResourceSpans[ri].ScopeSpans = append(req.ResourceSpans[ri].ScopeSpans, scopeSpans{
				Scope: scopeJSON{Name: sc.Name, Version: sc.Version}, SchemaURL: sc.SchemaURL,
			})
		}
		ss := &req.ResourceSpans[ri].ScopeSpans[si]
		ss.Spans = append(ss.Spans, encodeSpan(s))
	}
	return req
}

func encodeSpan(s sdktrace.ReadOnlySpan) spanJSON {
	sc := s.SpanContext()
	out := spanJSON{
		TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(),
		TraceState: sc.TraceState().String(), Flags: uint32(sc.TraceFlags()) | flagHasIsRemote,
		Name: s.Name(), Kind: int(s.SpanKind()),
		StartTimeUnixNano: unixNano(s.StartTime()), EndTimeUnixNano: unixNano(s.EndTime()),
		Attributes: keyValues(s.Attributes()), DroppedAttributesCount: s.DroppedAttributes(),
		DroppedEventsCount: s.DroppedEvents(), DroppedLinksCount: s.DroppedLinks(),
		Status: statusJSON{Code: statusCodes[s.Status().Code], Message: s.Status().Description},
	}
	if p := s.Parent(); p.IsValid() {
		out.ParentSpanID = p.SpanID().String()
		if p.IsRemote() {
			out.Flags |= flagIsRemote
		}
	}
	for _, ev := range s.Events() {
		out.Events = append(out.Events, eventJSON{
			TimeUnixNano: unixNano(ev.Time), Name: ev.Name,
			Attributes: keyValues(ev.Attributes), DroppedAttributesCount: ev.DroppedAttributeCount,
		})
	}
	for _, l := range s.Links() {
		out.Links = append(out.Links, linkJSON{
			TraceID: l.SpanContext.TraceID().String(), SpanID: l.SpanContext.SpanID().String(),
			TraceState: l.SpanContext.TraceState().String(),
			Attributes: keyValues(l.Attributes), DroppedAttributesCount: l.DroppedAttributeCount,
		})
	}
	return out
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano()) // #nosec G115 -- a span's times are after 1970
}

func keyValues(kvs []attribute.KeyValue) []keyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]keyValue, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, keyValue{Key: string(kv.Key), Value: value(kv.Value)})
	}
	return out
}

func value(v attribute.Value) anyValue {
	switch v.Type() {
	case attribute.BOOL:
		b := v.AsBool()
		return anyValue{BoolValue: &b}
	case attribute.INT64:
		i := v.AsInt64()
		return anyValue{IntValue: &i}
	case attribute.FLOAT64:
		f := v.AsFloat64()
		return anyValue{DoubleValue: &f}
	case attribute.BOOLSLICE:
		return array(v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return array(v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return array(v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return array(v.AsStringSlice(), attribute.StringValue)
	default:
		s := v.String()
		return anyValue{StringValue: &s}
	}
}

// array is an arrayValue of vs, each made an attribute value by wrap.
func array[T any](vs []T, wrap func(T) attribute.Value) anyValue {
	out := make([]anyValue, 0, len(vs))
	for _, e := range vs {
		out = append(out, value(wrap(e)))
	}
	return anyValue{ArrayValue: &arrayValue{Values: out}}
}
