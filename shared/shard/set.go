package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/fault"
)

// DB is what a shard's pool gives its users: statements and transactions. *db.Pool
// implements it; a test may wrap one.
type DB interface {
	db.DBTX
	db.TxBeginner
}

// Opener opens a pool of shard (its name, and whether it is the first) for url; role is
// "primary" or "replica". The platform's opener applies the deployment's pool settings and
// metrics.
type Opener func(ctx context.Context, shard string, first bool, role, url string) (DB, error)

// Shard is one shard's pools, opened on first use and kept for the environment's life.
type Shard struct {
	spec  Spec
	first bool
	open  Opener

	primary, replica lazyPool
}

type lazyPool struct {
	once sync.Once
	pool DB
	err  error
}

func (l *lazyPool) get(open func() (DB, error)) (DB, error) {
	l.once.Do(func() { l.pool, l.err = open() })
	return l.pool, l.err
}

// Name returns the shard's name in the map.
func (s *Shard) Name() string { return s.spec.Name }

// Primary returns the shard's writer pool, opening it (without connecting) on first use.
func (s *Shard) Primary(ctx context.Context) (DB, error) {
	return s.primary.get(func() (DB, error) {
		return s.open(ctx, s.spec.Name, s.first, "primary", s.spec.Writer)
	})
}

// Replica returns the shard's reader pool, or its writer's when the shard has no reader.
func (s *Shard) Replica(ctx context.Context) (DB, error) {
	return s.replica.get(func() (DB, error) {
		if s.spec.Reader == "" {
			return s.Primary(ctx)
		}
		return s.open(ctx, s.spec.Name, s.first, "replica", s.spec.Reader)
	})
}

// Set is every shard of the map and the directory over them.
type Set struct {
	shards []*Shard
	byName map[string]*Shard
	dir    *directory
}

// Options configure NewSet.
type Options struct {
	// Cache caches directory lookups in Redis; nil keeps them in the environment only.
	Cache *cache.Cache
	// LocalTTL and RedisTTL bound how long a lookup is kept in the environment and in Redis;
	// zero means DefaultLocalTTL and DefaultRedisTTL.
	LocalTTL, RedisTTL time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Lookup cache lifetimes. LocalTTL is also the longest an environment acts on a placement a
// move has changed, so a move's write freeze lasts longer than it.
const (
	DefaultLocalTTL = 2 * time.Second
	DefaultRedisTTL = 60 * time.Second
)

// NewSet builds the set of specs (ParseMap's order: the directory's shard first). Nothing is
// opened until used.
func NewSet(specs []Spec, open Opener, o Options) (*Set, error) {
	if len(specs) == 0 {
		return nil, errors.New("shard: no shards")
	}
	s := &Set{byName: map[string]*Shard{}}
	for i, sp := range specs {
		sh := &Shard{spec: sp, first: i == 0, open: open}
		s.shards = append(s.shards, sh)
		s.byName[sp.Name] = sh
	}
	s.dir = newDirectory(s, specs, o)
	return s, nil
}

// Of returns a one-shard set over pools that are already open: primary, and replica for reads
// that may lag (nil: the primary). Tools and tests that hold their own pools use it.
func Of(primary, replica DB) *Set {
	if replica == nil {
		replica = primary
	}
	sh := &Shard{spec: Spec{Name: "main"}, first: true}
	sh.primary.once.Do(func() { sh.primary.pool = primary })
	sh.replica.once.Do(func() { sh.replica.pool = replica })
	s := &Set{shards: []*Shard{sh}, byName: map[string]*Shard{"main": sh}}
	s.dir = newDirectory(s, []Spec{sh.spec}, Options{})
	return s
}

// CacheLookups makes the directory's lookups go through c (Redis) as well as the environment's
// memory. Call it before the set is used: the platform builds the cache on the first shard's
// pool, so the set comes first.
func (s *Set) CacheLookups(c *cache.Cache) { s.dir.cache = c }

// Len returns the number of shards.
func (s *Set) Len() int { return len(s.shards) }

// Shards returns every shard, the directory's first.
func (s *Set) Shards() []*Shard { return s.shards }

// Home returns the directory's shard, which holds the global tables.
func (s *Set) Home() *Shard { return s.shards[0] }

// Named returns the shard named name.
func (s *Set) Named(name string) (*Shard, bool) {
	sh, ok := s.byName[name]
	return sh, ok
}

// For returns the shard holding organization org's rows. With one shard it reads nothing.
func (s *Set) For(ctx context.Context, org uuid.UUID) (*Shard, error) {
	sh, _, err := s.lookup(ctx, org)
	return sh, err
}

// ForWrite is For for a write: while the organization is being moved it returns a 503 error
// with Retry-After (the rest of the freeze).
func (s *Set) ForWrite(ctx context.Context, org uuid.UUID) (*Shard, error) {
	sh, until, err := s.lookup(ctx, org)
	if err != nil {
		return nil, err
	}
	if wait := until.Sub(s.dir.now()); wait > 0 {
		return nil, &fault.Error{Code: fault.Unavailable, Message: "the organization is being moved; retry shortly",
			RetryAfter: wait.Round(time.Second) + time.Second}
	}
	return sh, nil
}

func (s *Set) lookup(ctx context.Context, org uuid.UUID) (*Shard, time.Time, error) {
	if len(s.shards) == 1 {
		return s.shards[0], time.Time{}, nil
	}
	p, err := s.dir.lookup(ctx, org)
	if err != nil {
		return nil, time.Time{}, err
	}
	sh, ok := s.byName[p.Shard]
	if !ok {
		// A directory naming a shard the map no longer has: refuse rather than guess, or the
		// organization's writes would land where its rows are not.
		return nil, time.Time{}, fault.Wrap(fault.Unavailable,
			fmt.Errorf("shard: organization %s is on shard %q, which DATABASE_SHARDS does not name", org, p.Shard),
			"the organization's database is not available")
	}
	return sh, p.FrozenUntil, nil
}

// Group is some organizations that share a shard.
type Group struct {
	Shard *Shard
	Orgs  []uuid.UUID
}

// Group splits orgs by shard, in the map's order, each group keeping orgs' order. With one
// shard it reads nothing and returns one group.
func (s *Set) Group(ctx context.Context, orgs []uuid.UUID) ([]Group, error) {
	if len(s.shards) == 1 {
		return []Group{{Shard: s.shards[0], Orgs: orgs}}, nil
	}
	byShard := make(map[*Shard][]uuid.UUID, len(s.shards))
	for _, org := range orgs {
		sh, err := s.For(ctx, org)
		if err != nil {
			return nil, err
		}
		byShard[sh] = append(byShard[sh], org)
	}
	out := make([]Group, 0, len(byShard))
	for _, sh := range s.shards {
		if o, ok := byShard[sh]; ok {
			out = append(out, Group{Shard: sh, Orgs: o})
		}
	}
	return out, nil
}

// Place records where new organization org goes, in tx (the directory shard's transaction that
// creates the organization), and returns that shard. With one shard it writes nothing: an
// organization without a row is on the first shard.
func (s *Set) Place(ctx context.Context, tx db.DBTX, org uuid.UUID) (*Shard, error) {
	sh := s.Choose(org)
	if len(s.shards) == 1 {
		return sh, nil
	}
	if _, err := tx.Exec(ctx, placeSQL, org, sh.Name()); err != nil {
		return nil, fmt.Errorf("place organization: %w", db.Translate(err))
	}
	return sh, nil
}

// Choose returns the shard the placement policy (weighted rendezvous hashing, place.go) gives
// organization org, without reading or writing anything: where Place puts a new one, and where
// spreading existing ones over the map moves each.
func (s *Set) Choose(org uuid.UUID) *Shard { return s.shards[place(s.dir.specs, org)] }

const placeSQL = `INSERT INTO organization_shards (organization_id, shard) VALUES ($1, $2)`

// Record writes p as organization org's placement, for a move: freezing its writes, pointing it
// at its new shard, lifting the freeze. The shard must be one of the map's. What this
// environment and Redis kept of the old placement is forgotten at once; other environments
// keep theirs for at most LocalTTL.
func (s *Set) Record(ctx context.Context, org uuid.UUID, p Placement) error {
	if _, ok := s.byName[p.Shard]; !ok {
		return fmt.Errorf("shard: no shard %q in the map", p.Shard)
	}
	return s.dir.record(ctx, org, p)
}

// Lookup returns what the directory says of organization org (with one shard: the first, never
// frozen, without reading anything).
func (s *Set) Lookup(ctx context.Context, org uuid.UUID) (Placement, error) {
	if len(s.shards) == 1 {
		return Placement{Shard: s.shards[0].Name()}, nil
	}
	return s.dir.lookup(ctx, org)
}
