package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/fault"
)

// DefaultRefreshTTL is the default session (and refresh-token) lifetime.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// deadKept bounds how many rotated-away refresh hashes a session remembers. 128 keeps the
// sorted set in Redis's compact listpack encoding (zset-max-listpack-entries) and covers 32
// hours of a client refreshing every 15 minutes without pause. A token older than that is
// still refused (401), it just no longer revokes the session when replayed: it has been dead
// so long that the session has moved on many times over.
const deadKept = 128

// Session errors. ErrSessionEnded is what a caller presenting a token of a deleted session gets.
var (
	ErrRefreshInvalid = fault.E(fault.Unauthenticated, "invalid refresh token")
	ErrRefreshReused  = fault.E(fault.Unauthenticated, "refresh token reused; session revoked")
	ErrSessionEnded   = fault.E(fault.Unauthenticated, "session ended")
)

// errRedis wraps Redis failures as 503: a session check that can't run can't say yes.
func errRedis(err error) error {
	return &fault.Error{Code: fault.Unavailable, Message: "session store unavailable", RetryAfter: time.Second, Err: err}
}

// Sessions keeps sessions and their refresh tokens in Redis (standalone or cluster).
type Sessions struct {
	rdb redis.UniversalClient
	ttl time.Duration
	now func() time.Time
}

// NewSessions returns a Sessions over rdb whose sessions last ttl after their last refresh.
func NewSessions(rdb redis.UniversalClient, ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = DefaultRefreshTTL
	}
	return &Sessions{rdb: rdb, ttl: ttl, now: time.Now}
}

// TTL returns the session and refresh-token lifetime.
func (s *Sessions) TTL() time.Duration { return s.ttl }

func sessionKey(sid uuid.UUID) string { return "sess:{" + sid.String() + "}" }
func deadKey(sid uuid.UUID) string    { return "sess:{" + sid.String() + "}:dead" }

// A refresh token is "<sid>.<secret>": the sid says which session to look in, the secret (32
// random bytes, base64url) proves possession. Only SHA-256 of the secret is stored: the secret
// has 256 bits of entropy, so a fast hash is enough to make a leaked Redis dump useless, and
// argon2 here would only add latency.
const secretLen = 32

func newSecret() (secret string, hash string, err error) {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("auth: refresh secret: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret), nil
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawStdEncoding.EncodeToString(h[:])
}

// parseRefresh splits a refresh token into its session id and secret.
func parseRefresh(token string) (uuid.UUID, string, bool) {
	sidText, secret, ok := strings.Cut(token, ".")
	if !ok || len(sidText) != 36 || base64.RawURLEncoding.DecodedLen(len(secret)) != secretLen {
		return uuid.Nil, "", false
	}
	sid, err := uuid.Parse(sidText)
	if err != nil {
		return uuid.Nil, "", false
	}
	// The decoded length is checked too: the decoder skips CR and LF, so a secret with a line
	// break in it passes the length check above with a byte fewer (FuzzParseRefresh).
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != secretLen {
		return uuid.Nil, "", false
	}
	return sid, secret, true
}

// Create starts a session for user and returns its id and first refresh token.
func (s *Sessions) Create(ctx context.Context, userID uuid.UUID) (sid uuid.UUID, refresh string, err error) {
	sid, err = uuid.NewRandom() // random, not v7: a session id should not tell when it began
	if err != nil {
		return uuid.Nil, "", fmt.Errorf("auth: session id: %w", err)
	}
	secret, hash, err := newSecret()
	if err != nil {
		return uuid.Nil, "", err
	}
	key := sessionKey(sid)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "uid", userID.String(), "rt", hash, "created", s.now().Unix())
		p.PExpire(ctx, key, s.ttl)
		return nil
	})
	if err != nil {
		return uuid.Nil, "", errRedis(fmt.Errorf("create session: %w", err))
	}
	return sid, sid.String() + "." + secret, nil
}

// UserOf returns the user of the session a refresh token names, without checking the token's
// secret (Rotate does that). It lets a caller load the user before spending the token, so that a
// failure in between leaves the token usable. It returns ErrRefreshInvalid for a malformed token or
// an ended session, and a 503 error when Redis can't be reached.
func (s *Sessions) UserOf(ctx context.Context, refresh string) (uuid.UUID, error) {
	sid, _, ok := parseRefresh(refresh)
	if !ok {
		return uuid.Nil, ErrRefreshInvalid
	}
	v, err := s.rdb.HGet(ctx, sessionKey(sid), "uid").Result()
	if errors.Is(err, redis.Nil) {
		return uuid.Nil, ErrRefreshInvalid
	}
	if err != nil {
		return uuid.Nil, errRedis(fmt.Errorf("read session: %w", err))
	}
	uid, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, fmt.Errorf("auth: session %s has a bad uid: %w", sid, err)
	}
	return uid, nil
}

// rotateScript swaps a session's refresh hash atomically, so two concurrent refreshes with the
// same token can't both succeed: the second finds the hash already dead and revokes the session,
// which is what a stolen token racing its owner looks like.
//
// KEYS[1] session hash, KEYS[2] dead set (same slot). ARGV: presented hash, new hash, TTL (ms),
// how many dead hashes to keep. A dead hash's score is the session's rotation count (gen), not a
// timestamp: rotations within one millisecond would tie, and ties trim in member order.
// Returns {1, uid} rotated, {2} reuse of a dead token (session deleted), {0} unknown.
var rotateScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'rt')
if not cur then
  return {0}
end
if cur == ARGV[1] then
  local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
  redis.call('HSET', KEYS[1], 'rt', ARGV[2])
  redis.call('ZADD', KEYS[2], gen, ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return {1, redis.call('HGET', KEYS[1], 'uid')}
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {2}
end
return {0}
`)

// Rotate exchanges refresh for a new refresh token of the same session and returns the session's
// user. The presented token is dead from then on. It returns ErrRefreshReused (and deletes the
// session, so its newest refresh token and its access tokens stop working too) when refresh
// was already rotated away, ErrRefreshInvalid for a malformed or unknown token or an ended
// session, and a 503 error when Redis can't be reached.
func (s *Sessions) Rotate(ctx context.Context, refresh string) (userID, sid uuid.UUID, newRefresh string, err error) {
	sid, secret, ok := parseRefresh(refresh)
	if !ok {
		return uuid.Nil, uuid.Nil, "", ErrRefreshInvalid
	}
	next, nextHash, err := newSecret()
	if err != nil {
		return uuid.Nil, uuid.Nil, "", err
	}
	res, err := rotateScript.Run(ctx, s.rdb, []string{sessionKey(sid), deadKey(sid)},
		hashSecret(secret), nextHash, s.ttl.Milliseconds(), deadKept).Slice()
	if err != nil {
		return uuid.Nil, uuid.Nil, "", errRedis(fmt.Errorf("rotate refresh token: %w", err))
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		uidText, _ := res[1].(string)
		uid, err := uuid.Parse(uidText)
		if err != nil {
			return uuid.Nil, uuid.Nil, "", fmt.Errorf("auth: session %s has a bad uid: %w", sid, err)
		}
		return uid, sid, sid.String() + "." + next, nil
	case 2:
		return uuid.Nil, uuid.Nil, "", ErrRefreshReused
	default:
		return uuid.Nil, uuid.Nil, "", ErrRefreshInvalid
	}
}

// Revoke deletes session sid: its refresh token and access tokens stop working at once, in every
// execution environment. Revoking an ended session is not an error.
func (s *Sessions) Revoke(ctx context.Context, sid uuid.UUID) error {
	// Both keys share a slot, so one DEL works on a cluster too.
	if err := s.rdb.Del(ctx, sessionKey(sid), deadKey(sid)).Err(); err != nil {
		return errRedis(fmt.Errorf("revoke session: %w", err))
	}
	return nil
}

// Check returns nil if session sid exists, ErrSessionEnded if it doesn't, and a 503 error when
// Redis can't be reached. It is one EXISTS: the cheapest command that answers the question.
func (s *Sessions) Check(ctx context.Context, sid uuid.UUID) error {
	return sessionAlive(s.rdb.Exists(ctx, sessionKey(sid)))
}

// sessionAlive reads the reply of a session's EXISTS, sent alone or in a pipeline.
func sessionAlive(cmd *redis.IntCmd) error {
	n, err := cmd.Result()
	if err != nil {
		return errRedis(fmt.Errorf("check session: %w", err))
	}
	if n == 0 {
		return ErrSessionEnded
	}
	return nil
}
