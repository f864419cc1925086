package auth

import (
	"net/http"
	"strings"

	"scaleapi/shared/api"
	"scaleapi/shared/fault"
)

// Authenticator turns a request's Bearer token into a Principal.
type Authenticator struct {
	tokens   *Tokens
	sessions *Sessions
}

// NewAuthenticator returns an Authenticator that verifies tokens with tokens and checks their
// sessions in sessions.
func NewAuthenticator(tokens *Tokens, sessions *Sessions) *Authenticator {
	return &Authenticator{tokens: tokens, sessions: sessions}
}

// ErrNoToken is the answer to a request without a Bearer token.
var ErrNoToken = fault.E(fault.Unauthenticated, "missing bearer token")

// Require lets a request through to next only with a valid access token of a live session, and
// puts the Principal in its context. Otherwise it answers 401 problem+json with
// WWW-Authenticate: Bearer (RFC 6750), or 503 when Redis can't say whether the session lives.
func (a *Authenticator) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			if fault.CodeOf(err) == fault.Unauthenticated {
				w.Header().Set("WWW-Authenticate", challenge(err))
			}
			api.WriteError(w, r, err)
			return
		}
		api.SetUser(r.Context(), p.UserID.String())
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Authenticate verifies r's Bearer token and checks its session: one Redis round trip. It returns
// a 401 error (ErrNoToken, ErrTokenExpired, ErrTokenInvalid, ErrSessionEnded) or a 503 one.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	token, ok := bearer(r)
	if !ok {
		return Principal{}, ErrNoToken
	}
	p, err := a.tokens.Verify(token)
	if err != nil {
		return Principal{}, err
	}
	if err := a.sessions.Check(r.Context(), p.SessionID); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// bearer extracts the token of an "Authorization: Bearer <token>" header; the scheme is
// case-insensitive (RFC 7235 §2.1).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// challenge is the WWW-Authenticate value: a bare "Bearer" when no token came (RFC 6750 §3.1
// says not to name an error then), error="invalid_token" otherwise.
func challenge(err error) string {
	if err == ErrNoToken {
		return `Bearer realm="scaleapi"`
	}
	return `Bearer realm="scaleapi", error="invalid_token", error_description="` + fault.As(err).Message + `"`
}
