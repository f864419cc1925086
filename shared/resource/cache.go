package resource

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/query"
)

// Members answers the membership questions every request asks. *organization.Access implements
// it (with its memberships cached in Redis); it is declared here, where it is used, so that
// projects and tasks depend on the two questions and not on the organizations package.
type Members interface {
	// Role returns the role userID holds in the live organization orgID. It returns a
	// fault.NotFound error when userID is not a member (or the organization doesn't exist).
	Role(ctx context.Context, userID, orgID uuid.UUID) (auth.Role, error)
	// OrganizationIDs returns the live organizations userID belongs to (possibly none).
	OrganizationIDs(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error)
}

// membershipsKeyer is implemented by Members whose answers for a user come from one cache entry
// (organization.Access): Document then reads that entry and the entity's in one round trip.
type membershipsKeyer interface {
	MembershipsKey(userID uuid.UUID) string
}

// entry is how an entity is cached: its organization and version, which the tenant check and
// the ETag need, and its JSON, the bytes a GET answers. A cache hit on the hot path (Document)
// therefore costs no decoding of the entity into its Go type and no encoding back.
type entry struct {
	Org     uuid.UUID       `json:"o"`
	Version int             `json:"v"`
	JSON    json.RawMessage `json:"j"`
}

// listOf is the cache key of a list of plural ("projects") over orgs (see Core.List), and the
// scopes it is read under (cache.GetList): the organizations' scopes, sorted, so that the key
// does not depend on the order the memberships came in. It reads nothing, so the handler's
// first round trip can carry the list itself (model.listReads).
func listOf(plural string, orgs []uuid.UUID, q *query.Query) (key string, scopes []string) {
	if len(orgs) == 0 {
		return "", nil
	}
	if len(orgs) > 1 {
		orgs = slices.Clone(orgs)
		slices.SortFunc(orgs, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	}
	scopes = make([]string, len(orgs))
	for i, o := range orgs {
		scopes[i] = cache.OrgScope(o)
	}
	return cache.ListKey(scopes, plural, q.Key()), scopes
}

// marshalPage is a page's JSON, for the cache.
func marshalPage(p *query.Page, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	return p.MarshalJSON()
}

// invalidateTimeout bounds the invalidation after a commit: one Redis round trip (two with a
// retry), with room for one slow reply under the client's own timeouts.
const invalidateTimeout = time.Second

// invalidate runs after a committed write in org of the entity named noun: it deletes keys
// (logical cache keys of the rows written; also after a create, since a "not found" may be
// cached) and bumps the organization's scope, which retires every cached list of the
// organization, and views. It runs on a context of its own: the request's may end right after
// the commit (a client that hung up), and a skipped invalidation would serve stale data for a
// whole TTL. A failure that the cache could not fence (see package cache) is logged, not
// returned: the write has committed.
func invalidate(ctx context.Context, cc *cache.Cache, log *slog.Logger, noun string, org uuid.UUID, views, keys []string) {
	if cc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	if err := cc.Invalidate(ctx, keys, append([]string{cache.OrgScope(org)}, views...)); err != nil {
		log.LogAttrs(ctx, slog.LevelError, "cache invalidation failed and the cache epoch could not be advanced; stale entries expire by their TTL",
			slog.String("resource", noun), slog.String("organizationId", org.String()), slog.String("error", err.Error()))
	}
}
