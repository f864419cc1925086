package cache

import (
	"context"
	"errors"
	"strings"
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

// racingRead starts read, whose loader is a gatedLoader's, and returns once it has loaded the
// row and is waiting to fill, so the test can write in between; read's result arrives on the
// channel after the gate is released.
func racingRead(read func() (string, error), loaded <-chan struct{}) <-chan readResult {
	done := make(chan readResult, 1)
	go func() {
		v, err := read()
		done <- readResult{v, err}
	}()
	<-loaded
	return done
}

// assertCached fails unless read, the next plain read through l, returns want without loading.
func assertCached(t *testing.T, l *loader[string], want string, read func() (string, error)) {
	t.Helper()
	before := l.calls.Load()
	got, err := read()
	if err != nil || got != want {
		t.Fatalf("read: %q, %v; want %q", got, err, want)
	}
	if l.calls.Load() != before {
		t.Fatalf("read of %q went to the loader; want a hit", want)
	}
}

// readResult is what a racingRead's read returned.
type readResult struct {
	v   string
	err error
}

// raceKind is one way of caching that TestStaleFillRace runs over.
type raceKind struct {
	name string
	// read reads the racing key through l.
	read func(ctx context.Context, c *Cache, l *loader[string]) (string, error)
	// retire is the invalidation a write makes after it commits.
	retire func(ctx context.Context, c *Cache) error
	// stale fails unless what Redis holds after a racing read that loaded v1 before retire, and
	// filled after it, can't be served.
	stale func(t *testing.T, ctx context.Context, c *Cache, client redis.UniversalClient)
}

// raceKinds: a value (Get), whose Delete removes its lease, so the racing fill is discarded; and
// a list (GetList), whose Bump leaves the lease, so the racing fill lands, but under the
// generation the Bump retired.
var raceKinds = []raceKind{
	{
		name: "Value",
		read: func(ctx context.Context, c *Cache, l *loader[string]) (string, error) {
			return Get(ctx, c, "project:race", time.Minute, l.load)
		},
		retire: func(ctx context.Context, c *Cache) error { return c.Delete(ctx, "project:race") },
		stale: func(t *testing.T, ctx context.Context, c *Cache, client redis.UniversalClient) {
			t.Helper()
			if err := client.Get(ctx, c.vkey("project:race")).Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("stale value cached: GET err %v", err)
			}
			if s := c.Stats(); s.Discarded != 1 {
				t.Errorf("discarded %d fills, want 1", s.Discarded)
			}
		},
	},
	{
		name: "List",
		read: func(ctx context.Context, c *Cache, l *loader[string]) (string, error) {
			return GetList(ctx, c, ListKey(raceScopes, "projects", "q"), raceScopes, time.Minute, l.load)
		},
		retire: func(ctx context.Context, c *Cache) error { return c.Bump(ctx, raceScopes[0]) },
		stale: func(t *testing.T, ctx context.Context, c *Cache, client redis.UniversalClient) {
			t.Helper()
			entry := client.Get(ctx, c.vkey(ListKey(raceScopes, "projects", "q"))).Val()
			gen := client.Get(ctx, c.gkey(raceScopes[0])).Val()
			if !strings.HasPrefix(entry, "#") || !strings.HasSuffix(entry, "\n\"v1\"") {
				t.Fatalf("entry %q, want the racing read's v1", entry)
			}
			if gen == "" || strings.HasPrefix(entry, "#"+gen+"\n") {
				t.Fatalf("entry %q is servable under the current generation %q", entry, gen)
			}
		},
	},
}

// raceScopes is the racing list's scope.
var raceScopes = []string{"org:race"}

// TestStaleFillRace covers the classic cache-aside race: a read loads the old row, a write
// commits and invalidates, and the read then tries to cache the old row.
func TestStaleFillRace(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		for _, k := range raceKinds {
			t.Run(b.name+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				url := b.url(t)
				ctx := context.Background()
				read := func(c *Cache, l *loader[string]) func() (string, error) {
					return func() (string, error) { return k.read(ctx, c, l) }
				}
				// writeDuringLoad starts a read of a row holding from and, once it has loaded,
				// writes to and (with retire) invalidates as a write does after its commit. The
				// racing read's result arrives on first after release is closed.
				writeDuringLoad := func(t *testing.T, o Options, from, to string, retire bool) (c *Cache, client redis.UniversalClient, l *loader[string], first <-chan readResult, release chan<- struct{}) {
					t.Helper()
					c, client = newTestCache(t, url, o)
					db := newRow(from)
					l, loaded, release := gatedLoader(db)
					first = racingRead(read(c, l), loaded)
					db.v.Store(to)
					if retire {
						if err := k.retire(ctx, c); err != nil {
							t.Fatal(err)
						}
					}
					return c, client, l, first, release
				}

				t.Run("InvalidateDuringLoad", func(t *testing.T) {
					t.Parallel()
					c, client, l, first, release := writeDuringLoad(t, Options{}, "v1", "v2", true)
					close(release)
					if r := <-first; r.v != "v1" { // a read concurrent with the write may see v1...
						t.Fatalf("racing read got %q", r.v)
					}
					k.stale(t, ctx, c, client) // ...but must not have cached it where reads find it.
					if got, err := read(c, l)(); err != nil || got != "v2" {
						t.Fatalf("read after write: %q, %v", got, err)
					}
					assertCached(t, l, "v2", read(c, l))
				})

				t.Run("NewerReadDoesNotJoin", func(t *testing.T) {
					t.Parallel()
					c, _, l, first, release := writeDuringLoad(t, Options{}, "v1", "v2", true)
					// A read after the invalidation must not join the old load: it reads v2. (One
					// that joined would wait for the gate, which opens after it: the deadline
					// turns that into a failure instead of a hang.)
					jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					defer cancel()
					if got, err := k.read(jctx, c, l); err != nil || got != "v2" {
						t.Fatalf("read after write: %q, %v", got, err)
					}
					close(release)
					<-first
					// A value's newer read has filled (the Delete freed the lease); a list's
					// could not (the old load held it), and the read after the old fill does.
					if got, err := read(c, l)(); err != nil || got != "v2" {
						t.Fatalf("read after the old fill: %q, %v", got, err)
					}
					assertCached(t, l, "v2", read(c, l))
				})

				t.Run("BypassSupersedesSlowFill", func(t *testing.T) {
					t.Parallel()
					// Changed without an invalidation; cache=0 repairs it.
					c, _, l, first, release := writeDuringLoad(t, Options{}, "v1", "v2", false)
					if got, err := k.read(WithBypass(ctx), c, l); err != nil || got != "v2" {
						t.Fatalf("bypass read: %q, %v", got, err)
					}
					close(release)
					<-first
					assertCached(t, l, "v2", read(c, l))
				})

				t.Run("CreateDuringNotFoundLoad", func(t *testing.T) {
					t.Parallel()
					// The row is not there yet when the racing read loads.
					c, _, l, first, release := writeDuringLoad(t, Options{NegativeTTL: time.Minute}, "", "created", true)
					close(release)
					if r := <-first; !errors.Is(r.err, fault.ErrNotFound) {
						t.Fatalf("racing read: %v", r.err)
					}
					// The tombstone must not hide the new row for NegativeTTL.
					if got, err := read(c, l)(); err != nil || got != "created" {
						t.Fatalf("read after create: %q, %v", got, err)
					}
					assertCached(t, l, "created", read(c, l))
				})
			})
		}
	}
}
