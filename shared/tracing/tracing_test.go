package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/trace"

	"scaleapi/shared/tracing"
	"scaleapi/shared/tracing/tracingtest"
)

func TestParseXRayHeader(t *testing.T) {
	for _, c := range []struct {
		header  string
		trace   string
		span    string
		sampled bool
		ok      bool
	}{
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", true, true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", false, true},
		{"Parent=53995c3f42cd8ad8; Sampled=1; Root=1-5759e988-bd862e3fe1be46a994272793; Lineage=a87bd80c:1|68fd508a:5", "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", true, true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?", "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", false, true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", "", "", false, false},               // ALB's header: no parent
		{"Parent=53995c3f42cd8ad8;Sampled=1", "", "", false, false},                                // no root
		{"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", "", "", false, false}, // unknown version
		{"Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8", "", "", false, false}, // not hex
		{"Root=1-5759e988-bd862e3fe1be46a9942727;Parent=53995c3f42cd8ad8", "", "", false, false},   // short
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8a", "", "", false, false},   // short parent
		{"Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8", "", "", false, false}, // zero trace id
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000", "", "", false, false}, // zero span id
		{"", "", "", false, false},
		{"garbage;;==;", "", "", false, false},
	} {
		sc, err := tracing.ParseXRayHeader(c.header)
		if (err == nil) != c.ok {
			t.Errorf("%q: error %v, want ok %v", c.header, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		if sc.TraceID().String() != c.trace || sc.SpanID().String() != c.span || sc.IsSampled() != c.sampled || !sc.IsRemote() {
			t.Errorf("%q: %s %s sampled %v remote %v", c.header, sc.TraceID(), sc.SpanID(), sc.IsSampled(), sc.IsRemote())
		}
	}
}

func TestOffIsNil(t *testing.T) {
	tr, err := tracing.New(tracing.Options{})
	if err != nil || tr != nil || tr.Enabled() {
		t.Fatalf("no endpoint: %v %v", tr, err)
	}
	r := httptest.NewRequest("GET", "/x", nil)
	ctx, end := tr.Start(r)
	if ctx != r.Context() || trace.SpanFromContext(ctx).SpanContext().IsValid() {
		t.Fatal("off, Start changed the context")
	}
	end("GET /x", 200)
	if tr.QueryTracer() != nil || tr.InstrumentRedis(nil) != nil || tr.Shutdown(context.Background()) != nil {
		t.Fatal("off, the instrumentation is not a no-op")
	}
}

func TestBadRatio(t *testing.T) {
	for _, ratio := range []float64{-0.1, 1.5} {
		if _, err := tracing.New(tracing.Options{Endpoint: "http://127.0.0.1:1", SampleRatio: ratio}); err == nil {
			t.Errorf("ratio %v accepted", ratio)
		}
	}
}

// serve runs one request through tr's request span, as api.Observer does, and returns the span
// the handler saw.
func serve(tr *tracing.Tracing, r *http.Request) trace.SpanContext {
	ctx, end := tr.Start(r)
	sc := trace.SpanFromContext(ctx).SpanContext()
	end("GET /things/{id}", 503)
	return sc
}

// lambdaRequest is a request whose context holds the invocation's X-Ray header where
// aws-lambda-go puts it.
func lambdaRequest(header string) *http.Request {
	r := httptest.NewRequest("GET", "/things/7", nil)
	//lint:ignore SA1029 aws-lambda-go's own key, a plain string, is what is read
	return r.WithContext(context.WithValue(r.Context(), "x-amzn-trace-id", header))
}

// In Lambda the X-Ray header decides: a sampled invocation's span is X-Ray's segment's child
// and reaches the receiver before the request is answered; an unsampled one is never sent.
func TestLambdaFollowsXRay(t *testing.T) {
	rcv := tracingtest.Start(t)
	tr, err := tracing.New(tracing.Options{Endpoint: rcv.URL, SampleRatio: 0, Service: "things", FlushEachRequest: true})
	if err != nil {
		t.Fatal(err)
	}
	sampled := serve(tr, lambdaRequest("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"))
	got := rcv.Trace("5759e988bd862e3fe1be46a994272793")
	if len(got) != 1 {
		t.Fatalf("sampled invocation: %d spans at the receiver when it was answered, want 1", len(got))
	}
	s := got[0]
	if s.SpanID != sampled.SpanID().String() || s.ParentID != "53995c3f42cd8ad8" || s.Name != "GET /things/{id}" ||
		s.Kind != ptrace.SpanKindServer || s.Service != "things" || !s.Error ||
		s.Attributes["http.route"] != "/things/{id}" || s.Attributes["http.response.status_code"] != "503" ||
		s.Attributes["http.request.method"] != "GET" || s.Attributes["url.path"] != "/things/7" {
		t.Fatalf("span %+v", s)
	}

	before := rcv.Exports()
	unsampled := serve(tr, lambdaRequest("Root=1-5759e988-00000000000000000000beef;Parent=53995c3f42cd8ad8;Sampled=0"))
	if unsampled.IsSampled() || rcv.Exports() != before {
		t.Fatalf("unsampled invocation exported (sampled %v, exports %d → %d)", unsampled.IsSampled(), before, rcv.Exports())
	}
	// A header that does not parse is no parent: the ratio (0) decides.
	if serve(tr, lambdaRequest("Root=nonsense")).IsSampled() {
		t.Fatal("a malformed header was followed")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.Trace("5759e98800000000000000000000beef")); n != 0 {
		t.Fatalf("unsampled trace reached the receiver at shutdown: %d spans", n)
	}
}

// Outside Lambda a traceparent header names the trace but does not decide the sampling: the
// process's ratio does.
func TestServerModeRatioDecides(t *testing.T) {
	rcv := tracingtest.Start(t)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, c := range []struct {
		ratio float64
		want  int
	}{{0, 0}, {1, 1}} {
		tr, err := tracing.New(tracing.Options{Endpoint: rcv.URL, SampleRatio: c.ratio, Service: "server"})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/things/7", nil)
		r.Header.Set("Traceparent", parent)
		sc := serve(tr, r)
		if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("ratio %v: trace %s, want the traceparent's", c.ratio, sc.TraceID())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := tr.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		got := rcv.Trace("4bf92f3577b34da6a3ce929d0e0e4736")
		if len(got) != c.want {
			t.Fatalf("ratio %v: %d spans, want %d (the header's sampled flag must not decide)", c.ratio, len(got), c.want)
		}
		if c.want == 1 && got[0].ParentID != "00f067aa0ba902b7" {
			t.Fatalf("parent %s", got[0].ParentID)
		}
	}
}

// A collector that hangs costs a sampled request at most the flush timeout (50 ms here), not
// the exporter's own timeout (1 s).
func TestFlushIsBounded(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang)
	tr, err := tracing.New(tracing.Options{Endpoint: srv.URL, Service: "things", FlushEachRequest: true, FlushTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	serve(tr, lambdaRequest("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"))
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("a hung collector held the request %v", d)
	}
}
