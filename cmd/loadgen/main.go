// Command loadgen measures the API under load and reports the figures beside the seed's,
// DESIGN.md's and issue 5's targets.
//
//	loadgen bench [flags]   what `make bench` runs: start PostgreSQL (+ replica), PgBouncer and
//	                        Redis (shared/devservices), build the functions and cmd/local, serve
//	                        the API on a free loopback port, seed, run every scenario, stop it;
//	                        then the defaults phase (stack.go), report, stop everything
//	loadgen run -database-url URL [-base-url http://127.0.0.1:3000] [flags]
//	                        drive a stack that is already running (seeding it through
//	                        -database-url, the primary, if it holds no data set yet)
//	loadgen seed -database-url URL
//	                        only seed
//	loadgen chaos [flags]   what `make chaos` runs: faults one after another under an open-loop
//	                        mix, then every acknowledged write checked (chaos.go)
//
// The scenarios (see plan.go) are closed-loop at a fixed concurrency or open-loop at a constant
// arrival rate; each has a short unrecorded warm-up and is bounded in time (-duration), and the
// whole run is capped (-max-total): loadgen always stops by itself. Latencies go into HDR
// histograms. The functions' own figures (cache hits, query times, cold starts, instances) come
// from the EMF lines they write, which cmd/local passes through on its stderr; memory comes from
// /proc. Results go to -out (bench-results/): report.json, report.svg, report.txt, and the
// diagnostic lines of the run (errors, warnings) in local.log (local-defaults.log for the
// defaults phase).
//
// bench's shards phase (-shards) comes last: the create scenario again through cmd/local over
// three PostgreSQL primaries, each behind its own PgBouncer, the seeded organizations spread over
// them by the placement policy with shared/shard/move, and each shard's share of the writes
// reported (shards.go).
//
// bench's defaults phase (-defaults) runs cmd/local a second time as `make run` does with nothing
// configured, on its embedded PostgreSQL and Redis, repeats three scenarios there and holds them
// to the first phase's figures: that mode is what a developer meets first, and it once ran 15x
// slower than the harness stack, and failed under load, without make bench noticing (issue 9).
//
// Only loopback targets are driven: a non-loopback -base-url is refused, and the HTTP client's
// dialer refuses any non-loopback address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"scaleapi/cmd/loadgen/internal/seed"
)

const usage = `usage:
  loadgen bench [flags]                       start everything, seed, run every scenario, report (make bench)
  loadgen run -database-url URL [flags]       drive a running stack (default http://127.0.0.1:3000)
  loadgen seed -database-url URL              seed the data set only
  loadgen chaos [flags]                       faults under load, then the durability check (make chaos)
  loadgen <command> -h                        the command's flags
`

func main() {
	if err := cli(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func cli(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var o options
	var co chaosOptions
	fs := flag.NewFlagSet("loadgen "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "chaos":
		o.chaosFlags(fs, &co)
	case "bench":
		o.common(fs)
		o.benchFlags(fs)
	case "run":
		o.common(fs)
		o.runFlags(fs)
	case "seed":
		fs.StringVar(&o.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "the PostgreSQL primary to seed (not the pooler)")
		o.sizeFlags(fs)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	o.command = "loadgen " + strings.Join(args, " ")
	switch args[0] {
	case "bench":
		return bench(ctx, &o)
	case "run":
		return runAgainst(ctx, &o)
	case "chaos":
		return chaosRun(ctx, &o, &co)
	default:
		if o.databaseURL == "" {
			return errors.New("seed: -database-url is required")
		}
		_, err := seed.Seed(ctx, o.databaseURL, o.sizes, progress)
		return err
	}
}

// options are every command's flags.
type options struct {
	command string

	// what to run
	duration    time.Duration
	warmup      time.Duration
	maxTotal    time.Duration
	budget      time.Duration // bench: the whole run, set-up included
	finishBy    time.Time     // bench: start + budget
	endBy       time.Time     // the first phase's first scenario + max-total: every phase's end
	concurrency string        // the mix's closed-loop sweep
	single      int           // the single-endpoint scenarios' concurrency
	rate        float64
	workers     int
	only        string
	logins      int
	prime       bool
	timeout     time.Duration
	out         string
	cpuProfile  string
	sizes       seed.Sizes

	// run: an existing stack
	baseURL     string
	databaseURL string
	redisURL    string
	functionLog string
	localPID    int

	// bench: the stack it starts
	template     string
	maxInstances int
	goCmd        string
	buildDir     string
	keepStack    bool
	defaults     bool
	shards       int
}

func (o *options) common(fs *flag.FlagSet) {
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "how long each scenario is measured")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded load before each scenario's measurement")
	fs.DurationVar(&o.maxTotal, "max-total", 5*time.Minute, "a cap on the time all scenarios take together, from the first one's start (bench: every phase's); scenarios past it are skipped")
	fs.StringVar(&o.concurrency, "concurrency", "1,8,32,64", "the closed-loop concurrencies the mix is run at")
	fs.IntVar(&o.single, "single-concurrency", 32, "the concurrency of the single-endpoint scenarios (the seed's wrk used 32 connections)")
	fs.Float64Var(&o.rate, "rate", 0, "the open-loop mix's arrival rate per second; 0: half the mix's throughput at 32")
	fs.IntVar(&o.workers, "open-workers", 256, "the most requests in flight in the open-loop scenario")
	fs.StringVar(&o.only, "scenarios", "", "comma-separated scenario names to run, or prefixes ending in * (mix*); empty: all. bench's defaults-NAME (shards-NAME) runs when NAME or defaults-NAME (shards-NAME) is picked, and brings NAME along")
	fs.IntVar(&o.logins, "login", 200, "how many of the seeded users log in through the API and share the load")
	fs.BoolVar(&o.prime, "prime", true, "read every seeded project once before the scenarios, so that they start from a warm cache")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "the per-request timeout")
	fs.StringVar(&o.out, "out", "bench-results", "the directory the report is written to")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write loadgen's own CPU profile to this file")
	o.sizeFlags(fs)
}

func (o *options) sizeFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.sizes.Organizations, "orgs", seed.IssueSizes.Organizations, "organizations to seed")
	fs.IntVar(&o.sizes.Users, "users", seed.IssueSizes.Users, "users to seed (each in 1-3 organizations)")
	fs.IntVar(&o.sizes.Projects, "projects", seed.IssueSizes.Projects, "projects to seed")
	fs.IntVar(&o.sizes.Tasks, "tasks", seed.IssueSizes.Tasks, "tasks to seed")
}

func (o *options) runFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.baseURL, "base-url", "http://127.0.0.1:3000", "the API to drive (loopback only)")
	fs.StringVar(&o.databaseURL, "database-url", "", "the PostgreSQL primary: seeded if it holds no data set, read for the data set's ids")
	fs.StringVar(&o.redisURL, "redis-url", "", "the functions' Redis, for the uncached summary scenario (skipped without it)")
	fs.StringVar(&o.functionLog, "function-log", "", "a file cmd/local's stderr is being written to (go run ./cmd/local 2>FILE), for the functions' EMF figures")
	fs.IntVar(&o.localPID, "local-pid", 0, "cmd/local's process id, to read its function instances' memory from /proc")
}

func (o *options) benchFlags(fs *flag.FlagSet) {
	// Set for the three phases at full length on a warm build cache, by the timings of their
	// parts: the harness phase's set-up (about 20 s) and 17 scenarios of 10.5 s, the defaults
	// phase (defaultsSetup, three scenarios, the stop) and the shards phase (shardsSetup, one
	// scenario), about 4m10s; a colder or busier run is what the budget's shortening is for.
	fs.DurationVar(&o.budget, "budget", 5*time.Minute+15*time.Second, "the whole run's budget, set-up included: scenarios are shortened alike to end within it (0: no budget)")
	fs.StringVar(&o.template, "template", "template.yaml", "the SAM template cmd/local serves")
	fs.IntVar(&o.maxInstances, "max-instances", 10, "cmd/local's -max-instances: the most instances of one function")
	fs.StringVar(&o.goCmd, "go", "go", "the go command that builds the functions and cmd/local")
	fs.StringVar(&o.buildDir, "build-dir", ".local/bench", "where the function bootstraps and cmd/local are built")
	fs.BoolVar(&o.keepStack, "keep", false, "keep the stacks' files (.local/bench/stack, .local/bench/defaults-*) after the run, for their logs")
	fs.IntVar(&o.shards, "shards", 3, "then run "+strings.Join(shardsOf, ", ")+" through cmd/local with the seeded organizations spread over this many shards (a PostgreSQL primary and PgBouncer each; issue 15); 0 or 1: no shards phase")
	fs.BoolVar(&o.defaults, "defaults", true, "after the harness stack, run "+strings.Join(defaultsOf, ", ")+" through cmd/local on make run's embedded defaults (no DATABASE_URL, REDIS_URL or JWT_SECRET), held to the harness figures (issue 9)")
}

func progress(s string) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), s)
}
