package lambdabench

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/tracing/tracingtest"
)

// BenchmarkTracing is what tracing costs a cached GET of the entities function in a warm
// environment, three ways: off (no OTEL_EXPORTER_OTLP_ENDPOINT, make run's default); on, with
// X-Ray not sampling the invocation (most invocations in Lambda: its default rule samples the
// first request each second and 5 % of the rest); and on and sampled, the invocation's spans
// flushed over OTLP/HTTP to a receiver on loopback (the collector extension's role) before it
// answers.
func BenchmarkTracing(b *testing.B) {
	s := newStack(b)
	rcv := tracingtest.Start(b)
	const sampled = "Root=1-67a0f1e2-5ab1c2d3e4f5a6b7c8d9e0f1;Parent=53995c3f42cd8ad8;Sampled=1"
	for _, c := range []struct {
		name, endpoint, header string
	}{{"off", "", unsampled}, {"unsampled", rcv.URL, unsampled}, {"sampled", rcv.URL, sampled}} {
		vars := env(s.database, s.redisURL, function.Entities)
		if c.endpoint != "" {
			vars["OTEL_EXPORTER_OTLP_ENDPOINT"], vars["AWS_LAMBDA_RUNTIME_API"] = c.endpoint, "127.0.0.1:9001"
		}
		e := build(b, function.Entities, vars)
		e.traceHeader = c.header
		b.Run(c.name, func(b *testing.B) {
			evs := eventsOf(b, getProject(s), recorded)
			want := []byte(`"statusCode":200,`)
			for i := range 3 {
				if out, err := e.invokeRaw(b.Context(), evs[i]); err != nil || !bytes.Contains(out, want) {
					b.Fatalf("%v %.200s", err, out)
				}
			}
			spans0 := len(rcv.Spans())
			var cpu time.Duration
			durations := make([]time.Duration, 0, 1024)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c0, t0 := cpuTime(), time.Now()
				out, err := e.invokeRaw(b.Context(), evs[i%recorded])
				durations = append(durations, time.Since(t0))
				cpu += cpuTime() - c0
				if err != nil || !bytes.Contains(out[:min(len(out), 64)], want) {
					b.Fatalf("%v %.200s", err, out)
				}
				i++
			}
			n := float64(len(durations))
			spans := float64(len(rcv.Spans()) - spans0)
			if (c.header == sampled) != (spans > 0) {
				b.Fatalf("%s: %v spans exported", c.name, spans)
			}
			slices.Sort(durations)
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/op")
			b.ReportMetric(float64(percentile(durations, 50).Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(percentile(durations, 99).Nanoseconds())/1e3, "p99-µs")
			b.ReportMetric(spans/n, "spans/op")
		})
	}
}
