// Package gateway is cmd/local's API Gateway: it serves the Api and HttpApi routes of a SAM
// template over HTTP, turning each request into the event API Gateway would send (payload 1.0
// for REST APIs, 2.0 for HTTP APIs), invoking the route's function through lambdaenv, and
// turning the function's proxy response back into HTTP.
//
// Failures answer as API Gateway does: a function that returns an error, panics, crashes or runs
// past its Timeout, or whose response is malformed, gets 502 {"message": "Internal server
// error"}; a response slower than the integration timeout (29 s) gets 504 {"message": "Endpoint
// request timed out"}; no route gets 403 {"message": "Missing Authentication Token"} (404
// {"message": "Not Found"} when the template has only HTTP APIs). When every instance a function
// may run is busy past its timeout the answer is 429 {"message": "Too Many Requests"}.
//
// Every invocation writes one JSON log line: function, route, status, request ids, durations,
// cold start, instance and outcome.
package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"scaleapi/cmd/local/lambdaenv"
	"scaleapi/internal/samtemplate"
)

// Config configures a Gateway.
type Config struct {
	Template *samtemplate.Template
	// Binaries maps each function's logical id to its bootstrap executable.
	Binaries map[string]string
	// HostEnv is the host environment FunctionEnv draws on (the process's, with whatever
	// defaults cmd/local fills in, such as an embedded database's DATABASE_URL).
	HostEnv map[string]string
	// EnvFile holds env.json's overrides; nil for none.
	EnvFile EnvFile
	// MaxInstances caps each function's concurrent instances; a function's
	// ReservedConcurrentExecutions lowers it. 10 when zero.
	MaxInstances int
	Region       string // "us-east-1" when empty
	AccountID    string // "123456789012" when empty
	// IntegrationTimeout is API Gateway's limit on waiting for a function; 29 s when zero.
	IntegrationTimeout time.Duration
	// ShutdownGrace and InitTimeout are passed to lambdaenv.
	ShutdownGrace time.Duration
	InitTimeout   time.Duration
	// Log gets the invocation log lines and warnings; JSON on stderr when nil.
	Log *slog.Logger
	// FunctionOutput gets the functions' stdout and stderr, line by line; stderr when nil.
	FunctionOutput io.Writer
}

// Gateway serves a template's routes. It is an http.Handler.
type Gateway struct {
	cfg      Config
	router   router
	routes   []*Route
	pools    map[string]*lambdaenv.Pool // by logical id
	notFound func(w http.ResponseWriter)
	invokers *invokers
}

// maxPayload is Lambda's limit on a synchronous invocation's event.
const maxPayload = 6 << 20

// New prepares the routes and a pool per function. No function process starts until its first
// request.
func New(cfg Config) (*Gateway, error) {
	if cfg.MaxInstances == 0 {
		cfg.MaxInstances = 10
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.IntegrationTimeout == 0 {
		cfg.IntegrationTimeout = 29 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.FunctionOutput == nil {
		cfg.FunctionOutput = os.Stderr
	}
	g := &Gateway{cfg: cfg, pools: map[string]*lambdaenv.Pool{}, invokers: newInvokers()}

	for _, fn := range cfg.Template.Functions {
		bin, ok := cfg.Binaries[fn.LogicalID]
		if !ok {
			return nil, fmt.Errorf("function %s: no bootstrap binary", fn.LogicalID)
		}
		env, ignored := FunctionEnv(fn, cfg.HostEnv, cfg.EnvFile)
		if len(ignored) > 0 {
			cfg.Log.Warn("env vars file sets variables the template does not declare for the function; they are ignored, as by sam local",
				"function", fn.LogicalID, "variables", ignored)
		}
		limit := cfg.MaxInstances
		if fn.ReservedConcurrency != nil {
			limit = min(limit, *fn.ReservedConcurrency)
			if limit == 0 {
				cfg.Log.Warn("ReservedConcurrentExecutions is 0: every invocation is throttled", "function", fn.LogicalID)
			}
		}
		g.pools[fn.LogicalID] = lambdaenv.NewPool(lambdaenv.Spec{
			Name: fn.Name, Binary: bin, Handler: fn.Handler, Timeout: fn.Timeout, MemoryMB: fn.MemorySize,
			MaxInstances: limit, Env: env, Region: cfg.Region, AccountID: cfg.AccountID,
		}, lambdaenv.Options{Output: cfg.FunctionOutput, ShutdownGrace: cfg.ShutdownGrace, InitTimeout: cfg.InitTimeout})
		for _, ev := range fn.Events {
			rt := &Route{
				Method: ev.Method, Path: ev.Path, Function: fn.LogicalID, Kind: ev.Kind,
				PayloadVersion: ev.PayloadVersion, Stage: ev.Stage, API: ev.API,
			}
			rt.prepare()
			g.routes = append(g.routes, rt)
		}
	}

	// REST routes first: when a template serves the same route from a REST and an HTTP API
	// (which share one port here), the REST one is served, as template.yaml deploys REST.
	slices.SortStableFunc(g.routes, func(a, b *Route) int {
		if a.Kind != b.Kind {
			if a.Kind == samtemplate.RESTAPI {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	var served []*Route
	hasREST := false
	for _, rt := range g.routes {
		dup, err := g.router.add(rt)
		if err != nil {
			return nil, err
		}
		if dup != nil {
			cfg.Log.Warn("route defined twice; serving the first", "route", rt.Key(),
				"served", dup.Function, "shadowed", rt.Function)
			continue
		}
		served = append(served, rt)
		hasREST = hasREST || rt.Kind == samtemplate.RESTAPI
	}
	g.routes = served
	g.notFound = func(w http.ResponseWriter) { writeMessage(w, http.StatusNotFound, "Not Found") }
	if hasREST {
		g.notFound = func(w http.ResponseWriter) {
			w.Header().Set("X-Amzn-Errortype", "MissingAuthenticationTokenException")
			writeMessage(w, http.StatusForbidden, "Missing Authentication Token")
		}
	}
	return g, nil
}

// Routes returns the served routes: REST API routes first, each kind by path, then method.
func (g *Gateway) Routes() []Route {
	out := make([]Route, len(g.routes))
	for i, r := range g.routes {
		out[i] = *r
		out[i].key, out[i].resourceID, out[i].apiID = "", "", "" // a copy may be changed
	}
	return out
}

// Stats returns each function's pool counters, by logical id.
func (g *Gateway) Stats() map[string]lambdaenv.Stats {
	out := make(map[string]lambdaenv.Stats, len(g.pools))
	for id, p := range g.pools {
		out[id] = p.Stats()
	}
	return out
}

// Close stops every function process (see lambdaenv.Pool.Close). Stop serving HTTP first.
func (g *Gateway) Close() {
	var wg sync.WaitGroup
	for _, p := range g.pools {
		wg.Go(p.Close)
	}
	wg.Wait()
	g.invokers.stop()
}

// ServeHTTP serves one request through its route's function.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, params := g.router.match(r.Method, r.URL.EscapedPath())
	if rt == nil {
		g.notFound(w)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Too Long")
		return
	}
	q := &request{r: r, route: rt, params: params, body: body, id: newUUID(), at: start, accountID: g.cfg.AccountID}
	if rt.Kind == samtemplate.RESTAPI {
		w.Header().Set("X-Amzn-Requestid", q.id)
	} else {
		w.Header().Set("Apigw-Requestid", q.id)
	}
	var payload []byte
	if rt.PayloadVersion == "2.0" {
		payload, err = q.v2Event()
	} else {
		payload, err = q.v1Event()
	}
	if err != nil { // cannot happen: the event is built from strings
		g.internalError(w, rt)
		return
	}

	done := make(chan outcome, 1) // buffered: an invocation past the integration timeout finishes alone
	g.invokers.start(invocation{ctx: r.Context(), pool: g.pools[rt.Function], payload: payload, done: done})
	timer := getTimer(g.cfg.IntegrationTimeout)
	defer putTimer(timer)

	var o outcome
	status := 0
	select {
	case o = <-done:
	case <-timer.C:
		writeMessage(w, http.StatusGatewayTimeout, "Endpoint request timed out")
		status = http.StatusGatewayTimeout
	}
	if status == 0 {
		status = g.respond(w, rt, o.res, o.err)
	}
	g.logInvocation(r, rt, q.id, status, time.Since(start), o.res, o.err)
}

// readBody reads the request's body, up to maxPayload.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == http.NoBody {
		// What net/http's server gives a request without a body (most are GETs): there is nothing
		// to read, and so no reason for a reader and a buffer.
		return nil, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
}

// respond writes the function's answer, or API Gateway's for a failed invocation, and returns
// the status sent.
func (g *Gateway) respond(w http.ResponseWriter, rt *Route, res *lambdaenv.Result, err error) int {
	switch {
	case errors.Is(err, lambdaenv.ErrThrottled):
		writeMessage(w, http.StatusTooManyRequests, "Too Many Requests")
		return http.StatusTooManyRequests
	case err != nil, res.Err != nil:
		return g.internalError(w, rt)
	}
	resp, err := decodeResponse(res.Payload, rt.PayloadVersion)
	if err == nil {
		err = resp.write(w)
	}
	if err != nil {
		g.cfg.Log.Warn(err.Error(), "function", rt.Function, "lambdaRequestId", res.RequestID)
		return g.internalError(w, rt)
	}
	return *resp.StatusCode
}

func (g *Gateway) internalError(w http.ResponseWriter, rt *Route) int {
	if rt.Kind == samtemplate.RESTAPI {
		w.Header().Set("X-Amzn-Errortype", "InternalServerErrorException")
	}
	writeMessage(w, http.StatusBadGateway, "Internal server error")
	return http.StatusBadGateway
}

func (g *Gateway) logInvocation(r *http.Request, rt *Route, id string, status int, d time.Duration, res *lambdaenv.Result, err error) {
	// LogAttrs with typed attributes writes what Info with key-value pairs would, without
	// boxing each number and flag; the array holds every attribute a line can have.
	var buf [17]slog.Attr
	attrs := append(buf[:0],
		slog.String("function", rt.Function), slog.String("route", rt.Key()), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", status), slog.String("requestId", id),
		slog.Float64("durationMs", ms(d)),
	)
	switch {
	case res != nil:
		attrs = append(attrs, slog.String("lambdaRequestId", res.RequestID), slog.Float64("invokeMs", ms(res.Duration)),
			slog.Bool("coldStart", res.ColdStart), slog.Int("instance", res.Instance), slog.String("outcome", res.Outcome()))
		if res.ColdStart {
			attrs = append(attrs, slog.Float64("initMs", ms(res.InitDuration)))
		}
		if res.Err != nil {
			attrs = append(attrs, slog.String("errorType", res.Err.Type), slog.String("errorMessage", res.Err.Message))
		}
	case err != nil:
		attrs = append(attrs, slog.String("outcome", "not invoked"), slog.String("error", err.Error()))
	default:
		attrs = append(attrs, slog.String("outcome", "integration timeout"))
	}
	g.cfg.Log.LogAttrs(context.Background(), slog.LevelInfo, "invoke", attrs...)
}

// newUUID returns a random (version 4) UUID in the form uuid.NewString gives. The bytes come
// from math/rand/v2's generator (ChaCha8 per thread, seeded by the operating system), which
// needs no system call per id as crypto/rand does; request ids need to be unique, not secret.
func newUUID() string {
	var u uuid.UUID
	// #nosec G404 -- request ids: unique, not secret (above)
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	// #nosec G404 -- request ids: unique, not secret (above)
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeMessage writes API Gateway's own error body.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`+"\n", msg)
}

// PrintBanner writes the routes, the URL and any extra lines (e.g. which database is in use).
func (g *Gateway) PrintBanner(w io.Writer, url string, extra ...string) {
	fmt.Fprintf(w, "\nscaleapi local API Gateway — %s\n\n", g.cfg.Template.Path)
	width := 0
	for _, r := range g.routes {
		width = max(width, len(r.Path))
	}
	for _, r := range g.routes {
		api := "REST"
		if r.Kind == samtemplate.HTTPAPI {
			api = "HTTP"
		}
		fmt.Fprintf(w, "  %-7s %-*s  %-24s %s %s\n", r.Method, width, r.Path, r.Function, api, r.PayloadVersion)
	}
	fmt.Fprintln(w)
	for _, e := range extra {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintf(w, "  Listening on %s   (Ctrl-C to stop)\n\n", url)
}
