// Command plan sizes the Lambda stack of template.yaml for the seed's four user bands (0–1K,
// 1K–10K, 10K–100K, 100K+) and for a given load, from what `make bench-lambda` measured per
// invocation, and estimates what a month of it costs.
//
//	go run ./cmd/plan [-users 50000] [-rps 2000] [assumption flags]   (make plan PLAN_FLAGS=...)
//
// It reads:
//
//   - bench-results/lambda-bench.txt (-report), the Go benchmark text `make bench-lambda` writes:
//     each route's wall time, CPU and PostgreSQL and Redis round trips per invocation
//     (BenchmarkInvoke), the Runtime API loop's CPU (BenchmarkRuntimeAPI/loop) and the cold
//     starts, the median of each row's runs. testdata/lambda-bench.txt is a real one;
//   - bench-results/report.json (-bench-json), when `make bench` has written one: the cache hit
//     rate of its mix at 32 concurrent requests, unless -hit-rate is given;
//   - template.yaml (-template), through internal/samtemplate: each function's memory, its
//     DB_MAX_CONNS as shared/config reads it, Aurora's capacity range, the proxy's
//     MaxConnectionsPercent, the cache's limits, the secrets and the interface endpoints;
//   - prices.json, embedded: the unit prices, with their date and region.
//
// Everything else is an assumption, a flag with a stated default, and the output prints them
// all. How each figure is computed is said where it is (model.go); the README's "Capacity
// planning" has a run of it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(1)
	}
}

// usageError is a flag the command refuses.
type usageError struct{ error }

// Assumptions are the plan's inputs besides the measured costs, each from a flag.
type Assumptions struct {
	Users, RPS         float64
	ActiveShare        float64
	RequestsPerUser    float64
	Peak               float64
	Mix                map[string]float64 // percent of requests, by class key
	HitRate            float64
	HitRateSource      string
	Target             float64
	CPUFactor          float64
	RTTms              float64
	QueryCPUMs         float64
	QueryHoldMs        float64
	ACUvCPU            float64
	MaxConnections     int
	AccountConcurrency int
	CommandsPerTrip    float64
	NodeOps            float64
	CacheKBPerUser     float64
	DBKBPerUser        float64
	MemoryMB           map[string]int
	Provisioned        bool
}

// defaultMix is the share of each request class, in percent: reads dominate as in make bench's
// mix (70 % GETs of a project), with the lists, reports, writes and auth an app adds around them.
const defaultMix = "get=50,join=10,list=15,summary=3,create=5,patch=7,me=5,login=1,org=2,orgs=2"

// defaultHitRate is the seed's cache hit rate target (> 90 %), used when make bench's report is
// absent.
const defaultHitRate = 0.90

// pathFlags are the inputs' paths, not assumptions: the output names them elsewhere.
var pathFlags = []string{"report", "bench-json", "template"}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	a := &Assumptions{}
	report := fs.String("report", "bench-results/lambda-bench.txt", "make bench-lambda's report (Go benchmark text)")
	benchJSON := fs.String("bench-json", "bench-results/report.json", "make bench's report, for the cache hit rate; skipped when absent")
	template := fs.String("template", "template.yaml", "the SAM template the plan sizes")
	fs.Float64Var(&a.Users, "users", 50_000, "the given load: registered users (0: derived from -rps)")
	fs.Float64Var(&a.RPS, "rps", 0, "the given load: peak requests/s (0: derived from -users)")
	fs.Float64Var(&a.ActiveShare, "active", 0.2, "share of the users active on a day")
	fs.Float64Var(&a.RequestsPerUser, "requests-per-user", 300, "API requests per active user per day")
	fs.Float64Var(&a.Peak, "peak", 3, "peak request rate ÷ the day's average")
	mix := fs.String("mix", defaultMix, "percent of requests per class: get, join (?join=tasks), list, summary, create, patch, me, login, org, orgs")
	fs.Float64Var(&a.HitRate, "hit-rate", defaultHitRate, "cache hit rate of get, join, list and summary (default: make bench's mix-c32 when -bench-json has it)")
	fs.Float64Var(&a.Target, "target", 0.7, "utilisation target: provisioned concurrency, reserved headroom and Aurora (the seed's HPA 70 %)")
	fs.Float64Var(&a.CPUFactor, "cpu-factor", 1, "Lambda's (Graviton) CPU time for one of the report machine's CPU µs")
	fs.Float64Var(&a.RTTms, "rtt-ms", 0.3, "network round trip to RDS Proxy or ElastiCache inside the VPC, added per round trip (the benchmark's were on loopback)")
	fs.Float64Var(&a.QueryCPUMs, "query-cpu-ms", 0.5, "Aurora CPU per query (indexed single-row and page reads)")
	fs.Float64Var(&a.QueryHoldMs, "query-hold-ms", 1, "time a query holds a proxy → Aurora connection (make bench: 0.94 ms query average at concurrency 1)")
	fs.Float64Var(&a.ACUvCPU, "acu-vcpu", 0.25, "vCPUs per Aurora ACU (an ACU is ~2 GiB with its share of CPU: a 16 GiB, 2 vCPU r6g.large ≈ 8 ACUs)")
	fs.IntVar(&a.MaxConnections, "max-connections", 0, "Aurora's max_connections (0: derived from AuroraMaxCapacity, ~210 per ACU)")
	fs.IntVar(&a.AccountConcurrency, "account-concurrency", 1000, "the account's Lambda concurrency limit (AWS's default)")
	fs.Float64Var(&a.CommandsPerTrip, "redis-commands-per-trip", 5, "Redis commands per round trip, each one ECPU (a cached GET's one pipeline: session, rate limit, entity, memberships, generations)")
	fs.Float64Var(&a.NodeOps, "node-ops", 100_000, "commands/s one Redis node serves; above it the cache must be a cluster")
	fs.Float64Var(&a.CacheKBPerUser, "cache-kb-per-user", 10, "cache KB per registered user (sessions, refresh tokens, rate limits, cached entries and pages)")
	fs.Float64Var(&a.DBKBPerUser, "db-kb-per-user", 50, "database KB per registered user (their organizations' rows and indexes)")
	memory := fs.String("memory", "", "function memory in MB over the template's, as `Function=MB,...` (e.g. EntitiesFunction=512)")
	fs.BoolVar(&a.Provisioned, "provisioned", true, "provisioned concurrency with target tracking for every function the mix reaches; false prices every invocation on demand")
	// Errors are returned (main prints them); only -h prints the flags, to stdout.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := a.parse(*mix, *memory); err != nil {
		return usageError{err}
	}

	costs, err := readCosts(*report, measuredRows())
	if err != nil {
		return err
	}
	a.HitRateSource = "assumed: the seed's > 90 % target"
	if given["hit-rate"] {
		a.HitRateSource = "-hit-rate"
	} else if rate, ok, err := readHitRate(*benchJSON); err != nil {
		return err
	} else if ok {
		a.HitRate, a.HitRateSource = rate, "measured: "+*benchJSON+", scenario "+mixScenario
	}
	stack, err := readStack(*template)
	if err != nil {
		return err
	}
	for fn := range a.MemoryMB {
		if _, ok := stack.Functions[fn]; !ok {
			return usageError{fmt.Errorf("-memory: the template has no function %s", fn)}
		}
	}
	prices, err := loadPrices()
	if err != nil {
		return err
	}
	prof, err := profile(costs, stack, a)
	if err != nil {
		return err
	}
	var plans []*Plan
	for _, b := range bands {
		plans = append(plans, plan(loadOf(b.Name, b.Users, 0, a), prof, stack, prices, a))
	}
	plans = append(plans, plan(loadOf("given", a.Users, a.RPS, a), prof, stack, prices, a))

	w := &writer{w: stdout}
	w.header(costs, prices, *template)
	w.assumptions(fs, a)
	w.measured(prof, costs, a)
	w.plans(plans)
	w.seed(plans)
	return w.err
}

// parse checks the assumptions and reads the two list flags.
func (a *Assumptions) parse(mix, memory string) error {
	var errs []error
	check := func(name string, v, lo, hi float64) {
		if !(v >= lo && v <= hi) {
			errs = append(errs, fmt.Errorf("-%s must be between %g and %g, got %g", name, lo, hi, v))
		}
	}
	check("users", a.Users, 0, 1e10)
	check("rps", a.RPS, 0, 1e8)
	if a.Users == 0 && a.RPS == 0 {
		errs = append(errs, errors.New("-users and -rps are both 0: give the load as one or both"))
	}
	check("active", a.ActiveShare, 0.001, 1)
	check("requests-per-user", a.RequestsPerUser, 1, 1e6)
	check("peak", a.Peak, 1, 100)
	check("hit-rate", a.HitRate, 0, 1)
	check("target", a.Target, 0.1, 1)
	check("cpu-factor", a.CPUFactor, 0.1, 10)
	check("rtt-ms", a.RTTms, 0, 100)
	check("query-cpu-ms", a.QueryCPUMs, 0.001, 1000)
	check("query-hold-ms", a.QueryHoldMs, 0.001, 10_000)
	check("acu-vcpu", a.ACUvCPU, 0.01, 16)
	check("max-connections", float64(a.MaxConnections), 0, 262_143)
	check("account-concurrency", float64(a.AccountConcurrency), unreservedFloor+1, 1e7)
	check("redis-commands-per-trip", a.CommandsPerTrip, 1, 1000)
	check("node-ops", a.NodeOps, 1, 1e9)
	check("cache-kb-per-user", a.CacheKBPerUser, 0, 1e6)
	check("db-kb-per-user", a.DBKBPerUser, 0, 1e9)

	a.Mix = map[string]float64{}
	var total float64
	for kv := range strings.SplitSeq(mix, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.ParseFloat(v, 64)
		switch {
		case !ok || err != nil || n < 0:
			errs = append(errs, fmt.Errorf("-mix: %q is not class=percent", kv))
			continue
		case !slices.ContainsFunc(classes, func(c class) bool { return c.key == k }):
			errs = append(errs, fmt.Errorf("-mix: no class %q (the classes: %s)", k, classKeys()))
			continue
		}
		a.Mix[k] = n
		total += n
	}
	if total < 99.99 || total > 100.01 {
		errs = append(errs, fmt.Errorf("-mix: the shares add up to %g %%, not 100", total))
	}

	a.MemoryMB = map[string]int{}
	if memory != "" {
		for kv := range strings.SplitSeq(memory, ",") {
			fn, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			mb, err := strconv.Atoi(v)
			if !ok || err != nil || mb < 128 || mb > 10240 {
				errs = append(errs, fmt.Errorf("-memory: %q is not Function=MB with 128 ≤ MB ≤ 10240", kv))
				continue
			}
			a.MemoryMB[fn] = mb
		}
	}
	return errors.Join(errs...)
}

func classKeys() string {
	keys := make([]string, len(classes))
	for i, c := range classes {
		keys[i] = c.key
	}
	return strings.Join(keys, ", ")
}
