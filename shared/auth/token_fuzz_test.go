package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/fault"
)

// fuzzNow is the fuzz targets' clock: fixed, so that what a token is checked against doesn't
// change between a run and its replay.
var fuzzNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fuzzTokens returns a Tokens over testKey on fuzzNow's clock.
func fuzzTokens(t testing.TB) *Tokens {
	return newTestTokens(t, WithClock(func() time.Time { return fuzzNow }))
}

// FuzzVerify feeds Verify arbitrary strings, starting from tokens it issued, and checks that it
// never panics, refuses with a 401 of its own two messages, answers the same when asked again
// (the verified-token cache), and accepts only what it signed: a token it accepts is exactly
// the canonical encoding (no other spelling of the same bytes) of an HS256 signature under its
// key over the token's own header and claims, and those claims name its issuer and audience, an
// unexpired lifetime and the user and session it answers.
//
// Run it with: go test ./shared/auth -run '^$' -fuzz FuzzVerify
func FuzzVerify(f *testing.F) {
	tk := fuzzTokens(f)
	good, _, err := tk.Issue(uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"))
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	other, _ := NewTokens([]byte("another key that is 32 bytes long!!"), WithClock(func() time.Time { return fuzzNow }))
	forged, _, _ := other.Issue(uuid.New(), uuid.New())
	// The other spellings of the same signature: the last character with its unused bits set,
	// and a line break, which the base64 decoder skips.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, parts[2][len(parts[2])-1])
	respelled := parts[2][:len(parts[2])-1] + string(alphabet[last&^3|(last+1)&3])
	for _, s := range []string{
		good,
		forged,
		parts[0] + "." + parts[1] + "." + respelled,
		parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:],
		parts[0] + "." + parts[1] + "." + parts[2] + "=",
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".",
		"", "...", "a.b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := tk.Verify(token)
		again, err2 := tk.Verify(token)
		if p != again || (err == nil) != (err2 == nil) {
			t.Fatalf("Verify(%q) = %v, %v; then %v, %v", token, p, err, again, err2)
		}
		if err != nil {
			checkRefusal(t, token, err)
			return
		}
		checkSigned(t, token, testKey, p)
	})
}

// FuzzSignedClaims signs arbitrary headers and claims, with the key of the Tokens that verifies
// them or with another, and checks that Verify accepts only what its key signed under the header
// {"alg":"HS256"} (whatever else the header says) with claims that pass every check: issuer,
// audience, exp present and not past, nbf and iat not in the future (each within the leeway),
// and a user and a session that are UUIDs.
//
// Run it with: go test ./shared/auth -run '^$' -fuzz FuzzSignedClaims
func FuzzSignedClaims(f *testing.F) {
	now := fuzzNow.Unix()
	claims := func(extra string) []byte {
		return []byte(`{"iss":"scaleapi","aud":["scaleapi-api"],"sub":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",` +
			`"sid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","iat":` + itoa(now) + `,"exp":` + itoa(now+900) + extra + `}`)
	}
	hs256 := []byte(`{"alg":"HS256","typ":"JWT"}`)
	f.Add(hs256, claims(""), true)
	f.Add(hs256, claims(""), false)
	f.Add([]byte(`{"alg":"HS512"}`), claims(""), true)
	f.Add([]byte(`{"alg":"none"}`), claims(""), true)
	f.Add([]byte(`{"alg":"hs256","kid":"x"}`), claims(`,"nbf":`+itoa(now+3600)), true)
	f.Add(hs256, []byte(`{"iss":"scaleapi","aud":"scaleapi-api","sub":"admin","sid":"x","exp":1e300}`), true)
	f.Add(hs256, []byte(`{"ISS":"scaleapi","AUD":"scaleapi-api","Sub":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","SID":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","EXP":"1"}`), true)
	other := []byte("another key that is 32 bytes long!!")
	f.Fuzz(func(t *testing.T, header, claims []byte, ours bool) {
		key := testKey
		if !ours {
			key = other
		}
		signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(signing))
		token := signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

		p, err := fuzzTokens(t).Verify(token)
		if err != nil {
			checkRefusal(t, token, err)
			return
		}
		if !ours {
			t.Fatalf("accepted %s %s signed with another key", header, claims)
		}
		checkSigned(t, token, testKey, p)
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// checkRefusal fails t unless err is one of Verify's two 401s.
func checkRefusal(t *testing.T, token string, err error) {
	if fault.CodeOf(err) != fault.Unauthenticated {
		t.Fatalf("Verify(%q): %v is not a 401", token, err)
	}
	if m := fault.As(err).Message; m != ErrTokenInvalid.Message && m != ErrTokenExpired.Message {
		t.Fatalf("Verify(%q): message %q", token, m)
	}
}

// tokenClaims are the claims checkSigned reads, as encoding/json reads them (which is how the
// verifier reads them too: member names match case-insensitively).
type tokenClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Sid string          `json:"sid"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Nbf *float64        `json:"nbf"`
	Iat *float64        `json:"iat"`
}

// checkSigned fails t unless token, which Verify accepted as p, is what key signed, by the rules
// Verify promises, checked here without the JWT library.
func checkSigned(t *testing.T, token string, key []byte, p Principal) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted %q: %d segments", token, len(parts))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if sig := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); sig != parts[2] {
		t.Fatalf("accepted %q: its signature segment is not %s, the canonical HS256 signature under the key", token, sig)
	}
	header, err1 := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	var h struct {
		Alg string `json:"alg"`
	}
	var c tokenClaims
	if err1 != nil || err2 != nil || json.Unmarshal(header, &h) != nil || json.Unmarshal(payload, &c) != nil {
		t.Fatalf("accepted %q, whose segments don't decode (%v, %v)", token, err1, err2)
	}
	if h.Alg != "HS256" {
		t.Fatalf("accepted %q with alg %q", token, h.Alg)
	}
	// NumericDates are whole seconds after the verifier's truncation: one second of slack
	// keeps the checks below off the boundary.
	now, leeway := float64(fuzzNow.Unix()), DefaultLeeway.Seconds()+1
	var aud []string
	if json.Unmarshal(c.Aud, &aud) != nil {
		var one string
		_ = json.Unmarshal(c.Aud, &one)
		aud = []string{one}
	}
	switch {
	case c.Iss != DefaultIssuer:
		t.Fatalf("accepted %s with issuer %q", payload, c.Iss)
	case !contains(aud, DefaultAudience):
		t.Fatalf("accepted %s with audience %s", payload, c.Aud)
	case c.Exp == nil || *c.Exp < now-leeway:
		t.Fatalf("accepted %s: no exp, or past", payload)
	case c.Nbf != nil && *c.Nbf > now+leeway, c.Iat != nil && *c.Iat > now+leeway:
		t.Fatalf("accepted %s: not valid yet", payload)
	}
	if sub, err := uuid.Parse(c.Sub); err != nil || sub != p.UserID {
		t.Fatalf("accepted %s as user %s", payload, p.UserID)
	}
	if sid, err := uuid.Parse(c.Sid); err != nil || sid != p.SessionID {
		t.Fatalf("accepted %s as session %s", payload, p.SessionID)
	}
}

func contains(vs []string, s string) bool {
	for _, v := range vs {
		if v == s {
			return true
		}
	}
	return false
}

// FuzzParseRefresh checks that parseRefresh never panics, that every refresh token Create hands
// out parses back to its session and secret, and that what it accepts is a session id and a
// secret of exactly 32 bytes in its one canonical spelling, so that a refresh token has no
// second spelling that a client could present.
//
// Run it with: go test ./shared/auth -run '^$' -fuzz FuzzParseRefresh
func FuzzParseRefresh(f *testing.F) {
	secret, _, err := newSecret()
	if err != nil {
		f.Fatal(err)
	}
	sid := uuid.New()
	for _, s := range []string{
		sid.String() + "." + secret,
		strings.ToUpper(sid.String()) + "." + secret,
		sid.String() + "." + secret + "A",
		sid.String() + "." + secret[:42] + "B",
		sid.String() + ".." + secret,
		"{" + sid.String()[:34] + "}." + secret,
		"", ".", sid.String(),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, sec, ok := parseRefresh(token)
		if !ok {
			if got != uuid.Nil || sec != "" {
				t.Fatalf("parseRefresh(%q) refused it with %v, %q", token, got, sec)
			}
			return
		}
		sidText, rest, _ := strings.Cut(token, ".")
		raw, err := base64.RawURLEncoding.Strict().DecodeString(sec)
		switch {
		case rest != sec:
			t.Fatalf("parseRefresh(%q): secret %q", token, sec)
		case uuid.MustParse(sidText) != got || !strings.EqualFold(sidText, got.String()):
			t.Fatalf("parseRefresh(%q): session %v", token, got)
		case err != nil || len(raw) != secretLen || base64.RawURLEncoding.EncodeToString(raw) != sec:
			t.Fatalf("parseRefresh(%q): secret %q is not %d bytes in canonical base64url (%v)", token, sec, secretLen, err)
		}
		// What Create would hand out for these bytes parses back to them.
		issued := got.String() + "." + base64.RawURLEncoding.EncodeToString(raw)
		if s2, sec2, ok := parseRefresh(issued); !ok || s2 != got || sec2 != sec {
			t.Fatalf("parseRefresh(%q) = %v, %q, %v", issued, s2, sec2, ok)
		}
	})
}
