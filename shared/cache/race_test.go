package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/fault"
)

// row stands in for a database row: the loader reads it, the "write" changes it.
type row struct{ v atomic.Value }

func newRow(v string) *row {
	r := &row{}
	r.v.Store(v)
	return r
}

// gatedLoader reads the row, then (on its first call only) signals and waits to be released, so
// a test can commit a write and invalidate between the read and the fill.
func gatedLoader(r *row) (l *loader[string], read <-chan struct{}, release chan<- struct{}) {
	readc, releasec := make(chan struct{}), make(chan struct{})
	l = &loader[string]{}
	l.fn = func(context.Context) (string, error) {
		v := r.v.Load().(string)
		if l.calls.Load() == 1 {
			close(readc)
			<-releasec
		}
		if v == "" {
			return "", fault.E(fault.NotFound, "project not found")
		}
		return v, nil
	}
	return l, readc, releasec
}

// racingRead starts a Get of key through l (a gatedLoader's) and returns once the read has
// loaded the row and is waiting to fill, so the test can write in between; the Get's result
// arrives on the channel after the gate is released.
func racingRead(ctx context.Context, c *Cache, key string, l *loader[string], read <-chan struct{}) <-chan readResult {
	done := make(chan readResult, 1)
	go func() {
		v, err := Get(ctx, c, key, time.Minute, l.load)
		done <- readResult{v, err}
	}()
	<-read
	return done
}

// readResult is what a racingRead's Get returned.
type readResult struct {
	v   string
	err error
}

// TestStaleFillRace covers the classic cache-aside race: a read loads the old row, a write
// commits and invalidates, and the read then tries to cache the old row.
func TestStaleFillRace(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			url := b.url(t)
			ctx := context.Background()
			const key = "project:race"

			// assertCached fails unless the next plain read returns want without loading.
			assertCached := func(t *testing.T, c *Cache, l *loader[string], want string) {
				t.Helper()
				before := l.calls.Load()
				got, err := Get(ctx, c, key, time.Minute, l.load)
				if err != nil || got != want {
					t.Fatalf("read: %q, %v; want %q", got, err, want)
				}
				if l.calls.Load() != before {
					t.Fatalf("read of %q went to the loader; want a hit", want)
				}
			}

			t.Run("InvalidateDuringLoad", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				db := newRow("v1")
				l, read, release := gatedLoader(db)
				first := racingRead(ctx, c, key, l, read) // the reader holds v1 and has not filled yet
				db.v.Store("v2")
				if err := c.Delete(ctx, key); err != nil { // after commit
					t.Fatal(err)
				}
				close(release)
				if r := <-first; r.v != "v1" { // a read concurrent with the write may see v1...
					t.Fatalf("racing read got %q", r.v)
				}
				// ...but must not have cached it.
				if err := client.Get(ctx, c.vkey(key)).Err(); !errors.Is(err, redis.Nil) {
					t.Fatalf("stale value cached: GET err %v", err)
				}
				if s := c.Stats(); s.Discarded != 1 {
					t.Errorf("discarded %d fills, want 1", s.Discarded)
				}
				got, err := Get(ctx, c, key, time.Minute, l.load)
				if err != nil || got != "v2" {
					t.Fatalf("read after write: %q, %v", got, err)
				}
				assertCached(t, c, l, "v2")
			})

			t.Run("NewerReadFillsFirst", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				db := newRow("v1")
				l, read, release := gatedLoader(db)
				first := racingRead(ctx, c, key, l, read)
				db.v.Store("v2")
				if err := c.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
				// A read after the invalidation must not join the old load: it reads v2 and fills.
				got, err := Get(ctx, c, key, time.Minute, l.load)
				if err != nil || got != "v2" {
					t.Fatalf("read after write: %q, %v", got, err)
				}
				close(release)
				<-first
				assertCached(t, c, l, "v2")
				if s := c.Stats(); s.Discarded != 1 {
					t.Errorf("discarded %d fills, want 1", s.Discarded)
				}
			})

			t.Run("BypassSupersedesSlowFill", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				db := newRow("v1")
				l, read, release := gatedLoader(db)
				first := racingRead(ctx, c, key, l, read)
				db.v.Store("v2") // changed without an invalidation; cache=0 repairs it
				got, err := Get(WithBypass(ctx), c, key, time.Minute, l.load)
				if err != nil || got != "v2" {
					t.Fatalf("bypass read: %q, %v", got, err)
				}
				close(release)
				<-first
				assertCached(t, c, l, "v2")
			})

			t.Run("CreateDuringNotFoundLoad", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{NegativeTTL: time.Minute})
				db := newRow("") // not there yet
				l, read, release := gatedLoader(db)
				first := racingRead(ctx, c, key, l, read)
				db.v.Store("created")
				if err := c.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
				close(release)
				if r := <-first; !errors.Is(r.err, fault.ErrNotFound) {
					t.Fatalf("racing read: %v", r.err)
				}
				// The tombstone must not hide the new row for NegativeTTL.
				got, err := Get(ctx, c, key, time.Minute, l.load)
				if err != nil || got != "created" {
					t.Fatalf("read after create: %q, %v", got, err)
				}
				assertCached(t, c, l, "created")
			})
		})
	}
}
