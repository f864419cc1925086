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
	"errors"
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

// WithPrefix sets the key prefix (default "rl"), so limiters with different limits (a stricter
// one for login, say) keep separate allowances.
func WithPrefix(p string) Option { return func(l *Limiter) { l.prefix = p } }

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
// Returns {allowed (1|0), remaining, retry after (µs)}.
//
// Redis 5+ replicates a script's effects, not the script, so reading TIME before writing is
// allowed and replicas get the written value.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > period then
  return {0, 0, ahead - period}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil(ahead / 1000))
return {1, math.floor((period - ahead) / interval), 0}
`)

// Allow takes one request from key's allowance. On a Redis error it fails open: it returns an
// allowed Result together with the error, so a caller that only looks at Allowed fails open and
// one that cares can still see why.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	interval := l.period.Microseconds() / int64(l.limit)
	if interval < 1 {
		interval = 1
	}
	res, err := gcraScript.Run(ctx, l.rdb, []string{l.prefix + ":" + key}, interval, l.period.Microseconds()).Int64Slice()
	if err != nil || len(res) != 3 {
		if err == nil {
			err = errors.New("unexpected script reply")
		}
		l.failOpens.Add(1)
		l.log.WarnContext(ctx, "rate limiter failing open: redis unavailable", "key_prefix", l.prefix, "err", err)
		if l.OnFailOpen != nil {
			l.OnFailOpen(ctx, err)
		}
		return Result{Allowed: true, Remaining: -1}, fmt.Errorf("ratelimit: %w", err)
	}
	return Result{
		Allowed:    res[0] == 1,
		Remaining:  int(res[1]),
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
	}, nil
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
func (l *Limiter) Middleware(key KeyFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, ok := key(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			res, _ := l.Allow(r.Context(), k) // errors fail open and are logged by Allow
			if !res.Allowed {
				w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(res.RetryAfter)))
				api.WriteError(w, r, &fault.Error{Code: fault.RateLimited, Message: "rate limit exceeded", RetryAfter: res.RetryAfter})
				return
			}
			if res.Remaining >= 0 {
				w.Header().Set("RateLimit-Limit", strconv.Itoa(l.limit))
				w.Header().Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
			}
			next.ServeHTTP(w, r)
		})
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
