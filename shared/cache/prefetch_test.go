package cache

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/fault"
)

func TestPrefetch(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			url := b.url(t)
			bg := context.Background()

			// The hot path of GET /projects/{id}: the caller's memberships and the project
			// (and, for a list or a report, the list and its scope's generation) in one round
			// trip instead of four.
			t.Run("OneRoundTripForWarmKeys", func(t *testing.T) {
				t.Parallel()
				rec := &recorder{}
				c, client := newTestCache(t, url, Options{Observer: rec})
				p := project{ID: "p1", Name: "Apollo"}
				m := []string{"org-1", "org-2"}
				if _, err := Get(bg, c, "project:p1", time.Minute, constLoader(p).load); err != nil {
					t.Fatal(err)
				}
				if _, err := Get(bg, c, "memberships:u1", time.Minute, constLoader(m).load); err != nil {
					t.Fatal(err)
				}
				scopes := []string{"org:1"}
				listKey := ListKey(scopes, "summary")
				if _, err := GetList(bg, c, listKey, scopes, time.Minute, constLoader("s1").load); err != nil {
					t.Fatal(err)
				}
				before := len(rec.list())

				var trips devtest.RoundTrips
				client.AddHook(&trips)
				ctx := c.Prefetch(bg, []string{"project:p1", "memberships:u1", listKey}, scopes)
				pl, ml := constLoader(project{}), constLoader([]string(nil))
				gotP, err := Get(ctx, c, "project:p1", time.Minute, pl.load)
				if err != nil || !equalProject(gotP, p) {
					t.Fatalf("project: %+v, %v", gotP, err)
				}
				gotM, err := Get(ctx, c, "memberships:u1", time.Minute, ml.load)
				if err != nil || !slices.Equal(gotM, m) {
					t.Fatalf("memberships: %v, %v", gotM, err)
				}
				ll := constLoader("")
				if got, err := GetList(ctx, c, listKey, scopes, time.Minute, ll.load); err != nil || got != "s1" {
					t.Fatalf("list after prefetch: %q, %v", got, err)
				}
				if n := trips.N(); n != 1 {
					t.Errorf("%d round trips, want 1 (the prefetch)", n)
				}
				if n := pl.calls.Load() + ml.calls.Load() + ll.calls.Load(); n != 0 {
					t.Errorf("loaders ran %d times on warm keys", n)
				}
				if got := rec.list()[before:]; !slices.Equal(got, []string{"hit:project", "hit:memberships", "hit:summary"}) {
					t.Errorf("observer saw %v, want the three hits Get and GetList report without a prefetch", got)
				}
			})

			// The session check's pipeline, on another client of the same Redis, carries the
			// reads (guard.Prefetching); the handler's own Prefetch of the same keys then sends
			// nothing, and one of a key not queued sends only that key.
			t.Run("QueuedOnAnotherClientsPipeline", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				other := newTestClient(t, url)
				p := project{ID: "p2", Name: "Gemini"}
				if _, err := Get(bg, c, "project:p2", time.Minute, constLoader(p).load); err != nil {
					t.Fatal(err)
				}
				var trips, otherTrips devtest.RoundTrips
				client.AddHook(&trips)
				other.AddHook(&otherTrips)
				pipe := other.Pipeline()
				session := pipe.Exists(bg, "some-session")
				q := c.Queue(bg, pipe, []string{"project:p2", "memberships:u2"}, []string{"org:2"})
				if q == nil {
					t.Fatal("Queue queued nothing")
				}
				if _, err := pipe.Exec(bg); err != nil && !errors.Is(err, redis.Nil) {
					t.Fatal(err)
				}
				if session.Err() != nil {
					t.Fatal(session.Err())
				}
				ctx := q.Context(bg)
				ctx = c.Prefetch(ctx, []string{"project:p2", "memberships:u2"}, []string{"org:2"})
				if n := trips.N(); n != 0 {
					t.Errorf("Prefetch of held keys: %d round trips, want 0", n)
				}
				pl := constLoader(project{})
				got, err := Get(ctx, c, "project:p2", time.Minute, pl.load)
				if err != nil || !equalProject(got, p) || pl.calls.Load() != 0 {
					t.Fatalf("project from the queued read: %+v, %v, loader ran %d", got, err, pl.calls.Load())
				}
				if n := trips.N(); n != 0 {
					t.Errorf("Get of a queued key: %d round trips, want 0", n)
				}
				ml := constLoader([]string{"org-2"})
				if _, err := Get(ctx, c, "memberships:u2", time.Minute, ml.load); err != nil || ml.calls.Load() != 1 {
					t.Fatalf("queued miss: %v, loader ran %d, want once", err, ml.calls.Load())
				}
				// Taken keys and new ones are read again: one pipeline (split by node on a
				// cluster).
				trips.Reset()
				ctx = c.Prefetch(ctx, []string{"project:p2", "memberships:u2", "project:p3"}, nil)
				if n := trips.N(); n != 1 {
					t.Errorf("a prefetch of taken and new keys: %d round trips, want 1", n)
				}
				pl = constLoader(project{})
				if got, err := Get(ctx, c, "project:p2", time.Minute, pl.load); err != nil || !equalProject(got, p) || trips.N() != 1 {
					t.Fatalf("project from the second prefetch: %+v, %v, %d round trips", got, err, trips.N())
				}
				if n := otherTrips.N(); n != 1 {
					t.Errorf("the other client made %d round trips, want the one pipeline", n)
				}
			})

			t.Run("MissesFillAsUsual", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				ctx := c.Prefetch(bg, []string{"project:cold"}, []string{"org:new"})
				l := constLoader(project{ID: "cold", Name: "from the database"})
				got, err := Get(ctx, c, "project:cold", time.Minute, l.load)
				if err != nil || got.Name != "from the database" || l.calls.Load() != 1 {
					t.Fatalf("cold read: %+v, %v, %d loads", got, err, l.calls.Load())
				}
				if client.Exists(bg, c.vkey("project:cold")).Val() != 1 {
					t.Error("a prefetched miss was not filled")
				}
				// A missing generation is initialised as GetList always does it, and the list is
				// filled under it.
				sc := []string{"org:new"}
				ll := constLoader("page")
				if got, err := GetList(ctx, c, ListKey(sc, "projects"), sc, time.Minute, ll.load); err != nil || got != "page" {
					t.Fatalf("list on a prefetched missing generation: %q, %v", got, err)
				}
				gen := client.Get(bg, c.gkey("org:new")).Val()
				if gen == "" {
					t.Fatal("the missing generation was not created")
				}
				if v := client.Get(bg, c.vkey(ListKey(sc, "projects"))).Val(); v != "#"+gen+"\n\"page\"" {
					t.Errorf("list entry %q, want it under generation %s", v, gen)
				}
				if _, err := GetList(bg, c, ListKey(sc, "projects"), sc, time.Minute, ll.load); err != nil || ll.calls.Load() != 1 {
					t.Errorf("second read: %v, loader ran %d times, want once", err, ll.calls.Load())
				}
			})

			t.Run("TombstoneServed", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				gone := func(context.Context) (project, error) { return project{}, fault.E(fault.NotFound, "project not found") }
				if _, err := Get(bg, c, "project:gone", time.Minute, gone); !errors.Is(err, fault.ErrNotFound) {
					t.Fatalf("first read: %v", err)
				}
				ctx := c.Prefetch(bg, []string{"project:gone"}, nil)
				l := constLoader(project{ID: "gone"})
				if _, err := Get(ctx, c, "project:gone", time.Minute, l.load); !errors.Is(err, fault.ErrNotFound) || l.calls.Load() != 0 {
					t.Errorf("prefetched tombstone: %v after %d loads, want the cached not-found", err, l.calls.Load())
				}
			})

			// A reply is used once: a read after an invalidation in the same request goes to
			// Redis again and never sees the value prefetched before the write.
			t.Run("UsedOnce", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				if _, err := Get(bg, c, "project:p", time.Minute, constLoader(project{Name: "old"}).load); err != nil {
					t.Fatal(err)
				}
				ctx := c.Prefetch(bg, []string{"project:p"}, nil)
				if got, _ := Get(ctx, c, "project:p", time.Minute, constLoader(project{Name: "unused"}).load); got.Name != "old" {
					t.Fatalf("first read: %+v", got)
				}
				if err := c.Delete(bg, "project:p"); err != nil {
					t.Fatal(err)
				}
				if got, _ := Get(ctx, c, "project:p", time.Minute, constLoader(project{Name: "new"}).load); got.Name != "new" {
					t.Errorf("read after the write: %+v, want the new value", got)
				}
			})

			t.Run("OtherCacheIgnoresIt", func(t *testing.T) {
				t.Parallel()
				a, _ := newTestCache(t, url, Options{})
				b, _ := newTestCache(t, url, Options{}) // its own prefix: another namespace
				if _, err := Get(bg, a, "project:x", time.Minute, constLoader(project{Name: "a's"}).load); err != nil {
					t.Fatal(err)
				}
				ctx := a.Prefetch(bg, []string{"project:x"}, nil)
				if got, _ := Get(ctx, b, "project:x", time.Minute, constLoader(project{Name: "b's"}).load); got.Name != "b's" {
					t.Errorf("cache b answered %+v from cache a's prefetch", got)
				}
			})

			t.Run("BypassSkipsKeys", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				if _, err := Get(bg, c, "project:b", time.Minute, constLoader(project{Name: "cached"}).load); err != nil {
					t.Fatal(err)
				}
				var trips devtest.RoundTrips
				client.AddHook(&trips)
				ctx := c.Prefetch(WithBypass(bg), []string{"project:b"}, nil)
				if n := trips.N(); n != 0 {
					t.Errorf("a bypassing prefetch of keys only sent %d round trips, want none", n)
				}
				if got, _ := Get(ctx, c, "project:b", time.Minute, constLoader(project{Name: "fresh"}).load); got.Name != "fresh" {
					t.Errorf("bypassing read: %+v, want the loader's", got)
				}
			})

			t.Run("NilAndEmpty", func(t *testing.T) {
				t.Parallel()
				var none *Cache
				if ctx := none.Prefetch(bg, []string{"project:p"}, nil); ctx != bg {
					t.Error("a nil Cache's prefetch changed the context")
				}
				c, _ := newTestCache(t, url, Options{})
				if ctx := c.Prefetch(bg, nil, nil); ctx != bg {
					t.Error("an empty prefetch changed the context")
				}
			})
		})
	}
}

// TestPrefetchRedisStopped: a prefetch against a dead Redis costs at most the one timeout a Get
// would have cost, and the reads behind it answer from the loader.
func TestPrefetchRedisStopped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := startOwnRedis(t)
	client, err := NewClient(ClientOptions{URL: r.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := New(client, Options{Prefix: uniquePrefix(t)})
	if err := r.Stop(); err != nil {
		t.Logf("stop: %v", err)
	}
	start := time.Now()
	pctx := c.Prefetch(ctx, []string{"project:p1", "memberships:u1"}, []string{"org:1"})
	got, err := Get(pctx, c, "project:p1", time.Minute, constLoader(project{Name: "from the database"}).load)
	if err != nil || got.Name != "from the database" {
		t.Fatalf("read with Redis down: %+v, %v", got, err)
	}
	sc := []string{"org:1"}
	ll := constLoader("from the database")
	if got, err := GetList(pctx, c, ListKey(sc, "projects"), sc, time.Minute, ll.load); err != nil || got != "from the database" {
		t.Errorf("list with Redis down: %q, %v", got, err)
	}
	if elapsed := time.Since(start); elapsed > outageBound {
		t.Errorf("prefetch and reads with Redis down took %v, want < %v", elapsed, outageBound)
	}
	if s := c.Stats(); s.Errors == 0 {
		t.Errorf("stats %+v: the failed reads were not counted", s)
	}
}
