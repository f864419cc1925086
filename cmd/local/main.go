// Command local serves the API described by template.yaml on http://127.0.0.1:3000 the way
// `sam local start-api` does, but without Docker: it builds each function's bootstrap for this
// machine, runs the functions as processes behind the Lambda Runtime API, and emulates API
// Gateway in front of them (see the gateway and lambdaenv packages).
//
//	go run ./cmd/local [-template template.yaml] [-addr 127.0.0.1:3000] [-env-vars env.json]
//	                   [-parameter-overrides "Key=Value ..."] [-max-instances 10] [-skip-build]
//	                   [-data-dir .local] [-seed] [-migrate] [-schema path/to/.apsorc]
//
// Backing services (services.go): without DATABASE_URL or DATABASE_SHARDS in the environment, a
// private PostgreSQL from the machine's binaries, with its data in <data-dir>/pgdata kept between
// runs, migrated at every start; without REDIS_URL, a redis-server from the machine's binaries,
// with its data in <data-dir>/redis kept between runs; without JWT_SECRET, a signing key kept in
// <data-dir>/jwt-secret. With DATABASE_URL, DATABASE_SHARDS (the template's DatabaseShards) or
// REDIS_URL set, what they point at is used, and an external database is migrated only with
// -migrate. -seed loads demo data once and
// prints a login. The banner lists the routes, the URL and which database and Redis are in use.
//
// -schema serves another .apsorc: the entities function reads it (SCALEAPI_SCHEMA) and answers
// its routes, on an embedded database and Redis made fresh at every start under
// <data-dir>/schema/, with the platform's migrations and the schema's tables.
//
// The functions' metrics lines (shared/metrics) are read from their output as it passes through
// and served under /_local/ (see metricsview): a page with charts at /_local/ and Prometheus
// text at /_local/metrics. Those paths are answered here, before API Gateway's route matching.
//
// Function environment variables: the template's values, overridden by the same-named host
// environment variables (so `DATABASE_URL=... go run ./cmd/local` works), overridden by
// -env-vars; only variables the template declares reach a function (gateway.FunctionEnv). The
// template's Tracing parameter is "none" unless -parameter-overrides sets it: no collector runs
// here.
//
// Ctrl-C or SIGTERM stops serving, lets in-flight requests finish, sends every function process
// SIGTERM and kills what is left after -shutdown-grace, then stops the embedded PostgreSQL (a
// clean shutdown) and Redis. A second Ctrl-C exits at once; the function processes and the
// embedded PostgreSQL die with it (on Linux, the kernel kills them when this process dies). On
// Linux, the parent's exit counts as a SIGTERM, so killing `go run` alone stops this as well.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"scaleapi/cmd/local/gateway"
	"scaleapi/cmd/local/metricsview"
	"scaleapi/internal/bootstrap"
	"scaleapi/internal/samtemplate"
	"scaleapi/shared/apsorc"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	var (
		templatePath = fs.String("template", "template.yaml", "the SAM `template`")
		addr         = fs.String("addr", "127.0.0.1:3000", "the `address` to serve the API on")
		envVars      = fs.String("env-vars", "", "a JSON `file` of environment overrides, in sam local's --env-vars format")
		params       = fs.String("parameter-overrides", "", "template parameters, as `Key=Value` pairs separated by spaces")
		buildDir     = fs.String("build-dir", ".local/build", "the `directory` the bootstraps are built into, one subdirectory per function")
		buildJobs    = fs.Int("build-jobs", 2, "how many functions to build at once")
		skipBuild    = fs.Bool("skip-build", false, "run the bootstraps already in -build-dir")
		maxInstances = fs.Int("max-instances", 10, "the most instances (processes) of one function; ReservedConcurrentExecutions lowers it")
		region       = fs.String("region", envOr("AWS_REGION", "us-east-1"), "AWS::Region and the functions' AWS_REGION")
		integration  = fs.Duration("integration-timeout", 29*time.Second, "how long API Gateway waits for a function before it answers 504")
		grace        = fs.Duration("shutdown-grace", 2*time.Second, "how long a function process gets after SIGTERM before it is killed")
		dataDir      = fs.String("data-dir", ".local", "the `directory` for the embedded database and Redis, their logs and the JWT signing key")
		migrate      = fs.Bool("migrate", false, "apply the migrations to an external DATABASE_URL as well (the embedded database is always migrated)")
		seedDemo     = fs.Bool("seed", false, "load demo organizations, users, projects and tasks (once) and print a login")
		schemaPath   = fs.String("schema", "", "serve this .apsorc `file` instead of the root one, on a fresh embedded database")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopWithParent()

	overrides, err := parseParameterOverrides(*params)
	if err != nil {
		return err
	}
	tpl, err := samtemplate.Parse(*templatePath, samtemplate.Options{Region: *region, Parameters: overrides, Defaults: parameterDefaults(os.Getenv)})
	if err != nil {
		return err
	}
	var schema *apsorc.Schema
	if *schemaPath != "" {
		if os.Getenv("DATABASE_URL") != "" {
			return errors.New("-schema serves a fresh embedded database: unset DATABASE_URL")
		}
		if *seedDemo {
			return errors.New("-seed loads the root schema's demo data; it doesn't go with -schema")
		}
		if schema, err = serveSchema(tpl, *schemaPath); err != nil {
			return err
		}
		*dataDir = schemaDataDir(*dataDir, *schemaPath)
		if err := os.RemoveAll(*dataDir); err != nil {
			return err
		}
	}
	var envFile gateway.EnvFile
	if *envVars != "" {
		if envFile, err = gateway.ReadEnvFile(*envVars); err != nil {
			return err
		}
	}

	// Services first: a missing PostgreSQL fails the run before a long build, and on a first run
	// initdb does not compete with the compiler for the CPU.
	host := hostEnv()
	svc, err := startServices(ctx, host, serviceOptions{
		DataDir: *dataDir, Migrate: *migrate, Seed: *seedDemo, Log: os.Stderr, Declared: declared(tpl.Functions),
	})
	if err != nil {
		return err
	}
	defer svc.Stop()
	if schema != nil {
		if err := createTables(ctx, host["DATABASE_URL"], schema); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "local: serving %s on a fresh database (%s)\n", *schemaPath, *dataDir)
	}

	bins, err := binaries(ctx, tpl, *buildDir, *buildJobs, *skipBuild)
	if err != nil {
		return err
	}

	agg := metricsview.NewAggregator()
	gw, err := gateway.New(gateway.Config{
		Template: tpl, Binaries: bins, HostEnv: host, EnvFile: envFile,
		MaxInstances: *maxInstances, Region: *region, IntegrationTimeout: *integration, ShutdownGrace: *grace,
		Log: slog.New(slog.NewJSONHandler(os.Stderr, nil)), FunctionOutput: agg.Writer(os.Stderr),
	})
	if err != nil {
		return err
	}
	defer gw.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: agg.Wrap(gw), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	banner := append(svc.Banner(url), "", "Metrics:  "+url+metricsview.Prefix+"   (Prometheus text: "+url+metricsview.Prefix+"metrics)")
	gw.PrintBanner(os.Stdout, url, banner...)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // from here a second Ctrl-C ends the process at once
	fmt.Fprintln(os.Stderr, "local: stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil // deferred: gw.Close stops the functions, then svc.Stop the services they used
}

// binaries builds every function, or with skip finds the bootstraps an earlier run built.
func binaries(ctx context.Context, tpl *samtemplate.Template, dir string, jobs int, skip bool) (map[string]string, error) {
	if !skip {
		return bootstrap.Build(ctx, tpl.Functions, bootstrap.Options{OutDir: dir, Jobs: jobs, Progress: os.Stderr})
	}
	bins := map[string]string{}
	for _, fn := range tpl.Functions {
		bin, err := filepath.Abs(filepath.Join(dir, fn.LogicalID, "bootstrap"))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("-skip-build: %w", err)
		}
		bins[fn.LogicalID] = bin
	}
	return bins, nil
}

// localDefaults are the template parameters' defaults here, where the template declares them.
// No collector runs here, so template.yaml's Tracing=xray default would point every function at
// a receiver that is not there: tracing is off unless asked for (-parameter-overrides
// Tracing=xray, with OTEL_EXPORTER_OTLP_ENDPOINT in the environment naming a receiver).
var localDefaults = map[string]string{"Tracing": "none"}

// parameterDefaults are localDefaults, and DATABASE_SHARDS from the environment as the template's
// DatabaseShards parameter: a sharded stack's template clears DATABASE_URL and
// DATABASE_READER_URL (shared/config takes one or the other), which a host variable can't do (an
// empty one overrides nothing). -parameter-overrides still wins.
func parameterDefaults(getenv func(string) string) map[string]string {
	d := maps.Clone(localDefaults)
	if v := getenv("DATABASE_SHARDS"); v != "" {
		d["DatabaseShards"] = v
	}
	return d
}

// parseParameterOverrides reads "Key=Value Key2=Value2"; sam's
// "ParameterKey=Key,ParameterValue=Value" form is accepted too.
func parseParameterOverrides(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, tok := range strings.Fields(s) {
		if strings.HasPrefix(tok, "ParameterKey=") {
			k, v, ok := strings.Cut(strings.TrimPrefix(tok, "ParameterKey="), ",ParameterValue=")
			if !ok {
				return nil, fmt.Errorf("-parameter-overrides: %q lacks ,ParameterValue=", tok)
			}
			out[k] = v
			continue
		}
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-parameter-overrides: %q is not Key=Value", tok)
		}
		out[k] = v
	}
	return out, nil
}

func hostEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
