package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/redis/go-redis/v9"

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

// Joiner is middleware that runs right after Require and whose own Redis commands can travel in
// the session check's round trip: the rate limiter's decision, for one. Require, given a Joiner
// as its next handler, sends the session's EXISTS and the Joiner's commands in one pipeline, so
// an authenticated, rate-limited request pays one round trip to Redis for both instead of two.
// The session is still checked in Redis on every request; only the waiting is shared.
//
// A pipeline is not a transaction: on a Redis Cluster go-redis sends each node its share, and
// the commands may name keys in any slot.
type Joiner interface {
	http.Handler
	// JoinSessionCheck queues the handler's commands for r (which carries the Principal) on
	// pipe, a pipeline of rdb that Require is about to execute, and returns what finishes the
	// request once the replies are in. It returns nil, having queued nothing, when it can't
	// join (its commands go to another client): Require then checks the session and calls
	// ServeHTTP as it would for any handler.
	JoinSessionCheck(rdb redis.UniversalClient, pipe redis.Pipeliner, r *http.Request) Joined
}

// Joined is a Joiner's part of one request whose commands rode with the session check.
type Joined interface {
	// Serve goes on with the request once the session check has passed; w and r are what the
	// Joiner's ServeHTTP would have been given.
	Serve(w http.ResponseWriter, r *http.Request)
	// Abandon is called instead of Serve when the session check refused the request (ended
	// session, or Redis could not tell). The queued commands have run all the same, so it
	// undoes their effects where they matter: a refused request must leave things as if it
	// had never reached the Joiner, as it would have without the shared round trip.
	Abandon(ctx context.Context)
}

// Require lets a request through to next only with a valid access token of a live session, and
// puts the Principal in its context. Otherwise it answers 401 problem+json with
// WWW-Authenticate: Bearer (RFC 6750), or 503 when Redis can't say whether the session lives.
//
// When next is a Joiner (the rate limiter's middleware is), its Redis commands share the session
// check's round trip; see Joiner.
func (a *Authenticator) Require(next http.Handler) http.Handler {
	j, _ := next.(Joiner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.verify(r)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		r = r.WithContext(WithPrincipal(r.Context(), p))
		if j == nil {
			if err := a.sessions.Check(r.Context(), p.SessionID); err != nil {
				a.refuse(w, r, err)
				return
			}
			api.SetUser(r.Context(), p.UserID.String())
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		pipe := a.sessions.rdb.Pipeline()
		exists := pipe.Exists(ctx, sessionKey(p.SessionID))
		joined := j.JoinSessionCheck(a.sessions.rdb, pipe, r)
		_, _ = pipe.Exec(ctx) // each command's error is read from the command itself
		if err := sessionAlive(exists); err != nil {
			if joined != nil {
				joined.Abandon(ctx)
			}
			a.refuse(w, r, err)
			return
		}
		api.SetUser(ctx, p.UserID.String())
		if joined == nil {
			next.ServeHTTP(w, r)
			return
		}
		joined.Serve(w, r)
	})
}

// refuse answers a request Require does not let through.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if fault.CodeOf(err) == fault.Unauthenticated {
		w.Header().Set("WWW-Authenticate", challenge(err))
	}
	api.WriteError(w, r, err)
}

// Authenticate verifies r's Bearer token and checks its session: one Redis round trip. It returns
// a 401 error (ErrNoToken, ErrTokenExpired, ErrTokenInvalid, ErrSessionEnded) or a 503 one.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	p, err := a.verify(r)
	if err != nil {
		return Principal{}, err
	}
	if err := a.sessions.Check(r.Context(), p.SessionID); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// verify checks r's Bearer token without Redis.
func (a *Authenticator) verify(r *http.Request) (Principal, error) {
	token, ok := bearer(r)
	if !ok {
		return Principal{}, ErrNoToken
	}
	return a.tokens.Verify(token)
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
