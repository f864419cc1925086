package cache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
)

// faultHook makes a client's invalidations fail while it is armed, before they reach Redis: the
// Redis stays up and keeps what it holds, which is the dangerous case (a reply lost to a timeout,
// a partition between one environment and Redis). Reads go through, so the test can still look.
type faultHook struct{ armed atomic.Bool }

var errInjected = errors.New("injected: connection reset by peer")

func isInvalidation(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "del", "evalsha", "eval":
		return true
	}
	return false
}

func (h *faultHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *faultHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.armed.Load() && isInvalidation(cmd) {
			cmd.SetErr(errInjected)
			return errInjected
		}
		return next(ctx, cmd)
	}
}

func (h *faultHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.armed.Load() {
			for _, cmd := range cmds {
				if isInvalidation(cmd) {
					for _, c := range cmds {
						c.SetErr(errInjected)
					}
					return errInjected
				}
			}
		}
		return next(ctx, cmds)
	}
}

// fencedPair is two execution environments of one deployment: the same Redis, key prefix and
// database (the fence), each with its own client and Cache. The writer's client can be made to
// fail its invalidations.
type fencedPair struct {
	writer, reader *Cache
	hook           *faultHook
	raw            redis.UniversalClient // for looking at what Redis holds
	epochs         db.CacheEpochs
}

const testEpochInterval = 300 * time.Millisecond

func newFencedPair(t *testing.T, url string) *fencedPair {
	t.Helper()
	database := devtest.NewDatabase(t)
	// Through PgBouncer in transaction mode, as the functions reach the database.
	pool, err := db.Open(context.Background(), db.Options{URL: database.PoolerURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	epochs := db.CacheEpochs{Pool: pool}
	prefix := uniquePrefix(t)
	o := Options{Prefix: prefix, Epochs: epochs, EpochInterval: testEpochInterval}
	wc, rc := newTestClient(t, url), newTestClient(t, url)
	hook := &faultHook{}
	wc.AddHook(hook)
	return &fencedPair{writer: New(wc, o), reader: New(rc, o), hook: hook, raw: newTestClient(t, url), epochs: epochs}
}

// TestFailedInvalidationFences is the guarantee of a failed invalidation: the write has committed
// and Redis still holds the old entry, but no environment reads it later than one EpochInterval
// after Delete (or Bump) returned, and the writer's own environment not at all.
func TestFailedInvalidationFences(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			p := newFencedPair(t, b.url(t))
			var row atomic.Value // the database
			row.Store("v1")
			load := func(context.Context) (string, error) { return row.Load().(string), nil }

			t.Run("Delete", func(t *testing.T) {
				if got, _ := Get(ctx, p.reader, "project:f1", time.Minute, load); got != "v1" {
					t.Fatalf("first read %q", got)
				}
				waitFor(t, 5*time.Second, "the fill", func() bool {
					return p.raw.Exists(ctx, p.reader.vkey("project:f1")).Val() == 1
				})
				staleKey := p.reader.vkey("project:f1")

				row.Store("v2") // the write commits
				p.hook.armed.Store(true)
				err := p.writer.Delete(ctx, "project:f1")
				p.hook.armed.Store(false)
				returned := time.Now()
				if err != nil {
					t.Fatalf("Delete: %v, want nil: the epoch should have been advanced", err)
				}
				if s := p.writer.Stats(); s.Fences != 1 {
					t.Errorf("writer stats %+v, want 1 fence", s)
				}
				if p.raw.Exists(ctx, staleKey).Val() != 1 {
					t.Fatal("the stale entry is gone from Redis: the fault did not happen")
				}
				if got, _ := Get(ctx, p.writer, "project:f1", time.Minute, load); got != "v2" {
					t.Errorf("the writer's environment read %q right after its own write, want v2", got)
				}
				// The other environment may use the old epoch until its interval ends, never after.
				deadline := returned.Add(testEpochInterval)
				for time.Now().Before(deadline.Add(testEpochInterval)) {
					got, _ := Get(ctx, p.reader, "project:f1", time.Minute, load)
					if got == "v1" && time.Now().After(deadline) {
						t.Fatalf("read the stale entry %v after the failed invalidation returned (interval %v)", time.Since(returned), testEpochInterval)
					}
					time.Sleep(10 * time.Millisecond)
				}
				if got, _ := Get(ctx, p.reader, "project:f1", time.Minute, load); got != "v2" {
					t.Errorf("reader %q, want v2", got)
				}
			})

			t.Run("Bump", func(t *testing.T) {
				lists := atomic.Value{}
				lists.Store("[a]")
				loadList := func(context.Context) (string, error) { return lists.Load().(string), nil }
				sc := []string{"org:f"}
				key := ListKey(sc, "projects")
				if got, _ := GetList(ctx, p.reader, key, sc, time.Minute, loadList); got != "[a]" {
					t.Fatalf("first list %q", got)
				}
				lists.Store("[a b]")
				p.hook.armed.Store(true)
				err := p.writer.Bump(ctx, "org:f")
				p.hook.armed.Store(false)
				returned := time.Now()
				if err != nil {
					t.Fatalf("Bump: %v, want nil", err)
				}
				if got, _ := GetList(ctx, p.writer, key, sc, time.Minute, loadList); got != "[a b]" {
					t.Errorf("the writer's environment listed %q, want [a b]", got)
				}
				time.Sleep(time.Until(returned.Add(testEpochInterval)))
				if got, _ := GetList(ctx, p.reader, key, sc, time.Minute, loadList); got != "[a b]" {
					t.Errorf("reader listed %q one interval after the failed bump, want [a b]", got)
				}
			})

			t.Run("CanceledContext", func(t *testing.T) {
				// A client that hung up right after the commit: the DEL fails on the request's
				// context, and the advance must not.
				Get(ctx, p.writer, "project:f2", time.Minute, load)
				before := p.writer.Stats().Fences
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if err := p.writer.Delete(cctx, "project:f2"); err != nil {
					t.Fatalf("Delete on a canceled context: %v, want the epoch advanced", err)
				}
				if p.writer.Stats().Fences != before+1 {
					t.Error("no fence counted")
				}
			})

		})
	}
}

// TestEpochUnknown: when the fence can't be read, the cache neither reads nor fills, and an
// invalidation it can't fence reports the loss.
func TestEpochUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := stackURLs(t)
	database := devtest.NewDatabase(t)
	pool, err := db.Open(ctx, db.Options{URL: database.PoolerURL})
	if err != nil {
		t.Fatal(err)
	}
	client := newTestClient(t, s)
	prefix := uniquePrefix(t)
	c := New(client, Options{Prefix: prefix, Epochs: db.CacheEpochs{Pool: pool}, EpochInterval: 50 * time.Millisecond})
	l := constLoader("db")
	Get(ctx, c, "project:u1", time.Minute, l.load)
	waitFor(t, 5*time.Second, "the fill", func() bool { return client.Exists(ctx, c.vkey("project:u1")).Val() == 1 })

	pool.Close() // the database is gone: the epoch can't be read or advanced
	time.Sleep(60 * time.Millisecond)
	calls := l.calls.Load()
	if got, err := Get(ctx, c, "project:u1", time.Minute, l.load); got != "db" || err != nil {
		t.Fatalf("read with the epoch unknown: %q, %v", got, err)
	}
	if l.calls.Load() != calls+1 {
		t.Error("a read with the epoch unknown was answered from Redis")
	}
	sc := []string{"org:u"}
	calls = l.calls.Load()
	for range 2 {
		if got, err := GetList(ctx, c, ListKey(sc, "projects"), sc, time.Minute, l.load); got != "db" || err != nil {
			t.Fatalf("list with the epoch unknown: %q, %v", got, err)
		}
	}
	if l.calls.Load() != calls+2 {
		t.Error("a list read with the epoch unknown was answered from Redis")
	}
	if err := c.Delete(ctx, "project:u1"); err == nil {
		t.Error("Delete that could neither know the epoch nor advance it returned nil")
	}
}
