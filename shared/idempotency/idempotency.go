// Package idempotency makes a POST safe to retry: a request carrying an Idempotency-Key header
// runs once, and a retry with the same key and body gets the first answer back, from Redis, in
// any execution environment.
//
// # Protocol
//
// The record's key is a SHA-256 of the caller (user id, or source IP on public routes), the
// method, the path and the client's key, so two users' keys never collide and one key reused on
// another route is another record. The first request creates the record atomically (a Lua
// script: create if absent, else return what is there) in the in-flight state, holding the
// request body's SHA-256 and a random owner token, with a TTL just past the invocation's
// deadline. When the handler answers, its status, a subset of headers (Content-Type, Location,
// ETag) and body replace the marker, kept for 24 hours, but only if this request still owns the
// record.
//
//   - same key, same body, answered: the stored answer, with Idempotent-Replayed: true
//   - same key, another body (in flight or answered): 422
//   - same key, same body, still in flight: 409 (the client should retry later)
//   - a 5xx (or 429) answer is not stored: the record is deleted so a retry runs again
//
// # Redis down: fail closed
//
// Unlike the cache and the rate limiter, this guarantee needs Redis: running the request without
// the record would let a retry create a second resource, which is what the client sent the key to
// prevent. So a request with a key gets 503 (with Retry-After) when Redis can't be reached, and
// the client retries with the same key. Requests without the header don't touch Redis here.
package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
)

// Header is the request header that carries the client's key.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer that was replayed from the store.
const ReplayedHeader = "Idempotent-Replayed"

// Defaults for New.
const (
	// DefaultTTL is how long an answer is kept (API.md: 24 h).
	DefaultTTL = 24 * time.Hour
	// DefaultLockTTL is how long an in-flight marker lives when the request's context has no
	// deadline; with one (the Lambda invocation's), the marker lives until the deadline plus
	// lockMargin. It must outlast the function's timeout, or a retry could run while the first
	// request is still working.
	DefaultLockTTL = 30 * time.Second
	lockMargin     = 5 * time.Second
	// MaxKeyLen bounds the client's key.
	MaxKeyLen = 255
)

// storedHeaders are the response headers a replay repeats; others (Date, request ids, rate limit
// counters) describe the replaying request, not the stored answer.
var storedHeaders = []string{"Content-Type", "Location", "ETag"}

// Store keeps idempotency records in Redis (standalone or cluster: one key per record).
type Store struct {
	rdb     redis.UniversalClient
	ttl     time.Duration
	lockTTL time.Duration
	log     *slog.Logger
}

// Option configures New.
type Option func(*Store)

// WithTTL sets how long answers are kept (DefaultTTL).
func WithTTL(d time.Duration) Option { return func(s *Store) { s.ttl = d } }

// WithLockTTL sets the in-flight marker's lifetime for requests without a deadline (DefaultLockTTL).
func WithLockTTL(d time.Duration) Option { return func(s *Store) { s.lockTTL = d } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(s *Store) { s.log = log } }

// New returns a Store over rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, ttl: DefaultTTL, lockTTL: DefaultLockTTL, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ValidKey reports whether k is an acceptable Idempotency-Key: 1 to 255 printable ASCII
// characters (a UUID is the usual choice).
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// recordKey derives the Redis key. Hashing keeps it short whatever the client sent, and the NUL
// separators make the parts unambiguous.
func recordKey(scope, method, path, key string) string {
	h := sha256.Sum256([]byte(scope + "\x00" + method + "\x00" + path + "\x00" + key))
	return "idem:" + base64.RawURLEncoding.EncodeToString(h[:])
}

// beginScript creates the in-flight record unless one exists, and otherwise returns the existing
// record's fields.
// KEYS[1] record. ARGV: owner token, body hash, lock TTL (ms).
// Returns {} when created, else {state, body hash, status, headers, body}.
var beginScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'st', 'inflight', 'own', ARGV[1], 'bh', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {}
end
local r = redis.call('HMGET', KEYS[1], 'st', 'bh', 'code', 'hdr', 'body')
for i = 1, 5 do
  if not r[i] then r[i] = '' end
end
return r
`)

// completeScript stores the answer if the caller still owns the record: a request that outlived
// its marker must not overwrite the record of the retry that took over.
// KEYS[1] record. ARGV: owner token, status, headers (JSON), body, TTL (ms).
var completeScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'own') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'st', 'done', 'code', ARGV[2], 'hdr', ARGV[3], 'body', ARGV[4])
redis.call('HDEL', KEYS[1], 'own')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`)

// releaseScript deletes the record if the caller still owns it, so a retry can run.
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'own') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Errors a duplicate request gets.
var (
	ErrInFlight     = fault.E(fault.Conflict, "a request with this Idempotency-Key is still in progress; retry later")
	ErrBodyMismatch = &fault.Error{Code: fault.Invalid, Message: "Idempotency-Key was already used with another request body",
		Fields: []fault.FieldError{{Field: Header, Message: "already used with another request body"}}}
	ErrInvalidKey = fault.E(fault.BadRequest, "Idempotency-Key must be 1 to 255 printable ASCII characters")
)

func errRedis(err error) error {
	return &fault.Error{Code: fault.Unavailable, Message: "idempotency store unavailable", RetryAfter: time.Second, Err: err}
}

// stored is an answer read back for a replay.
type stored struct {
	status int
	header http.Header
	body   []byte
}

// begin claims the record or reports what holds it. It returns (owner, nil, nil) when claimed,
// (“”, answer, nil) for a replay, or an error (ErrInFlight, ErrBodyMismatch, 503).
func (s *Store) begin(ctx context.Context, key, bodyHash string) (string, *stored, error) {
	owner := make([]byte, 16)
	_, _ = rand.Read(owner)
	token := base64.RawURLEncoding.EncodeToString(owner)
	lock := s.lockTTL
	if dl, ok := ctx.Deadline(); ok {
		lock = time.Until(dl) + lockMargin
	}
	lock = max(lock, time.Second)
	res, err := beginScript.Run(ctx, s.rdb, []string{key}, token, bodyHash, lock.Milliseconds()).StringSlice()
	if err != nil {
		return "", nil, errRedis(fmt.Errorf("idempotency begin: %w", err))
	}
	if len(res) == 0 {
		return token, nil, nil
	}
	if len(res) != 5 {
		return "", nil, fmt.Errorf("idempotency begin: unexpected reply of %d fields", len(res))
	}
	state, bh := res[0], res[1]
	switch {
	case bh != bodyHash:
		return "", nil, ErrBodyMismatch
	case state != "done":
		return "", nil, ErrInFlight
	}
	status, err := strconv.Atoi(res[2])
	if err != nil {
		return "", nil, fmt.Errorf("idempotency: stored status %q: %w", res[2], err)
	}
	h := http.Header{}
	if res[3] != "" {
		if err := json.Unmarshal([]byte(res[3]), &h); err != nil {
			return "", nil, fmt.Errorf("idempotency: stored headers: %w", err)
		}
	}
	return "", &stored{status: status, header: h, body: []byte(res[4])}, nil
}

func (s *Store) complete(ctx context.Context, key, owner string, rec *recorder) error {
	h := http.Header{}
	for _, name := range storedHeaders {
		if v := rec.header.Values(name); len(v) > 0 {
			h[http.CanonicalHeaderKey(name)] = v
		}
	}
	hdr, _ := json.Marshal(h)
	return completeScript.Run(ctx, s.rdb, []string{key}, owner, rec.status, hdr, rec.body.Bytes(), s.ttl.Milliseconds()).Err()
}

func (s *Store) release(ctx context.Context, key, owner string) error {
	return releaseScript.Run(ctx, s.rdb, []string{key}, owner).Err()
}

// Middleware applies the protocol to POST requests that carry an Idempotency-Key; other requests
// pass straight through. On authenticated routes it must run after auth's Require so that the
// key is scoped to the user; on public routes it is scoped to the source IP.
func (s *Store) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, present := r.Header[Header]
		if r.Method != http.MethodPost || !present {
			next.ServeHTTP(w, r)
			return
		}
		if len(k) != 1 || !ValidKey(k[0]) {
			api.WriteError(w, r, ErrInvalidKey)
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		sum := sha256.Sum256(body)
		key := recordKey(scope(r), r.Method, r.URL.Path, k[0])

		owner, replay, err := s.begin(r.Context(), key, base64.RawStdEncoding.EncodeToString(sum[:]))
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		if replay != nil {
			for name, v := range replay.header {
				w.Header()[name] = v
			}
			w.Header().Set(ReplayedHeader, "true")
			w.Header().Set("Content-Length", strconv.Itoa(len(replay.body)))
			w.WriteHeader(replay.status)
			_, _ = w.Write(replay.body)
			return
		}

		rec := &recorder{ResponseWriter: w, header: w.Header(), status: http.StatusOK}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// A panic or an abandoned request must not leave the marker until its TTL: release it,
		// then let the panic continue to the recovery middleware.
		finished := false
		defer func() {
			if !finished {
				s.finish(r.Context(), key, owner, nil)
			}
		}()
		next.ServeHTTP(rec, r)
		finished = true
		s.finish(r.Context(), key, owner, rec)
	})
}

// finish stores rec, or releases the record when rec is nil or an answer a retry should not get.
func (s *Store) finish(ctx context.Context, key, owner string, rec *recorder) {
	// The answer has already gone to the client; don't let its cancellation stop the bookkeeping.
	ctx = context.WithoutCancel(ctx)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var err error
	if rec == nil || rec.status >= 500 || rec.status == http.StatusTooManyRequests {
		err = s.release(ctx, key, owner)
	} else {
		err = s.complete(ctx, key, owner, rec)
	}
	if err != nil {
		// The marker expires by itself; until then a retry gets 409, after it the retry runs.
		s.log.ErrorContext(ctx, "idempotency: could not record the answer", "err", err)
	}
}

// scope names whose keys these are: the user's, or, before authentication, the source IP's.
func scope(r *http.Request) string {
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		return "u:" + p.UserID.String()
	}
	return "ip:" + api.ClientIP(r)
}

// readBody reads the request body with api.MaxBody's limit, so it can be hashed and then handed to
// the handler again.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > api.MaxBody {
		return nil, fault.E(fault.TooLarge, "request body is larger than %d bytes", api.MaxBody)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fault.E(fault.TooLarge, "request body is larger than %d bytes", api.MaxBody)
		}
		return nil, fault.Wrap(fault.BadRequest, err, "could not read request body")
	}
	return b, nil
}

// recorder passes the answer through to the client and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
