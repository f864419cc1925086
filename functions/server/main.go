// Command server is server mode: every function of template.yaml in one process, on one HTTP
// port, for a container (docker-compose.scale.yml, deploy/k8s, ECS) or for AWS Lambda Web
// Adapter. The handlers are the functions' own (package function builds them, as each Lambda
// main does); only the process around them differs.
//
//   - It listens on $HOST:$PORT (:8080 by default, Lambda Web Adapter's default port too).
//   - GET /livez answers 204 without touching a dependency: the process is serving.
//     GET /readyz answers 204 when the primary, the replica and Redis answer a ping within a
//     second, 503 problem+json otherwise. Lambda Web Adapter's AWS_LWA_READINESS_CHECK_PATH is
//     /readyz.
//   - On SIGTERM or SIGINT it closes the listener, lets requests in flight finish for up to
//     SHUTDOWN_TIMEOUT (20s), closes idle keep-alive connections, closes the pools and exits 0.
//     Taking the instance out of the load balancer before that is the platform's part: the
//     Kubernetes manifests' preStop sleep, ECS's deregistration delay.
//   - Pools are sized for a process that serves many requests at once: DB_MAX_CONNS and
//     REDIS_POOL_SIZE default to 20 (the seed's pool size) instead of a Lambda environment's 2.
//     Every other variable is config's (shared/config), read the same way.
//   - DEBUG_ADDR (unset by default), e.g. 127.0.0.1:6060, serves net/http/pprof on a second
//     listener, never on the API's: profiles of the process under load, for make bench-peer.
//     Without it the heap is not sampled at all (runtime.MemProfileRate 0).
//   - Each request's context ends after REQUEST_TIMEOUT (10s, the functions' Timeout in
//     template.yaml), as the Lambda deadline ends it there.
//
// One process serves every route, so one route group's traffic spends the others' capacity;
// that is the container deployment's usual trade, and the Lambda deployment's one function per
// group is the alternative.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/sync/errgroup"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/api"
	"scaleapi/shared/fault"
	"scaleapi/shared/metrics"
	"scaleapi/shared/platform"
)

// defaults are server mode's values for variables whose config default suits a Lambda
// environment; a variable that is set wins.
var defaults = map[string]string{
	"DB_MAX_CONNS":             "20",
	"REDIS_POOL_SIZE":          "20",
	"AWS_LAMBDA_FUNCTION_NAME": "server", // the function dimension of the metrics and logs
}

// withDefaults is lookup, falling back to defaults.
func withDefaults(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := lookup(k); ok {
			return v, true
		}
		v, ok := defaults[k]
		return v, ok
	}
}

func main() {
	if v, _ := os.LookupEnv("DEBUG_ADDR"); v == "" {
		// Linking net/http/pprof keeps the runtime's heap sampling on, and the samples take
		// their bucket table from the OS (1.5 MB of BuckHashSys under make bench-peer's load).
		// Without DEBUG_ADDR nothing can read the profile: sample nothing.
		runtime.MemProfileRate = 0
	}
	if err := run(context.Background(), os.LookupEnv, os.Stdout); err != nil {
		log := metrics.NewLogger(os.Stderr, slog.LevelError, "server")
		log.Error("server failed", "error", err.Error())
		os.Exit(1)
	}
}

// options are the server's own settings, beside config's.
type options struct {
	addr            string
	shutdownTimeout time.Duration
	requestTimeout  time.Duration
}

func readOptions(lookup func(string) (string, bool)) (options, error) {
	o := options{addr: ":8080", shutdownTimeout: 20 * time.Second, requestTimeout: 10 * time.Second}
	if v, ok := lookup("PORT"); ok && v != "" {
		host, _ := lookup("HOST")
		o.addr = net.JoinHostPort(host, v)
	}
	var errs []error
	for name, dst := range map[string]*time.Duration{"SHUTDOWN_TIMEOUT": &o.shutdownTimeout, "REQUEST_TIMEOUT": &o.requestTimeout} {
		v, ok := lookup(name)
		if !ok || v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive duration (20s), got %q", name, v))
			continue
		}
		*dst = d
	}
	return o, errors.Join(errs...)
}

// run serves until ctx ends or a signal arrives, then drains. It returns an init error, a
// listener error, or nil after a clean shutdown.
func run(ctx context.Context, lookup func(string) (string, bool), out io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	env := withDefaults(lookup)
	opts, err := readOptions(env)
	if err != nil {
		return err
	}
	d, h, err := build(ctx, env, out)
	if err != nil {
		return err
	}
	defer d.Close()
	slog.SetDefault(d.Log)

	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return err
	}
	s := newServer(d, h, opts)
	if addr, ok := env("DEBUG_ADDR"); ok && addr != "" {
		dl, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("DEBUG_ADDR: %w", err)
		}
		defer dl.Close()
		go func() { _ = http.Serve(dl, debugMux()) }() // #nosec G114 -- opt-in, operator-chosen address
	}
	d.Log.Info("serving", "addr", ln.Addr().String())
	return s.serve(ctx, ln)
}

// build makes the clients every function needs, once, and every function's router on them,
// mounted on one router.
func build(ctx context.Context, env func(string) (string, bool), out io.Writer) (*platform.Deps, *api.Router, error) {
	var needs platform.Needs
	for _, f := range function.All() {
		needs.Database = needs.Database || f.Needs.Database
		needs.Replica = needs.Replica || f.Needs.Replica
		needs.Redis = needs.Redis || f.Needs.Redis
		needs.Auth = needs.Auth || f.Needs.Auth
	}
	// A container's credentials come from ECS's or EKS's endpoints or a web identity, which
	// only the SDK's default chain reads (the functions read Lambda's environment instead).
	d, err := platform.Build(ctx, env, out, needs, platform.WithAWS(defaultAWS))
	if err != nil {
		return nil, nil, err
	}
	root, err := mount(d, function.All())
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, root, nil
}

// defaultAWS is the AWS SDK's default configuration chain for region.
func defaultAWS(ctx context.Context, region string) (aws.Config, error) {
	return awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
}

// mount builds each function on d and registers its routes on one router, each dispatching to
// the function's own router. The outer router answers what no function serves (404, and 405
// with the owning path's methods) as API Gateway's routes would; the inner one then runs the
// function's route as in Lambda, one ServeMux match later.
func mount(d *platform.Deps, fns []function.Function) (*api.Router, error) {
	root := api.NewRouter()
	for _, f := range fns {
		h, err := f.Build(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		r, ok := h.(*api.Router)
		if !ok {
			return nil, fmt.Errorf("%s: its handler is a %T, not an *api.Router", f.Name, h)
		}
		for _, rt := range r.Routes() {
			root.Handle(rt.Method+" "+rt.Path, r)
		}
	}
	return root, nil
}

// server is the HTTP server and its probes.
type server struct {
	http *http.Server
	deps *platform.Deps
	opts options
}

func newServer(d *platform.Deps, routes *api.Router, opts options) *server {
	s := &server{deps: d, opts: opts}
	routes.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	routes.HandleFunc("GET /readyz", s.ready)
	s.http = &http.Server{
		// The timeout goes outside the middleware, which reads the route the router matched
		// from the request it passed on.
		Handler: withTimeout(d.Handler(routes), opts.requestTimeout),
		// A client that sends its headers slowly holds a connection, not a goroutine per byte.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Longer than nginx's and ALB's idle timeouts (60 s), so the proxy closes first and
		// never sends on a connection the server is closing.
		IdleTimeout: 75 * time.Second,
		ErrorLog:    slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
	}
	return s
}

// serve serves on ln until ctx ends, then shuts down: the listener closes and the requests in
// flight get up to SHUTDOWN_TIMEOUT to finish.
func (s *server) serve(ctx context.Context, ln net.Listener) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.deps.Log.Info("shutting down", "timeout", s.opts.shutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.Background(), s.opts.shutdownTimeout)
		defer cancel()
		if err := s.http.Shutdown(sctx); err != nil {
			_ = s.http.Close()
			return fmt.Errorf("shutdown: %w", err)
		}
		return nil
	})
	return g.Wait()
}

// ready answers 204 when every dependency answers a ping within a second, 503 otherwise.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	d := s.deps
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return named("database", d.Primary.Ping(gctx)) })
	g.Go(func() error { return named("replica", d.Replica.Ping(gctx)) })
	g.Go(func() error { return named("cache", d.Redis.Ping(gctx).Err()) })
	if err := g.Wait(); err != nil {
		d.Log.Warn("not ready", "error", err.Error())
		api.WriteError(w, r, fault.E(fault.Unavailable, "not ready"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func named(name string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// debugMux serves the profiles of net/http/pprof, registered on its own mux rather than on
// http.DefaultServeMux, which the API never uses but a dependency could.
func debugMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	return m
}

// withTimeout ends each request's context after d, as the Lambda deadline does in Lambda.
func withTimeout(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
