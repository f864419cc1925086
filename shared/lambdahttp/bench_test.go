package lambdahttp

import (
	"net/http"
	"testing"
	"time"
)

// The benchmarks measure the adapter alone — event decode, conversion to an http.Request, the
// response writer and the response encode — around a handler that does nearly nothing, using
// SAM's sample events. Compare runs with benchstat (go test -bench Adapter -count 10).

func benchmarkAdapter(b *testing.B, payload []byte) {
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","name":"project"}`))
	}))
	ctx := lambdaCtx(b, time.Now().Add(time.Hour))
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Invoke(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdapterV1(b *testing.B) { benchmarkAdapter(b, fixture(b, "aws-proxy.json", nil)) }

func BenchmarkAdapterV2(b *testing.B) { benchmarkAdapter(b, fixture(b, "http-api-proxy.json", nil)) }
