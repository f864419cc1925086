package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Epochs is the cache's fence: a source of truth outside Redis (a row in PostgreSQL, see
// db.CacheEpochs) for which entries may be read. Every key the Cache writes carries the current
// epoch, so advancing it makes every entry written before unreadable at once, without reaching
// Redis. That is what an invalidation that failed falls back to (see Delete).
type Epochs interface {
	// Load returns the current epoch.
	Load(ctx context.Context) (int64, error)
	// Advance moves the epoch past every earlier one and returns the new one.
	Advance(ctx context.Context) (int64, error)
}

// DefaultEpochInterval is how long a Cache uses an epoch it has read before it reads it again:
// the most time for which an environment can still read entries that an advance has retired.
const DefaultEpochInterval = time.Second

// fenceTimeout bounds an advance after a failed invalidation. It runs on a context of its own:
// the write has committed, and without the advance the stale entries would stay readable.
const fenceTimeout = 2 * time.Second

// epochState is one epoch as a Cache uses it.
type epochState struct {
	value  int64
	prefix string    // <Prefix><epoch in base 36>:
	loaded time.Time // when it was read or set: it is used until loaded + interval
}

// keyPrefix returns the prefix of every Redis key under the current epoch, reading the epoch
// again when the one in hand is older than the interval. ok is false when the epoch is unknown
// (it could not be read and the last one is too old): the caller must then neither read nor
// fill, because a newer epoch may have retired what it would find.
//
// Without Epochs the prefix is Options.Prefix alone.
func (c *Cache) keyPrefix(ctx context.Context) (st *epochState, ok bool) {
	if c.epochs == nil {
		return &epochState{prefix: c.prefix}, true
	}
	st = c.epoch.Load()
	if st != nil && time.Since(st.loaded) < c.epochEvery {
		return st, true
	}
	v, err, _ := c.epochGroup.Do("epoch", func() (any, error) {
		e, err := c.epochs.Load(ctx)
		if err != nil {
			return nil, err
		}
		return c.setEpoch(e), nil
	})
	if err != nil {
		c.fail(ctx, epochName, fmt.Errorf("load epoch: %w", err), false)
		return st, false
	}
	return v.(*epochState), true
}

// setEpoch makes e the current epoch, as of now, and returns its state; an epoch older than the
// one in hand (a load that raced an advance) is ignored.
func (c *Cache) setEpoch(e int64) *epochState {
	st := &epochState{value: e, prefix: c.prefix + strconv.FormatInt(e, 36) + ":", loaded: time.Now()}
	for {
		old := c.epoch.Load()
		if old != nil && old.value > e {
			return old
		}
		if c.epoch.CompareAndSwap(old, st) {
			return st
		}
	}
}

// fence advances the epoch after invalidation failed with cause, so that what the invalidation
// should have removed can no longer be read. It returns nil when the epoch moved: the
// invalidation is then done, by other means. Without Epochs it returns cause.
func (c *Cache) fence(ctx context.Context, name string, cause error) error {
	if c.epochs == nil {
		return cause
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fenceTimeout)
	defer cancel()
	e, err := c.epochs.Advance(ctx)
	if err != nil {
		err = fmt.Errorf("advance epoch: %w", err)
		c.fail(ctx, epochName, err, false)
		return errors.Join(cause, err)
	}
	c.setEpoch(e)
	c.fences.Add(1)
	c.log().LogAttrs(ctx, slog.LevelWarn, "cache invalidation failed; epoch advanced, every entry written before is unreadable",
		slog.String("name", name), slog.Int64("epoch", e), slog.String("error", cause.Error()))
	return nil
}

// epochName names the epoch in metrics and logs.
const epochName = "epoch"
