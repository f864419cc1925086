// Package lambdabench measures the functions at the Lambda boundary, in process: each
// function's real handler, built exactly as lambdamain.Run builds it (platform.Build from
// environment variables, the function's Build, platform's observer middleware,
// lambdahttp.New), invoked with API Gateway REST API (payload 1.0) event bytes shaped as AWS
// sends them, against the harness's real PostgreSQL (through PgBouncer, with the streaming
// replica) and Redis. No HTTP hop stands between the benchmark and the handler: what is
// measured is what a warm execution environment spends on one invocation, minus the Runtime
// API, which BenchmarkRuntimeAPI measures on its own.
//
//	BenchmarkInvoke/<route>        a warm invocation of each route (see routes)
//	BenchmarkRuntimeAPI/loop       aws-lambda-go's next/response exchange with a Runtime API in
//	                               a child process, around a handler that does nothing; the
//	                               route row is the cached GET through the same loop
//	BenchmarkColdStart/<function>  a new execution environment of each function's real
//	                               bootstrap under cmd/local's lambdaenv: init, first
//	                               invocation, Max Memory Used
//	BenchmarkTracing/<mode>        the cached GET of the entities function with tracing off,
//	                               on and not sampled, and on and sampled (spans flushed to an
//	                               OTLP receiver on loopback before the answer)
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
//	api-cpu-µs/op             the Runtime API child's CPU per invocation (AWS's side in Lambda)
//	init-ms, first-ms         the init phase and the first invocation, medians (cold starts)
//	max-memory-MiB            the environment's peak resident set (VmHWM), the largest seen
//	spans/op                  spans exported per invocation (BenchmarkTracing)
//
// The package has no code of its own outside its tests: it exists for them, and lives under
// functions/internal/function because only there may it import the functions' wiring.
//
// Run it against the harness:
//
//	flock /tmp/bench.lock go run ./cmd/devservices run -- \
//	    go test -run '^$' -bench . -benchmem ./functions/internal/function/lambdabench
package lambdabench
