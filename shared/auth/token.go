package auth

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"scaleapi/shared/fault"
)

// Defaults for Tokens.
const (
	// DefaultIssuer is the iss claim of the tokens this API issues.
	DefaultIssuer = "scaleapi"
	// DefaultAudience is the aud claim: the API itself. A token minted for another audience
	// under the same key (a future service sharing the secret) is not accepted here.
	DefaultAudience = "scaleapi-api"
	// DefaultAccessTTL is an access token's lifetime: short, because between the session check
	// and expiry nothing else can withdraw it if Redis itself is bypassed (it never is on our
	// routes, but tokens get logged and copied).
	DefaultAccessTTL = 15 * time.Minute
	// DefaultLeeway absorbs clock skew between execution environments for exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MinKeyLen is the shortest HS256 key accepted: RFC 7518 §3.2 asks for at least the hash
	// size, 256 bits.
	MinKeyLen = 32
)

// Token errors, answered as 401 by the middleware. ErrTokenExpired has its own message because a
// client reacts to it differently (refresh) from a bad token (log in again).
var (
	ErrTokenExpired = fault.E(fault.Unauthenticated, "token expired")
	ErrTokenInvalid = fault.E(fault.Unauthenticated, "invalid token")
)

// Claims are an access token's claims: sub is the user id, sid the session id.
type Claims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies access tokens with one HMAC key.
type Tokens struct {
	key      []byte
	ttl      time.Duration
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	verified verifiedTokens
}

// TokenOption configures NewTokens.
type TokenOption func(*Tokens)

// WithTTL sets the access-token lifetime (DefaultAccessTTL).
func WithTTL(d time.Duration) TokenOption { return func(t *Tokens) { t.ttl = d } }

// WithIssuer sets the iss claim issued and required (DefaultIssuer).
func WithIssuer(iss string) TokenOption { return func(t *Tokens) { t.issuer = iss } }

// WithAudience sets the aud claim issued and required (DefaultAudience).
func WithAudience(aud string) TokenOption { return func(t *Tokens) { t.audience = aud } }

// WithLeeway sets the clock-skew allowance (DefaultLeeway).
func WithLeeway(d time.Duration) TokenOption { return func(t *Tokens) { t.leeway = d } }

// WithClock replaces time.Now, for tests that need an expired token without sleeping.
func WithClock(now func() time.Time) TokenOption { return func(t *Tokens) { t.now = now } }

// NewTokens returns a Tokens that signs with key (at least MinKeyLen bytes).
func NewTokens(key []byte, opts ...TokenOption) (*Tokens, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("auth: signing key is %d bytes, need at least %d", len(key), MinKeyLen)
	}
	t := &Tokens{
		key:      append([]byte(nil), key...),
		ttl:      DefaultAccessTTL,
		issuer:   DefaultIssuer,
		audience: DefaultAudience,
		leeway:   DefaultLeeway,
		now:      time.Now,
	}
	for _, o := range opts {
		o(t)
	}
	if t.ttl <= 0 {
		return nil, errors.New("auth: access token TTL must be positive")
	}
	// The parser is built once: its options are fixed, and building it per request would show in
	// BenchmarkVerifyAccessToken. WithValidMethods pins HS256, which is what stops "alg": "none"
	// and the RS256-public-key-as-HMAC-secret confusion.
	// WithStrictDecoding refuses the other spellings of a signature (its last character with
	// the unused bits set), so that the token accepted is exactly the one signed (FuzzVerify).
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(t.leeway),
		jwt.WithTimeFunc(t.now),
	)
	return t, nil
}

// TTL returns the access-token lifetime.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue returns a signed access token for user in session sid, and when it expires.
func (t *Tokens) Issue(userID, sid uuid.UUID) (string, time.Time, error) {
	now := t.now().UTC().Truncate(time.Second)
	exp := now.Add(t.ttl)
	claims := Claims{
		SessionID: sid.String(),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   userID.String(),
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        uuid.NewString(),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks token's signature (HS256 only), issuer, audience and lifetime, and returns the
// principal it names. It returns ErrTokenExpired for an expired token and ErrTokenInvalid, with
// the reason as the cause, for anything else. It does not consult Redis: the middleware checks
// the session separately.
func (t *Tokens) Verify(token string) (Principal, error) {
	if p, ok := t.verified.get(token, t.now(), t.leeway); ok {
		return p, nil
	}
	// The base64 decoder skips CR and LF, so a token with a line break in it would verify as the
	// token without; no token Issue signs has one (FuzzVerify). A cached token passed here.
	if strings.ContainsAny(token, "\r\n") {
		return Principal{}, fault.Wrap(fault.Unauthenticated, errors.New("line break in token"), ErrTokenInvalid.Message)
	}
	var c Claims
	_, err := t.parser.ParseWithClaims(token, &c, t.keyFunc)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Principal{}, ErrTokenExpired
		}
		return Principal{}, fault.Wrap(fault.Unauthenticated, err, ErrTokenInvalid.Message)
	}
	uid, err := uuid.Parse(c.Subject)
	if err != nil {
		return Principal{}, fault.Wrap(fault.Unauthenticated, err, ErrTokenInvalid.Message)
	}
	sid, err := uuid.Parse(c.SessionID)
	if err != nil {
		return Principal{}, fault.Wrap(fault.Unauthenticated, err, ErrTokenInvalid.Message)
	}
	p := Principal{UserID: uid, SessionID: sid}
	t.verified.put(token, p, &c.RegisteredClaims)
	return p, nil
}

func (t *Tokens) keyFunc(*jwt.Token) (any, error) { return t.key, nil }

// verifiedTokens remembers tokens that passed Verify, so that the requests of a client reusing
// its access token (all of them, for its 15 minutes) skip the HMAC, the base64 and the claims'
// JSON: about 10 µs and 64 allocations each, on every authenticated request.
//
// What a token proves never changes: the same string has the same signature and the same
// claims, checked under the same key, issuer and audience (the cache belongs to one Tokens).
// Only time does, so a hit re-checks exp, nbf and iat against the clock exactly as the parser
// does (with its leeway), and a token that fails them is verified afresh, which gives the
// precise error. Revocation is not the token's business: the session check in Redis, on every
// request, is what ends a session's tokens.
//
// The cache is bounded: when it holds maxVerified tokens it is emptied and starts again, which
// costs a busy environment one full verification per client, and keeps the tokens (bearer
// credentials, already in the process's memory while their requests run) from accumulating.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

// maxVerified bounds verifiedTokens: a few hundred KB of tokens.
const maxVerified = 1024

type verifiedToken struct {
	p             Principal
	exp, nbf, iat time.Time // zero when the claim is absent
}

func (v *verifiedTokens) get(token string, now time.Time, leeway time.Duration) (Principal, bool) {
	v.mu.Lock()
	e, ok := v.m[token]
	v.mu.Unlock()
	if !ok {
		return Principal{}, false
	}
	// jwt's validator: exp required, now < exp+leeway; iat and nbf, when present,
	// not after now+leeway.
	if e.exp.IsZero() || !now.Before(e.exp.Add(leeway)) ||
		(!e.iat.IsZero() && now.Before(e.iat.Add(-leeway))) ||
		(!e.nbf.IsZero() && now.Before(e.nbf.Add(-leeway))) {
		return Principal{}, false
	}
	return e.p, true
}

func (v *verifiedTokens) put(token string, p Principal, c *jwt.RegisteredClaims) {
	e := verifiedToken{p: p}
	if c.ExpiresAt != nil {
		e.exp = c.ExpiresAt.Time
	}
	if c.NotBefore != nil {
		e.nbf = c.NotBefore.Time
	}
	if c.IssuedAt != nil {
		e.iat = c.IssuedAt.Time
	}
	v.mu.Lock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = make(map[string]verifiedToken, 64)
	}
	v.m[token] = e
	v.mu.Unlock()
}
