package auth

import (
	"context"

	"github.com/google/uuid"
)

// Principal is the authenticated caller: a user, acting through one session.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p. The middleware calls it; tests of other
// packages' handlers may too, to stand in for an authenticated request.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the middleware stored in ctx, and whether there was one.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
