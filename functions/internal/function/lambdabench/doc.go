// Package lambdabench measures the functions at the Lambda boundary, in process: each
// function's real handler, built exactly as lambdamain.Run builds it (platform.Build from
// environment variables, the function's Build, platform's observer middleware,
// lambdahttp.New), invoked with API Gateway REST API (payload 1.0) event bytes shaped as AWS
// sends them, against the harness's real PostgreSQL (through PgBouncer, with the streaming
// replica) and Redis. No HTTP hop stands between the benchmark and the handler: what is
// measured is what a warm execution environment spends on one invocation, minus the Runtime
// API, which BenchmarkRuntimeAPI measures on its own.
//
// Every figure is reported as a Go benchmark metric, so the output feeds benchstat:
//
//	ns/op, B/op, allocs/op   the testing package's, per invocation
//	cpu-µs/op                 process CPU (getrusage RUSAGE_SELF, user+system) per invocation:
//	                          the handler, the garbage collector and the pgx and go-redis
//	                          goroutines, but not PostgreSQL, PgBouncer or Redis, which are
//	                          other processes
//	p50-µs, p99-µs            single invocations' wall time
//	redis-trips/op            round trips to Redis per invocation, read from the request's EMF
//	pg-trips/op               line (RedisCalls, DatabaseCalls; see shared/metrics)
//
// The package has no code of its own outside its tests: it exists for them, and lives under
// functions/internal/function because only there may it import the functions' wiring.
//
// Run it against the harness:
//
//	flock /tmp/bench.lock go run ./cmd/devservices run -- \
//	    go test -run '^$' -bench . -benchmem ./functions/internal/function/lambdabench
package lambdabench
