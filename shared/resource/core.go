package resource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
)

// Meta is what this package needs to know of an entity.
type Meta struct {
	ID             uuid.UUID
	OrganizationID uuid.UUID
	Version        int
}

// Entity is a tenant-owned, versioned value: a project or a task.
type Entity interface {
	Meta() Meta
}

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

// Reads is the part of a resource's store that Core reads through. Its methods answer for
// live (not soft-deleted) rows only and do no tenant check: Core does that.
type Reads[T Entity] interface {
	// Get returns the live entity id, or a fault.NotFound error.
	Get(ctx context.Context, id uuid.UUID) (T, error)
	// View returns the live entity id rendered as q selects it (fields=, join=), or a
	// fault.NotFound error.
	View(ctx context.Context, id uuid.UUID, q *query.Query) (json.RawMessage, error)
	// List returns the page of the live entities of orgs that q selects.
	List(ctx context.Context, orgs []uuid.UUID, q *query.Query) (*query.Page, error)
}

// Options configure a Core.
type Options struct {
	// Cache caches entities and lists; nil caches nothing.
	Cache *cache.Cache
	// TTL is the entity cache TTL (config CACHE_TTL, 300 s).
	TTL time.Duration
	// ListTTL is the list cache TTL (config LIST_CACHE_TTL, 60 s).
	ListTTL time.Duration
	// Log receives invalidations that failed; nil means slog.Default().
	Log *slog.Logger
}

// Core is the part of a resource's service that is the same for projects and tasks: reads
// through the cache with the tenant check, authorization of writes, and invalidation after
// them. A domain service embeds it and adds its writes.
type Core[T Entity] struct {
	noun     string
	plural   string
	reads    Reads[T]
	members  Members
	opts     Options
	notFound *fault.Error

	// viewJoins, when not nil, are the joins a view may load and still be cached under the
	// entity's own view scope; see KeyViewsByEntity.
	viewJoins []string
	// retires returns the view scopes a committed write of an entity changes; see RetireViews.
	retires func(v T) []string
}

// ViewScope is the cache scope of the views of entity id of the resource named noun
// ("views:project:{id}"), for a resource whose views are keyed by entity (KeyViewsByEntity).
func ViewScope(noun string, id uuid.UUID) string { return "views:" + noun + ":" + id.String() }

// KeyViewsByEntity caches the views (GET /{noun}s/{id}?fields=…&join=…) whose joins are all
// among joins under the entity's own ViewScope instead of its organization's scope, so that a
// write elsewhere in the organization no longer retires them: only writes that name the scope
// (RetireViews) do. A view with any other join stays under the organization's scope.
//
// A project's view with join=tasks changes when the project or one of its tasks does, and both
// services retire the project's view scope on those writes; under the organization's scope, any
// of the organization's writes emptied it.
func (c *Core[T]) KeyViewsByEntity(joins ...string) { c.viewJoins = append([]string{}, joins...) }

// RetireViews has every committed write of an entity through this Core (Write, Created,
// ChangedViews) also bump the view scopes retires names for the entity written: the project's own
// for a project, its project's for a task.
func (c *Core[T]) RetireViews(retires func(v T) []string) { c.retires = retires }

// ViewsOf returns the view scopes that writes of vs retire (see RetireViews), without repeats.
func (c *Core[T]) ViewsOf(vs ...T) []string {
	if c.retires == nil {
		return nil
	}
	var scopes []string
	for _, v := range vs {
		for _, s := range c.retires(v) {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return scopes
}

// entityViews reports whether q's view is cached under the entity's own view scope.
func (c *Core[T]) entityViews(q *query.Query) bool {
	if c.viewJoins == nil {
		return false
	}
	for _, j := range q.Joins() {
		if !slices.Contains(c.viewJoins, j) {
			return false
		}
	}
	return true
}

// NewCore returns the Core of the resource named noun ("project"), reading through reads.
func NewCore[T Entity](noun string, reads Reads[T], members Members, o Options) Core[T] {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return Core[T]{
		noun: noun, plural: noun + "s", reads: reads, members: members, opts: o,
		notFound: fault.E(fault.NotFound, "%s not found", noun),
	}
}

// NotFound is the resource's one answer for an id that doesn't exist, is deleted or belongs to
// another tenant: the three must look the same.
func (c *Core[T]) NotFound() error { return c.notFound }

// Key returns the logical cache key of entity id: "project:{id}".
func (c *Core[T]) Key(id uuid.UUID) string { return Key(c.noun, id) }

// Scope returns the cache scope of an organization's lists, "org:{id}": every write in the
// organization bumps it (see Changed). The reports function caches its summary under the same
// scope, so a project or task write refreshes the report too.
func Scope(org uuid.UUID) string { return "org:" + org.String() }

// Key returns the logical cache key of entity id of the resource named noun: "project:{id}".
func Key(noun string, id uuid.UUID) string { return noun + ":" + id.String() }

// entry is how an entity is cached: its organization and version, which the tenant check and
// the ETag need, and its JSON, the bytes a GET answers. A cache hit on the hot path (Document)
// therefore costs no decoding of the entity into its Go type and no encoding back.
type entry struct {
	Org     uuid.UUID       `json:"o"`
	Version int             `json:"v"`
	JSON    json.RawMessage `json:"j"`
}

// find returns the live entity id's cache entry, from the cache or the store (filling the
// cache), without any tenant check.
func (c *Core[T]) find(ctx context.Context, id uuid.UUID) (entry, error) {
	return cache.Get(ctx, c.opts.Cache, c.Key(id), c.opts.TTL, func(ctx context.Context) (entry, error) {
		v, err := c.reads.Get(ctx, id)
		if err != nil {
			return entry{}, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return entry{}, err
		}
		m := v.Meta()
		return entry{Org: m.OrganizationID, Version: m.Version, JSON: b}, nil
	})
}

// Find returns the live entity id from the cache (or the store, filling the cache), without
// any tenant check: for callers that check membership themselves.
func (c *Core[T]) Find(ctx context.Context, id uuid.UUID) (T, error) {
	var v T
	e, err := c.find(ctx, id)
	if err != nil {
		return v, err
	}
	err = json.Unmarshal(e.JSON, &v)
	return v, err
}

// Document returns the live entity id as the API answers it (JSON) and its Meta, if user is a
// member of its organization, else the resource's NotFound error: GET /{noun}s/{id}, the hot
// path. The entity comes from the cache when it can; the membership check runs either way,
// because a cache entry is shared by every user. Both cache reads share one Redis round trip.
func (c *Core[T]) Document(ctx context.Context, user, id uuid.UUID) (Meta, json.RawMessage, error) {
	return c.document(c.prefetch(ctx, user, id, nil), user, id)
}

// prefetch reads entity id and user's memberships, which don't depend on each other, and the
// generations of scopes (a view's key needs one) in one round trip; see cache.Prefetch.
func (c *Core[T]) prefetch(ctx context.Context, user, id uuid.UUID, scopes []string) context.Context {
	if mk, ok := c.members.(membershipsKeyer); ok {
		return c.opts.Cache.Prefetch(ctx, []string{c.Key(id), mk.MembershipsKey(user)}, scopes)
	}
	return c.opts.Cache.Prefetch(ctx, nil, scopes)
}

// document is Document after the prefetch.
func (c *Core[T]) document(ctx context.Context, user, id uuid.UUID) (Meta, json.RawMessage, error) {
	e, err := c.find(ctx, id)
	if err == nil {
		_, err = c.Authorize(ctx, user, e.Org, auth.RoleMember)
	}
	if err != nil {
		return Meta{}, nil, c.Hide(err)
	}
	return Meta{ID: id, OrganizationID: e.Org, Version: e.Version}, e.JSON, nil
}

// Access returns the live entity id for a write by user: the resource's NotFound error unless
// user is a member of its organization, a 403 error when user's role is below min.
func (c *Core[T]) Access(ctx context.Context, user, id uuid.UUID, min auth.Role) (T, auth.Role, error) {
	var zero T
	v, err := c.Find(ctx, id)
	if err != nil {
		return zero, "", c.Hide(err)
	}
	role, err := c.Authorize(ctx, user, v.Meta().OrganizationID, min)
	if err != nil {
		return zero, "", c.Hide(err)
	}
	return v, role, nil
}

// Write runs a write of live entity id by user whose role must be at least min (errors as
// Access's): write gets the current entity and returns the written one, and once it has
// returned (committed) the entity and its organization's lists are invalidated.
func (c *Core[T]) Write(ctx context.Context, user, id uuid.UUID, min auth.Role, write func(cur T) (T, error)) (T, error) {
	var zero T
	cur, _, err := c.Access(ctx, user, id, min)
	if err != nil {
		return zero, err
	}
	v, err := write(cur)
	if err != nil {
		return zero, err
	}
	// Both: a task moved to another project changes the views of the old project and the new.
	c.ChangedViews(ctx, v.Meta().OrganizationID, c.ViewsOf(cur, v), c.Key(id))
	return v, nil
}

// Authorize returns user's role in org: the Members' fault.NotFound error when user is not a
// member, a 403 error when the role is below min. Callers acting on an entity pass the error
// through Hide, so that a non-member can't learn that the id exists.
func (c *Core[T]) Authorize(ctx context.Context, user, org uuid.UUID, min auth.Role) (auth.Role, error) {
	role, err := c.members.Role(ctx, user, org)
	if err != nil {
		return "", err
	}
	if !role.AtLeast(min) {
		return "", fault.E(fault.Forbidden, "your role (%s) does not allow this; it needs %s or above", role, min)
	}
	return role, nil
}

// Hide turns any not-found (of the entity, its organization or the caller's membership) into
// the resource's own, so that every miss reads the same.
func (c *Core[T]) Hide(err error) error {
	if errors.Is(err, fault.ErrNotFound) {
		return c.notFound
	}
	return err
}

// View returns entity id as q renders it (GET /{noun}s/{id}?join=…), after the tenant check.
// It is cached like a list of the entity's organization: a joined relation changes with any
// write in the organization, which bumps its generation.
func (c *Core[T]) View(ctx context.Context, user, id uuid.UUID, q *query.Query) (json.RawMessage, error) {
	if c.entityViews(q) {
		// Keyed by the entity's own view scope (KeyViewsByEntity), whose generation is read
		// in the round trip that reads the entity and the caller's memberships.
		scope := ViewScope(c.noun, id)
		ctx = c.prefetch(ctx, user, id, []string{scope})
		if _, _, err := c.document(ctx, user, id); err != nil {
			return nil, err
		}
		key := c.opts.Cache.ListKey(ctx, scope, c.noun, q.Key())
		return cache.Get(ctx, c.opts.Cache, key, c.opts.ListTTL, func(ctx context.Context) (json.RawMessage, error) {
			return c.reads.View(ctx, id, q)
		})
	}
	m, _, err := c.Document(ctx, user, id)
	if err != nil {
		return nil, err
	}
	key := c.opts.Cache.ListKey(ctx, Scope(m.OrganizationID), c.noun, id.String(), q.Key())
	return cache.Get(ctx, c.opts.Cache, key, c.opts.ListTTL, func(ctx context.Context) (json.RawMessage, error) {
		return c.reads.View(ctx, id, q)
	})
}

// List returns the page q selects of the live entities of every organization user belongs to,
// as JSON.
//
// The cache key holds the generation of each of those organizations' scopes, so a write in
// any of them makes the list unreachable, and the query's Key. It does not hold the user:
// two users with the same organizations see the same rows, so they share the entry. A change
// of membership changes the set of organizations, hence the key.
func (c *Core[T]) List(ctx context.Context, user uuid.UUID, q *query.Query) (json.RawMessage, error) {
	orgs, err := c.members.OrganizationIDs(ctx, user)
	if err != nil {
		return nil, err
	}
	return cache.Get(ctx, c.opts.Cache, c.listKey(ctx, orgs, q), c.opts.ListTTL, func(ctx context.Context) (json.RawMessage, error) {
		return marshalPage(c.reads.List(ctx, orgs, q))
	})
}

// listKey is List's cache key, or "" (don't cache) when a generation can't be read or the user
// belongs to no organization (the answer is empty and costs nothing to compute).
//
// shared/cache's ListKey takes one scope and reads its generation; for a user in n
// organizations the n generations are prefetched together, so it is one round trip either way.
func (c *Core[T]) listKey(ctx context.Context, orgs []uuid.UUID, q *query.Query) string {
	return listKey(ctx, c.opts.Cache, c.plural, orgs, q)
}

// listKey is the cache key of a list of plural ("projects") over orgs (see Core.List), or "".
//
// shared/cache's ListKey takes one scope and reads its generation; for a user in n
// organizations the n generations are prefetched together, so it is one round trip either way.
func listKey(ctx context.Context, cc *cache.Cache, plural string, orgs []uuid.UUID, q *query.Query) string {
	if cc == nil || len(orgs) == 0 {
		return ""
	}
	if len(orgs) == 1 {
		return cc.ListKey(ctx, Scope(orgs[0]), plural, q.Key())
	}
	orgs = slices.Clone(orgs)
	slices.SortFunc(orgs, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	scopes := make([]string, len(orgs))
	for i, o := range orgs {
		scopes[i] = Scope(o)
	}
	ctx = cc.Prefetch(ctx, nil, scopes) // the n generations in one round trip
	h := sha256.New()
	for _, o := range orgs {
		k := cc.ListKey(ctx, Scope(o), plural)
		if k == "" {
			return ""
		}
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	h.Write([]byte(q.Key()))
	return plural + ":list:multi:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// ListIn returns a list of one organization's entities (GET /projects/{id}/tasks), cached
// under the organization's scope and parts, which must identify the query completely. The
// caller has checked that the user may read the organization.
func (c *Core[T]) ListIn(ctx context.Context, org uuid.UUID, q *query.Query, list func(context.Context) (*query.Page, error), parts ...string) (json.RawMessage, error) {
	key := c.opts.Cache.ListKey(ctx, Scope(org), append(append([]string{c.plural}, parts...), q.Key())...)
	return cache.Get(ctx, c.opts.Cache, key, c.opts.ListTTL, func(ctx context.Context) (json.RawMessage, error) {
		return marshalPage(list(ctx))
	})
}

func marshalPage(p *query.Page, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	return p.MarshalJSON()
}

// invalidateTimeout bounds the invalidations after a commit: a few Redis round trips, with room
// for one slow reply under the client's own timeouts.
const invalidateTimeout = time.Second

// Changed invalidates after a committed write in org: it deletes keys (logical cache keys of
// the entities written, see Key; deleted also after a create, since a "not found" may be
// cached) and bumps the organization's scope, which retires every cached list of the
// organization. It runs on a context of its own: the request's may end right after the commit
// (a client that hung up), and a skipped invalidation would serve stale data for a whole TTL.
// A failure that the cache could not fence (see package cache) is logged, not returned: the
// write has committed.
func (c *Core[T]) Changed(ctx context.Context, org uuid.UUID, keys ...string) {
	c.ChangedViews(ctx, org, nil, keys...)
}

// ChangedViews is Changed that also bumps views, the view scopes the write changed (ViewsOf the
// entities written, see RetireViews).
func (c *Core[T]) ChangedViews(ctx context.Context, org uuid.UUID, views []string, keys ...string) {
	invalidate(ctx, c.opts.Cache, c.opts.Log, c.noun, org, views, keys)
}

// invalidate is ChangedViews for the resource named noun, on cc.
func invalidate(ctx context.Context, cc *cache.Cache, log *slog.Logger, noun string, org uuid.UUID, views, keys []string) {
	if cc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	errs := []error{cc.Delete(ctx, keys...), cc.Bump(ctx, Scope(org))}
	for _, v := range views {
		errs = append(errs, cc.Bump(ctx, v))
	}
	if err := errors.Join(errs...); err != nil {
		log.LogAttrs(ctx, slog.LevelError, "cache invalidation failed and the cache epoch could not be advanced; stale entries expire by their TTL",
			slog.String("resource", noun), slog.String("organizationId", org.String()), slog.String("error", err.Error()))
	}
}

// Created invalidates after a committed create of vs: their keys (a "not found" may be cached
// for an id a client guessed or retried), the scope of each organization they are in and the
// view scopes they change (a new task, its project's).
func (c *Core[T]) Created(ctx context.Context, vs []T) {
	keys := make(map[uuid.UUID][]string, 1)
	views := make(map[uuid.UUID][]T, 1)
	for _, v := range vs {
		m := v.Meta()
		keys[m.OrganizationID] = append(keys[m.OrganizationID], c.Key(m.ID))
		views[m.OrganizationID] = append(views[m.OrganizationID], v)
	}
	for org, k := range keys {
		c.ChangedViews(ctx, org, c.ViewsOf(views[org]...), k...)
	}
}

// CreateFunc creates entities from inputs, all or none, naming invalid fields with
// prefix(i) + field.
type CreateFunc[T, C any] func(ctx context.Context, user uuid.UUID, in []C, prefix func(int) string) ([]T, error)

// Creator gives a service Create and CreateMany from the one function that creates a batch.
type Creator[T, C any] struct {
	create CreateFunc[T, C]
}

// NewCreator returns a Creator over create.
func NewCreator[T, C any](create CreateFunc[T, C]) Creator[T, C] {
	return Creator[T, C]{create: create}
}

// Create answers a POST: one input, whose field errors are unprefixed.
func (c Creator[T, C]) Create(ctx context.Context, user uuid.UUID, in C) (T, error) {
	vs, err := c.create(ctx, user, []C{in}, func(int) string { return "" })
	if err != nil {
		var zero T
		return zero, err
	}
	return vs[0], nil
}

// CreateMany answers a POST …/bulk: 1 to MaxBulk inputs, all or none, whose field errors are
// prefixed bulk[i].
func (c Creator[T, C]) CreateMany(ctx context.Context, user uuid.UUID, in []C) ([]T, error) {
	if err := CheckBulk(len(in)); err != nil {
		return nil, err
	}
	return c.create(ctx, user, in, Index)
}
