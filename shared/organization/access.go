package organization

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/membership"
)

// MembershipsTTL is how long a user's memberships stay cached. Every change invalidates them
// after commit, so the TTL only bounds the damage of an invalidation Redis failed to apply.
const MembershipsTTL = 60 * time.Second

// Access answers "is this user a member of that organization, and as what?" for every function.
// It is on every authenticated request's path, so a user's memberships are cached as one Redis
// value, memberships:{userID}: a warm check is one GET, whatever the organization asked about,
// and the same value answers OrganizationIDs for scoping lists.
//
// Correctness: the organization service deletes memberships:{userID} after every commit that
// changes what the user may see (creating an organization, adding or removing them, deleting an
// organization they belong to), so the next request, in any execution environment, reads the
// database. A read that loaded the old memberships before that commit can't put them back:
// shared/cache takes a lease before loading and the invalidation kills it (see the cache
// package). If Redis fails during an invalidation the error is logged, and the stale value
// lives at most MembershipsTTL; writes in this package never rely on it (they check the role in
// their transaction).
type Access struct {
	conn  db.DBTX
	cache *cache.Cache
}

// NewAccess returns an Access reading memberships through pool and caching them in c (nil: no
// caching, every check is a query).
func NewAccess(pool db.DBTX, c *cache.Cache) *Access {
	return &Access{conn: pool, cache: c}
}

// MembershipsKey returns the logical cache key under which userID's memberships are cached
// (cache.MembershipsKey), for a request that prefetches them with other keys it needs
// (cache.Prefetch).
func (a *Access) MembershipsKey(userID uuid.UUID) string { return cache.MembershipsKey(userID) }

// Memberships returns the live organizations userID belongs to, in organization id order, with
// the role held in each.
func (a *Access) Memberships(ctx context.Context, userID uuid.UUID) ([]membership.Membership, error) {
	return cache.Get(ctx, a.cache, cache.MembershipsKey(userID), MembershipsTTL, func(ctx context.Context) ([]membership.Membership, error) {
		return membership.List(ctx, a.conn, userID)
	})
}

// Role returns the role userID holds in the live organization orgID. It returns a NotFound
// error ("organization not found") when userID isn't a member or the organization doesn't exist
// or is deleted: callers answer 404 and must not tell the cases apart.
func (a *Access) Role(ctx context.Context, userID, orgID uuid.UUID) (auth.Role, error) {
	ms, err := a.Memberships(ctx, userID)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.OrganizationID == orgID {
			return m.Role, nil
		}
	}
	return "", errNotFound
}

// Authorize returns userID's role in orgID if that role allows action: a NotFound error for a
// non-member (see Role), a Forbidden one for a member whose role doesn't allow it.
func (a *Access) Authorize(ctx context.Context, userID, orgID uuid.UUID, action auth.Action) (auth.Role, error) {
	role, err := a.Role(ctx, userID, orgID)
	if err != nil {
		return "", err
	}
	if err := role.Authorize(action); err != nil {
		return "", err
	}
	return role, nil
}

// OrganizationIDs returns the ids of the live organizations userID belongs to, in id order
// (never nil), for scoping a list to the caller's tenants.
func (a *Access) OrganizationIDs(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	ms, err := a.Memberships(ctx, userID)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(ms))
	for i, m := range ms {
		ids[i] = m.OrganizationID
	}
	return ids, nil
}

// Invalidate forgets the cached memberships of users. Call it after the transaction that changed
// their memberships has committed. The error is Redis's: the change has committed, so callers log
// it rather than fail.
func (a *Access) Invalidate(ctx context.Context, users ...uuid.UUID) error {
	if a.cache == nil || len(users) == 0 {
		return nil
	}
	keys := make([]string, len(users))
	for i, u := range users {
		keys[i] = cache.MembershipsKey(u)
	}
	return a.cache.Delete(ctx, keys...)
}

// invalidate runs the Deletes of one committed change with a context of their own and logs what
// failed. The request's context may be about to end (a client that hung up after the commit),
// and an invalidation skipped for that reason would leave a removed member their access.
func invalidate(ctx context.Context, log *slog.Logger, steps ...func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	var errs []error
	for _, step := range steps {
		if err := step(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		log.LogAttrs(ctx, slog.LevelError, "cache invalidation failed and the cache epoch could not be advanced; stale entries expire by their TTL",
			slog.String("error", err.Error()))
	}
}

// invalidateTimeout bounds the invalidations after a commit: a few Redis round trips, with room
// for one slow reply under the client's own timeouts.
const invalidateTimeout = time.Second
