// Package ratelimit limits requests per user (per source IP on public routes) with GCRA, the
// generic cell rate algorithm, kept in Redis so that every execution environment draws on the
// same allowance.
//
// # Why GCRA
//
// A fixed window lets a client send twice the limit across a window boundary; a sliding log
// stores one entry per request. GCRA stores one number per key (the theoretical arrival time,
// TAT), spreads the allowance evenly (one request every period/limit) while still allowing a
// burst of up to limit requests, and says exactly when the next request would be allowed, which
// is the Retry-After. The script reads Redis's own clock (TIME), so environments with skewed
// clocks still agree, and runs atomically, so concurrent requests can't both take the last cell.
//
// # One round trip with the session check
//
// Behind auth's Require (as every function wires it) the limiter's middleware is an
// auth.Joiner: its GCRA script goes out in the session check's pipeline, so an authenticated
// request pays one round trip for both. A request the session check then refuses gets its cell
// back (refundScript), so a revoked token can't spend its user's allowance, as it couldn't when
// the limiter only ran after Require.
//
// # Redis down: fail open
//
// When Redis can't be reached the limiter lets the request through, logs, and counts it
// (FailOpens, and the OnFailOpen hook for a metric). The limit protects capacity, not
// correctness: refusing every request while Redis is down would turn a degraded dependency into
// a full outage of routes that don't need Redis at all. API Gateway's stage throttling and the
// database pooler's connection cap still bound the load meanwhile.
package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
)

// Result is the outcome of one Allow.
type Result struct {
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long until a request would be allowed (zero when Allowed).
	RetryAfter time.Duration
}

// Limiter allows limit requests per period per key, in bursts of up to limit.
type Limiter struct {
	rdb    redis.UniversalClient
	limit  int
	period time.Duration
	prefix string
	log    *slog.Logger

	// OnFailOpen, if set, is called each time Redis fails and a request is let through, with
	// the Redis error: the place to count a metric.
	OnFailOpen func(ctx context.Context, err error)

	failOpens atomic.Uint64
}

// Option configures New.
type Option func(*Limiter)

// WithLogger sets the logger for fail-open events (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(l *Limiter) { l.log = log } }

// New returns a Limiter of limit requests per period over rdb (standalone or cluster).
func New(rdb redis.UniversalClient, limit int, period time.Duration, opts ...Option) (*Limiter, error) {
	if limit < 1 || period <= 0 {
		return nil, fmt.Errorf("ratelimit: need limit >= 1 and a positive period, got %d per %v", limit, period)
	}
	l := &Limiter{rdb: rdb, limit: limit, period: period, prefix: "rl", log: slog.Default()}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// FailOpens returns how many requests this Limiter let through because Redis failed.
func (l *Limiter) FailOpens() uint64 { return l.failOpens.Load() }

// gcraScript is GCRA over one key holding the TAT in microseconds of Redis time.
//
// KEYS[1] the key. ARGV[1] emission interval T (µs) = period / limit, ARGV[2] period (µs): a
// request is allowed when, after adding T, the TAT is at most one period ahead of now, which
// admits a burst of limit requests and then one every T.
// Returns one integer: how many more requests would be allowed right now (>= 0) when this one
// is, or minus the microseconds until one would be (< 0) when it is refused.
//
// It is written to cost Redis little, since every authenticated request runs it: one integer
// reply rather than a table, and the TAT written as the number it is (Redis prints a Lua number
// argument with all its digits or as its shortest exact form, and tonumber reads either back
// exactly below 2^53 µs, the year 2255) rather than through string.format.
//
// Redis 5+ replicates a script's effects, not the script, so reading TIME before writing is
// allowed and replicas get the written value.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local ahead = tat + interval - now
local over = ahead - ARGV[2]
if over > 0 then
  return -over
end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(ahead / 1000))
return math.floor(-over / interval)
`)

// refundScript gives back the cell an allowed request took: it moves the TAT back by one
// emission interval, keeping the key's expiry. A TAT that ends up in the past is the same as
// none, since gcraScript moves it up to now. KEYS[1] the key, ARGV[1] the interval (µs).
var refundScript = redis.NewScript(`
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then
  return 0
end
redis.call('SET', KEYS[1], tat - ARGV[1], 'KEEPTTL')
return 1
`)

// interval is the emission interval T in microseconds.
func (l *Limiter) interval() int64 {
	return max(l.period.Microseconds()/int64(l.limit), 1)
}

// Allow takes one request from key's allowance. On a Redis error it fails open: it returns an
// allowed Result together with the error, so a caller that only looks at Allowed fails open and
// one that cares can still see why.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	cmd := gcraScript.Run(ctx, l.rdb, []string{l.prefix + ":" + key}, l.interval(), l.period.Microseconds())
	return l.result(ctx, cmd)
}

// result reads gcraScript's reply, failing open on an error.
func (l *Limiter) result(ctx context.Context, cmd *redis.Cmd) (Result, error) {
	n, err := cmd.Int64()
	if err != nil {
		l.failOpens.Add(1)
		l.log.WarnContext(ctx, "rate limiter failing open: redis unavailable", "key_prefix", l.prefix, "err", err)
		if l.OnFailOpen != nil {
			l.OnFailOpen(ctx, err)
		}
		return Result{Allowed: true, Remaining: -1}, fmt.Errorf("ratelimit: %w", err)
	}
	if n < 0 {
		return Result{RetryAfter: time.Duration(-n) * time.Microsecond}, nil
	}
	return Result{Allowed: true, Remaining: int(n)}, nil
}

// KeyFunc names the allowance a request draws on; ok false lets the request through unlimited.
type KeyFunc func(r *http.Request) (key string, ok bool)

// ByUser keys authenticated requests by user id, so a user's requests share one allowance
// across sessions and environments. Requests without a Principal fall back to ByIP.
func ByUser(r *http.Request) (string, bool) {
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		return "u:" + p.UserID.String(), true
	}
	return ByIP(r)
}

// ByIP keys requests by the source IP API Gateway saw.
func ByIP(r *http.Request) (string, bool) {
	ip := api.ClientIP(r)
	if ip == "" {
		return "", false
	}
	return "ip:" + ip, true
}

// Middleware answers 429 with Retry-After (whole seconds, rounded up) once key's allowance is
// spent, and otherwise calls next. For authenticated routes it must run after auth's Require,
// so that ByUser sees the Principal.
//
// The handler it returns is an auth.Joiner: put directly behind Require, on the Redis client the
// sessions use, its decision travels in the session check's round trip.
func (l *Limiter) Middleware(key KeyFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return &limited{l: l, key: key, next: next}
	}
}

// limited is a handler behind the limiter.
type limited struct {
	l    *Limiter
	key  KeyFunc
	next http.Handler
}

var _ auth.Joiner = (*limited)(nil)

func (h *limited) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k, ok := h.key(r)
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	res, _ := h.l.Allow(r.Context(), k) // errors fail open and are logged by Allow
	h.serve(w, r, res)
}

// serve answers 429 or passes r on to next, by res.
func (h *limited) serve(w http.ResponseWriter, r *http.Request, res Result) {
	h.serveThen(w, r, res, h.next)
}

func (h *limited) serveThen(w http.ResponseWriter, r *http.Request, res Result, next http.Handler) bool {
	if !res.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(res.RetryAfter)))
		api.WriteError(w, r, &fault.Error{Code: fault.RateLimited, Message: "rate limit exceeded", RetryAfter: res.RetryAfter})
		return false
	}
	if res.Remaining >= 0 {
		w.Header().Set("RateLimit-Limit", strconv.Itoa(h.l.limit))
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
	}
	next.ServeHTTP(w, r)
	return true
}

// JoinSessionCheck queues the GCRA script on the session check's pipeline (see auth.Joiner),
// and, when the handler after the limiter is a Joiner too, that handler's commands: a cached
// read's GETs ride the same round trip as the session and the limit.
func (h *limited) JoinSessionCheck(rdb redis.UniversalClient, pipe redis.Pipeliner, r *http.Request) auth.Joined {
	if rdb != h.l.rdb {
		return nil
	}
	var next auth.Joined
	if nj, ok := h.next.(auth.Joiner); ok {
		next = nj.JoinSessionCheck(rdb, pipe, r)
	}
	k, ok := h.key(r)
	if !ok {
		return unlimited{h.next, next}
	}
	// EVALSHA only: a pipeline can't fall back to EVAL on its own; Serve does when Redis has
	// not seen the script yet (the first request after Redis started).
	j := &joined{h: h, key: k, redisKey: h.l.prefix + ":" + k, next: next}
	j.cmd = gcraScript.EvalSha(r.Context(), pipe, []string{j.redisKey}, h.l.interval(), h.l.period.Microseconds())
	return j
}

// joined is one request's decision, queued with its session check.
type joined struct {
	h        *limited
	key      string // the KeyFunc's
	redisKey string // with the prefix
	cmd      *redis.Cmd
	next     auth.Joined // the next handler's part, if it joined
}

func (j *joined) Serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var res Result
	if err := j.cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		res, _ = j.h.l.Allow(ctx, j.key)
	} else {
		res, _ = j.h.l.result(ctx, j.cmd)
	}
	if !j.h.serveThen(w, r, res, then(j.h.next, j.next)) && j.next != nil {
		j.next.Abandon(ctx)
	}
}

// Abandon gives back the cell the request took, if it took one: the session check refused it,
// and a request Require refuses never reached the limiter before the two shared a round trip.
// Without the refund, anyone holding a revoked but unexpired access token could spend its
// user's allowance. A refund that fails is logged; the user is then one request short until
// the allowance refills, as after any request.
func (j *joined) Abandon(ctx context.Context) {
	if j.next != nil {
		j.next.Abandon(ctx)
	}
	n, err := j.cmd.Int64()
	if err != nil || n < 0 {
		return // refused or not run: nothing was taken
	}
	if err := refundScript.Run(ctx, j.h.l.rdb, []string{j.redisKey}, j.h.l.interval()).Err(); err != nil {
		j.h.l.log.WarnContext(ctx, "rate limiter could not refund a refused request", "key_prefix", j.h.l.prefix, "err", err)
	}
}

// then is what runs after the limiter lets a request through: the next handler's joined part
// when it joined, else the handler.
func then(next http.Handler, joined auth.Joined) http.Handler {
	if joined == nil {
		return next
	}
	return http.HandlerFunc(joined.Serve)
}

// unlimited joins without queuing anything of its own: the key function let the request through
// unlimited. next is the next handler's part, if it joined.
type unlimited struct {
	h    http.Handler
	next auth.Joined
}

func (u unlimited) Serve(w http.ResponseWriter, r *http.Request) { then(u.h, u.next).ServeHTTP(w, r) }
func (u unlimited) Abandon(ctx context.Context) {
	if u.next != nil {
		u.next.Abandon(ctx)
	}
}

// retryAfterSeconds rounds up: a client that waits the rounded-down time would be refused again.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
