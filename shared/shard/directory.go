package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/cache"
	"scaleapi/shared/db"
)

// Placement is what the directory says of an organization.
type Placement struct {
	Shard string `json:"s"`
	// FrozenUntil is the end of a move's write freeze; zero when none.
	FrozenUntil time.Time `json:"f,omitzero"`
}

// directory reads organization_shards on the first shard, through the environment's memory and
// Redis (see the package comment).
type directory struct {
	set      *Set
	specs    []Spec
	cache    *cache.Cache
	localTTL time.Duration
	redisTTL time.Duration
	now      func() time.Time

	mu    sync.Mutex
	local map[uuid.UUID]localEntry
}

type localEntry struct {
	p       Placement
	expires time.Time
}

// maxLocal bounds the environment's memory of placements; when full it starts again.
const maxLocal = 10000

func newDirectory(s *Set, specs []Spec, o Options) *directory {
	d := &directory{set: s, specs: specs, cache: o.Cache, localTTL: o.LocalTTL, redisTTL: o.RedisTTL, now: o.Now,
		local: map[uuid.UUID]localEntry{}}
	if d.localTTL <= 0 {
		d.localTTL = DefaultLocalTTL
	}
	if d.redisTTL <= 0 {
		d.redisTTL = DefaultRedisTTL
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

func (d *directory) lookup(ctx context.Context, org uuid.UUID) (Placement, error) {
	now := d.now()
	d.mu.Lock()
	e, ok := d.local[org]
	d.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.p, nil
	}
	p, err := cache.Get(ctx, d.cache, cache.ShardKey(org), d.redisTTL, func(ctx context.Context) (Placement, error) {
		return d.read(ctx, org)
	})
	if err != nil {
		return Placement{}, err
	}
	d.mu.Lock()
	if len(d.local) >= maxLocal {
		clear(d.local)
	}
	d.local[org] = localEntry{p: p, expires: now.Add(d.localTTL)}
	d.mu.Unlock()
	return p, nil
}

const placementSQL = `SELECT shard, frozen_until FROM organization_shards WHERE organization_id = $1`

// read asks the directory itself.
func (d *directory) read(ctx context.Context, org uuid.UUID) (Placement, error) {
	pool, err := d.set.Home().Primary(ctx)
	if err != nil {
		return Placement{}, err
	}
	var p Placement
	var frozen *time.Time
	err = pool.QueryRow(ctx, placementSQL, org).Scan(&p.Shard, &frozen)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Placement{Shard: d.specs[0].Name}, nil
	case err != nil:
		return Placement{}, fmt.Errorf("shard directory: %w", db.Translate(err))
	}
	if frozen != nil {
		p.FrozenUntil = frozen.UTC()
	}
	return p, nil
}

// recordSQL writes a placement, creating the row of an organization that had none.
const recordSQL = `INSERT INTO organization_shards (organization_id, shard, frozen_until) VALUES ($1, $2, $3)
ON CONFLICT (organization_id) DO UPDATE SET shard = EXCLUDED.shard, frozen_until = EXCLUDED.frozen_until`

// record writes p as org's placement and forgets what the environment and Redis kept of the
// old one. Other environments may act on their own memory of it for up to localTTL.
func (d *directory) record(ctx context.Context, org uuid.UUID, p Placement) error {
	pool, err := d.set.Home().Primary(ctx)
	if err != nil {
		return err
	}
	var frozen *time.Time
	if !p.FrozenUntil.IsZero() {
		frozen = &p.FrozenUntil
	}
	if _, err := pool.Exec(ctx, recordSQL, org, p.Shard, frozen); err != nil {
		return fmt.Errorf("shard directory: %w", db.Translate(err))
	}
	d.mu.Lock()
	delete(d.local, org)
	d.mu.Unlock()
	if d.cache == nil {
		return nil
	}
	return d.cache.Delete(ctx, cache.ShardKey(org))
}
