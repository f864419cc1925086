package lambdabench

import (
	"testing"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/tracing/tracingtest"
)

// BenchmarkTracing is what tracing costs a cached GET of the entities function in a warm
// environment, three ways: off (no OTEL_EXPORTER_OTLP_ENDPOINT, make run's default); on, with
// X-Ray not sampling the invocation (most invocations in Lambda: its default rule samples the
// first request each second and 5 % of the rest); and on and sampled, the invocation's spans
// flushed over OTLP/HTTP to a receiver on loopback (the collector extension's role) before it
// answers. Each is BenchmarkInvoke's projects/get-cached in an environment of its own.
func BenchmarkTracing(b *testing.B) {
	s := newStack(b)
	rcv := tracingtest.Start(b)
	const sampled = "Root=1-67a0f1e2-5ab1c2d3e4f5a6b7c8d9e0f1;Parent=53995c3f42cd8ad8;Sampled=1"
	rt := route{name: "projects/get-cached", status: 200, req: getProject}
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
			spans0 := len(rcv.Spans())
			s.benchOn(b, rt, e)
			spans := len(rcv.Spans()) - spans0
			if (c.header == sampled) != (spans > 0) {
				b.Fatalf("%s: %d spans exported", c.name, spans)
			}
			b.ReportMetric(float64(spans)/float64(b.N), "spans/op")
		})
	}
}
