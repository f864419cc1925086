package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"scaleapi/shared/fault"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newTestTokens(t testing.TB, opts ...TokenOption) *Tokens {
	t.Helper()
	tk, err := NewTokens(testKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTokenRoundTrip(t *testing.T) {
	tk := newTestTokens(t)
	uid, sid := uuid.New(), uuid.New()
	tok, exp, err := tk.Issue(uid, sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 14*time.Minute || d > 15*time.Minute {
		t.Fatalf("expires in %v, want 15m", d)
	}
	p, err := tk.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != uid || p.SessionID != sid {
		t.Fatalf("principal = %+v, want user %s session %s", p, uid, sid)
	}

	// The claims API.md and the brief promise are all there.
	var claims map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"sub", "sid", "iat", "exp", "iss", "aud", "jti"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %s missing from %v", c, claims)
		}
	}
}

func TestTokenRejected(t *testing.T) {
	tk := newTestTokens(t)
	uid, sid := uuid.New(), uuid.New()
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	expired, _, _ := newTestTokens(t, WithClock(past)).Issue(uid, sid)
	otherKey, _ := NewTokens([]byte("another key that is 32 bytes long!!"))
	forged, _, _ := otherKey.Issue(uid, sid)
	wrongAud, _, _ := newTestTokens(t, WithAudience("other-service")).Issue(uid, sid)
	wrongIss, _, _ := newTestTokens(t, WithIssuer("someone-else")).Issue(uid, sid)
	good, _, _ := tk.Issue(uid, sid)

	// alg "none": the classic downgrade. jwt-go only signs it with its explicit unsafe marker.
	noneClaims := Claims{SessionID: sid.String(), RegisteredClaims: jwt.RegisteredClaims{
		Issuer: DefaultIssuer, Subject: uid.String(), Audience: jwt.ClaimStrings{DefaultAudience},
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, noneClaims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	// The same claims with HS512 under the right key: a valid signature, but not the pinned alg.
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, noneClaims).SignedString(testKey)
	// Right key and alg, but no exp: a token that would never expire.
	noExp := noneClaims
	noExp.ExpiresAt = nil
	noExpTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, noExp).SignedString(testKey)
	// Right key, but sub is not a user id.
	badSub := noneClaims
	badSub.Subject = "admin"
	badSubTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, badSub).SignedString(testKey)

	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"`+uuid.NewString()+`"}`)) + "." + parts[2]

	cases := []struct {
		name, token string
		want        error
	}{
		{"ErrTokenExpired", expired, ErrTokenExpired},
		{"WrongKey", forged, ErrTokenInvalid},
		{"AlgNone", none, ErrTokenInvalid},
		{"AlgHS512", hs512, ErrTokenInvalid},
		{"WrongAudience", wrongAud, ErrTokenInvalid},
		{"WrongIssuer", wrongIss, ErrTokenInvalid},
		{"NoExpiry", noExpTok, ErrTokenInvalid},
		{"SubjectNotUUID", badSubTok, ErrTokenInvalid},
		{"TamperedPayload", tampered, ErrTokenInvalid},
		{"Garbage", "not.a.token", ErrTokenInvalid},
		{"Empty", "", ErrTokenInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tk.Verify(c.token)
			if fault.CodeOf(err) != fault.Unauthenticated {
				t.Fatalf("Verify = %v, want a 401 error", err)
			}
			if got := fault.As(err).Message; got != fault.As(c.want).Message {
				t.Fatalf("message %q, want %q (err %v)", got, fault.As(c.want).Message, err)
			}
		})
	}
}

func TestTokenLeeway(t *testing.T) {
	uid, sid := uuid.New(), uuid.New()
	// Expired 10 s ago by the verifier's clock: within the 30 s leeway.
	issuer := newTestTokens(t, WithTTL(time.Minute), WithClock(func() time.Time { return time.Now().Add(-70 * time.Second) }))
	tok, _, _ := issuer.Issue(uid, sid)
	if _, err := newTestTokens(t).Verify(tok); err != nil {
		t.Fatalf("token 10 s past exp rejected despite leeway: %v", err)
	}
	// Expired 40 s ago: past it.
	issuer = newTestTokens(t, WithTTL(time.Minute), WithClock(func() time.Time { return time.Now().Add(-100 * time.Second) }))
	tok, _, _ = issuer.Issue(uid, sid)
	if _, err := newTestTokens(t).Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("token 40 s past exp: %v, want ErrTokenExpired", err)
	}
}

func TestNewTokensShortKey(t *testing.T) {
	if _, err := NewTokens([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

// BenchmarkVerifyAccessToken measures verifying one access token (HS256, claims checks), without
// the session check in Redis: the first time (Fresh) and again (Repeated, from the cache of
// verified tokens, as a client's later requests are).
func BenchmarkVerifyAccessToken(b *testing.B) {
	tk := newTestTokens(b)
	tok, _, err := tk.Issue(uuid.New(), uuid.New())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tk.verified.m = nil
			if _, err := tk.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Repeated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tk.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestVerifiedTokens checks that a token verified once is accepted again only while the clock
// says it is valid, with the parser's own errors once it is not.
func TestVerifiedTokens(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	tk := newTestTokens(t, WithTTL(time.Minute), WithClock(clock))
	uid, sid := uuid.New(), uuid.New()
	tok, _, _ := tk.Issue(uid, sid)
	issuedAt := now
	for range 2 { // fresh, then from the cache
		if p, err := tk.Verify(tok); err != nil || p.UserID != uid || p.SessionID != sid {
			t.Fatalf("Verify = %+v, %v", p, err)
		}
	}
	if len(tk.verified.m) != 1 {
		t.Fatalf("%d tokens remembered, want 1", len(tk.verified.m))
	}
	// Within the leeway past exp: still valid; past it: expired, cache or not.
	now = issuedAt.Add(time.Minute + 29*time.Second)
	if _, err := tk.Verify(tok); err != nil {
		t.Fatalf("29 s past exp: %v, want valid (leeway)", err)
	}
	now = issuedAt.Add(time.Minute + 31*time.Second)
	if _, err := tk.Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("31 s past exp: %v, want ErrTokenExpired", err)
	}
	// A clock that went back before iat (and nbf) beyond the leeway: not valid yet.
	now = issuedAt.Add(-31 * time.Second)
	if _, err := tk.Verify(tok); err == nil || errors.Is(err, ErrTokenExpired) {
		t.Fatalf("31 s before iat: %v, want ErrTokenInvalid", err)
	}
	now = issuedAt
	// A token that differs in one byte of its signature is not the remembered one.
	flip := "A"
	if tok[len(tok)-2] == 'A' {
		flip = "B"
	}
	forged := tok[:len(tok)-2] + flip + tok[len(tok)-1:]
	if _, err := tk.Verify(forged); err == nil {
		t.Fatal("a forged signature was accepted")
	}
	// Another Tokens (another key) does not share the cache.
	other, _ := NewTokens([]byte("another key, another key, another key"), WithClock(clock))
	if _, err := other.Verify(tok); err == nil {
		t.Fatal("a token signed with another key was accepted")
	}
	// Bounded.
	for range maxVerified + 10 {
		tok, _, _ := tk.Issue(uuid.New(), uuid.New())
		if _, err := tk.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tk.verified.m); n > maxVerified {
		t.Fatalf("%d tokens remembered, want at most %d", n, maxVerified)
	}
}

// BenchmarkIssueAccessToken measures signing one access token.
func BenchmarkIssueAccessToken(b *testing.B) {
	tk := newTestTokens(b)
	uid, sid := uuid.New(), uuid.New()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tk.Issue(uid, sid); err != nil {
			b.Fatal(err)
		}
	}
}
