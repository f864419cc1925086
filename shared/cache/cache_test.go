package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/fault"
)

func TestGet(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			url := b.url(t)
			ctx := context.Background()

			t.Run("MissThenHit", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				want := project{ID: "p1", Name: "Apollo", Status: "open", Tags: []string{"a", "b"}}
				l := constLoader(want)
				for i := range 3 {
					got, err := Get(ctx, c, "project:p1", time.Minute, l.load)
					if err != nil || !equalProject(got, want) {
						t.Fatalf("get %d: %+v, %v", i, got, err)
					}
				}
				if n := l.calls.Load(); n != 1 {
					t.Errorf("loader ran %d times, want 1", n)
				}
				if s := c.Stats(); s.Hits != 2 || s.Misses != 1 || s.Errors != 0 {
					t.Errorf("stats %+v", s)
				}
			})

			t.Run("TTLJittered", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				const ttl = 100 * time.Second
				seen := map[time.Duration]bool{}
				for i := range 40 {
					key := fmt.Sprintf("project:%d", i)
					if _, err := Get(ctx, c, key, ttl, constLoader(i).load); err != nil {
						t.Fatal(err)
					}
					pttl, err := client.PTTL(ctx, c.vkey(key)).Result()
					if err != nil {
						t.Fatal(err)
					}
					// ±10 %, less the time the test itself took.
					if pttl < 89*time.Second || pttl > 110*time.Second {
						t.Errorf("%s: TTL %v outside 100s ± 10%%", key, pttl)
					}
					seen[pttl.Round(100*time.Millisecond)] = true
				}
				if len(seen) < 20 {
					t.Errorf("only %d distinct TTLs among 40 keys filled together", len(seen))
				}
			})

			t.Run("Expires", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				l := constLoader("v")
				if _, err := Get(ctx, c, "project:exp", 200*time.Millisecond, l.load); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 5*time.Second, "the entry to expire", func() bool {
					return client.Exists(ctx, c.vkey("project:exp")).Val() == 0
				})
				if _, err := Get(ctx, c, "project:exp", time.Minute, l.load); err != nil {
					t.Fatal(err)
				}
				if n := l.calls.Load(); n != 2 {
					t.Errorf("loader ran %d times, want 2 (before and after expiry)", n)
				}
			})

			t.Run("OneLoadForConcurrentMisses", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				const n = 16
				var joined atomic.Int64
				c.hookJoined = func(string) { joined.Add(1) }
				release := make(chan struct{})
				l := &loader[project]{fn: func(context.Context) (project, error) {
					<-release
					return project{ID: "hot", Tags: []string{"x"}}, nil
				}}
				results := make([]project, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { results[i], errs[i] = Get(ctx, c, "project:hot", time.Minute, l.load) })
				}
				// Hold the load until every caller has joined it, so the count is exact.
				waitFor(t, 5*time.Second, "all callers to join the fill", func() bool { return joined.Load() == n })
				close(release)
				wg.Wait()
				if calls := l.calls.Load(); calls != 1 {
					t.Errorf("loader ran %d times for %d concurrent misses, want 1", calls, n)
				}
				for i := range n {
					if errs[i] != nil || results[i].ID != "hot" {
						t.Fatalf("caller %d: %+v, %v", i, results[i], errs[i])
					}
				}
				// Each caller owns its value: no shared slice between callers.
				results[0].Tags[0] = "mutated"
				if results[1].Tags[0] != "x" {
					t.Error("callers share the same slice")
				}
			})

			t.Run("NegativeCaching", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{NegativeTTL: 3 * time.Second})
				l := &loader[project]{fn: func(context.Context) (project, error) {
					return project{}, fault.E(fault.NotFound, "project not found")
				}}
				for i := range 3 {
					_, err := Get(ctx, c, "project:missing", time.Minute, l.load)
					if !errors.Is(err, fault.ErrNotFound) {
						t.Fatalf("get %d: %v, want not found", i, err)
					}
					if fault.As(err).Message != "project not found" {
						t.Errorf("get %d: message %q", i, fault.As(err).Message)
					}
				}
				if n := l.calls.Load(); n != 1 {
					t.Errorf("loader ran %d times, want 1", n)
				}
				pttl := client.PTTL(ctx, c.vkey("project:missing")).Val()
				if pttl <= 0 || pttl > 3300*time.Millisecond {
					t.Errorf("tombstone TTL %v, want about NegativeTTL (3s), not the entry TTL", pttl)
				}
				// A create invalidates the key, and the tombstone with it.
				if err := c.Delete(ctx, "project:missing"); err != nil {
					t.Fatal(err)
				}
				l.fn = func(context.Context) (project, error) { return project{ID: "missing"}, nil }
				if got, err := Get(ctx, c, "project:missing", time.Minute, l.load); err != nil || got.ID != "missing" {
					t.Errorf("after create: %+v, %v", got, err)
				}
			})

			t.Run("OtherErrorsNotCached", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				boom := errors.New("database unavailable")
				l := &loader[string]{fn: func(context.Context) (string, error) { return "", boom }}
				for range 2 {
					if _, err := Get(ctx, c, "project:err", time.Minute, l.load); !errors.Is(err, boom) {
						t.Fatalf("err %v, want the loader's", err)
					}
				}
				if n := l.calls.Load(); n != 2 {
					t.Errorf("loader ran %d times, want 2", n)
				}
				// The lease is released, so the next environment can fill without waiting for it.
				if n := client.Exists(ctx, c.vkey("project:err")+leaseSuffix).Val(); n != 0 {
					t.Error("lease left behind after a failed load")
				}
			})

			t.Run("Delete", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				keys := []string{"project:a", "project:b", "task:c", "user:d"}
				loaders := map[string]*loader[string]{}
				for _, k := range keys {
					loaders[k] = constLoader(k)
					if _, err := Get(ctx, c, k, time.Minute, loaders[k].load); err != nil {
						t.Fatal(err)
					}
				}
				// Several keys in one call: in a cluster they live in different slots.
				if err := c.Delete(ctx, keys[:3]...); err != nil {
					t.Fatalf("delete: %v", err)
				}
				for _, k := range keys {
					if _, err := Get(ctx, c, k, time.Minute, loaders[k].load); err != nil {
						t.Fatal(err)
					}
				}
				for i, k := range keys {
					want := int64(2)
					if i == 3 {
						want = 1
					}
					if n := loaders[k].calls.Load(); n != want {
						t.Errorf("%s: loader ran %d times, want %d", k, n, want)
					}
				}
			})

			t.Run("Invalidate", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				keys := []string{"project:a", "task:b", "project:c"}
				scopes := []string{"org:A", "view:project:a", "org:B"}
				loaders := map[string]*loader[string]{}
				read := func(k string) {
					t.Helper()
					if _, err := Get(ctx, c, k, time.Minute, loaders[k].load); err != nil {
						t.Fatal(err)
					}
				}
				readList := func(scope string) { // a list of scope, under its generation now
					t.Helper()
					sc := []string{scope}
					if _, err := GetList(ctx, c, ListKey(sc, "projects", "q"), sc, time.Minute, loaders[scope].load); err != nil {
						t.Fatal(err)
					}
				}
				for _, k := range keys {
					loaders[k] = constLoader(k)
					read(k)
				}
				for _, s := range scopes {
					loaders[s] = constLoader(s)
					readList(s)
				}
				// A Redis that has forgotten its scripts (restarted): the bumps still happen.
				if err := client.ScriptFlush(ctx).Err(); err != nil {
					t.Fatal(err)
				}
				if err := c.Invalidate(ctx, keys[:2], scopes[:2]); err != nil {
					t.Fatalf("invalidate: %v", err)
				}
				for _, k := range keys {
					read(k)
				}
				for _, s := range scopes {
					readList(s)
				}
				for i, k := range append(keys, scopes...) {
					want := int64(2) // filled, then refilled after the invalidation
					if i == 2 || i == 5 {
						want = 1 // project:c and org:B were not invalidated
					}
					if n := loaders[k].calls.Load(); n != want {
						t.Errorf("%s: loader ran %d times, want %d", k, n, want)
					}
				}
				if ttl := client.PTTL(ctx, c.gkey("org:A")).Val(); ttl <= 0 {
					t.Errorf("generation of org:A has TTL %v after Invalidate, want DefaultGenerationTTL", ttl)
				}
			})

			t.Run("GenerationsInvalidateScope", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				type list struct{ scope, noun, query string }
				lists := []list{
					{"org:A", "projects", "status=open"},
					{"org:A", "projects", "status=done"},
					{"org:A", "tasks", "sort=created_at"},
					{"org:B", "projects", "status=open"},
				}
				loads := map[list]*loader[[]string]{}
				read := func(l list) {
					t.Helper()
					sc := []string{l.scope}
					if _, err := GetList(ctx, c, ListKey(sc, l.noun, l.query), sc, time.Minute, loads[l].load); err != nil {
						t.Fatal(err)
					}
				}
				for _, l := range lists {
					loads[l] = constLoader([]string{l.scope, l.noun, l.query})
					read(l)
					read(l)
				}
				g1 := client.Get(ctx, c.gkey("org:A")).Val()
				if err := c.Bump(ctx, "org:A"); err != nil {
					t.Fatalf("bump: %v", err)
				}
				if g2 := client.Get(ctx, c.gkey("org:A")).Val(); g2 == g1 {
					t.Fatalf("generation %q unchanged by Bump", g1)
				}
				// The retired entries are still in Redis, under the old generation.
				if v := client.Get(ctx, c.vkey(ListKey([]string{"org:A"}, "projects", "status=open"))).Val(); !strings.HasPrefix(v, "#"+g1+"\n") {
					t.Fatalf("entry %q, want it under generation %s", v, g1)
				}
				for _, l := range lists {
					read(l)
					read(l)
				}
				for _, l := range lists {
					want := int64(2) // filled, then refilled after the bump
					if l.scope == "org:B" {
						want = 1
					}
					if n := loads[l].calls.Load(); n != want {
						t.Errorf("%v: loader ran %d times, want %d", l, n, want)
					}
				}
				// The bump touched one key: the scope's generation.
				gk := c.gkey("org:A")
				if ttl := client.PTTL(ctx, gk).Val(); ttl <= 0 {
					t.Errorf("generation key %s has TTL %v, want DefaultGenerationTTL", gk, ttl)
				}
			})

			t.Run("GenerationSurvivesEviction", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				sc := []string{"org:E"}
				key := ListKey(sc, "projects")
				var src atomic.Int64
				l := &loader[int64]{fn: func(context.Context) (int64, error) { return src.Load(), nil }}
				read := func() int64 {
					t.Helper()
					v, err := GetList(ctx, c, key, sc, time.Minute, l.load)
					if err != nil {
						t.Fatal(err)
					}
					return v
				}
				gen := func() string { return client.Get(ctx, c.gkey("org:E")).Val() }
				read() // creates the generation and fills under it
				old := gen()
				if err := c.Bump(ctx, "org:E"); err != nil {
					t.Fatal(err)
				}
				bumped := gen()
				// Redis under memory pressure may evict the generation key; the next one must not
				// reuse a number that lists still cached (up to their TTL) were built with.
				client.Del(ctx, c.gkey("org:E"))
				src.Store(1) // a write whose bump was lost with the key
				if v := read(); v != 1 {
					t.Errorf("after eviction the list read %d, the entry filled under an old generation", v)
				}
				fresh := gen()
				if fresh == old || fresh == bumped {
					t.Errorf("after eviction the generation came back as an old one: %q (old %q, %q)", fresh, old, bumped)
				}
				client.Del(ctx, c.gkey("org:E"))
				if err := c.Bump(ctx, "org:E"); err != nil {
					t.Fatal(err)
				}
				if g := gen(); g == old || g == bumped || g == fresh {
					t.Errorf("Bump after eviction reused a generation: %q", g)
				}
			})

			// A list over several scopes is retired by a Bump of any of them and by no other.
			t.Run("SeveralScopes", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				scopes := []string{"org:A", "org:B"}
				key := ListKey(scopes, "projects", "q")
				l := constLoader("[a b]")
				read := func() {
					t.Helper()
					if _, err := GetList(ctx, c, key, scopes, time.Minute, l.load); err != nil {
						t.Fatal(err)
					}
				}
				read()
				read()
				if err := c.Bump(ctx, "org:C"); err != nil {
					t.Fatal(err)
				}
				read()
				if n := l.calls.Load(); n != 1 {
					t.Fatalf("loader ran %d times before a Bump of its scopes, want 1", n)
				}
				for i, s := range scopes {
					if err := c.Bump(ctx, s); err != nil {
						t.Fatal(err)
					}
					read()
					read()
					if n, want := l.calls.Load(), int64(i+2); n != want {
						t.Errorf("after a Bump of %s the loader ran %d times, want %d", s, n, want)
					}
				}
			})

			// An entry without its generations is refilled, not served.
			t.Run("EntryWithoutGenerations", func(t *testing.T) {
				t.Parallel()
				rec := &recorder{}
				c, client := newTestCache(t, url, Options{Observer: rec})
				scopes := []string{"org:D"}
				key := ListKey(scopes, "projects")
				l := constLoader("[fresh]")
				if _, err := GetList(ctx, c, key, scopes, time.Minute, l.load); err != nil {
					t.Fatal(err)
				}
				for _, bad := range []string{`"[stale]"`, "#no newline"} {
					if err := client.Set(ctx, c.vkey(key), bad, time.Minute).Err(); err != nil {
						t.Fatal(err)
					}
					before := l.calls.Load()
					if got, err := GetList(ctx, c, key, scopes, time.Minute, l.load); err != nil || got != "[fresh]" || l.calls.Load() != before+1 {
						t.Errorf("entry %q: read %q, %v, %d loads; want a refill", bad, got, err, l.calls.Load()-before)
					}
				}
				if !slices.Contains(rec.list(), "error:projects") {
					t.Errorf("observer saw %v, want the bad entries counted as errors", rec.list())
				}
			})
			t.Run("BypassRefreshes", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				var db atomic.Value
				db.Store("v1")
				l := &loader[string]{fn: func(context.Context) (string, error) { return db.Load().(string), nil }}
				if _, err := Get(ctx, c, "project:bp", time.Minute, l.load); err != nil {
					t.Fatal(err)
				}
				db.Store("v2") // changed behind the cache's back (no Delete)
				got, err := Get(WithBypass(ctx), c, "project:bp", time.Minute, l.load)
				if err != nil || got != "v2" {
					t.Fatalf("bypass read: %q, %v; want v2 from the loader", got, err)
				}
				got, err = Get(ctx, c, "project:bp", time.Minute, l.load)
				if err != nil || got != "v2" {
					t.Fatalf("read after bypass: %q, %v; want the refreshed v2", got, err)
				}
				if n := l.calls.Load(); n != 2 {
					t.Errorf("loader ran %d times, want 2", n)
				}
				if s := c.Stats(); s.Bypassed != 1 || s.Hits != 1 {
					t.Errorf("stats %+v", s)
				}
			})

			t.Run("Observer", func(t *testing.T) {
				t.Parallel()
				rec := &recorder{}
				c, client := newTestCache(t, url, Options{Observer: rec})
				l := constLoader(1)
				Get(ctx, c, "project:o", time.Minute, l.load)
				Get(ctx, c, "project:o", time.Minute, l.load)
				client.Set(ctx, c.vkey("task:bad"), "{not json", time.Minute)
				Get(ctx, c, "task:bad", time.Minute, l.load)
				want := []string{"miss:project", "hit:project", "error:task", "miss:task"}
				if got := rec.list(); !slices.Equal(got, want) {
					t.Errorf("events %v, want %v", got, want)
				}
				// The undecodable entry was replaced by the fill.
				if _, err := Get(ctx, c, "task:bad", time.Minute, l.load); err != nil || l.calls.Load() != 2 {
					t.Errorf("bad entry not refilled: %v, %d loads", err, l.calls.Load())
				}
			})

			t.Run("RawMessage", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				page := json.RawMessage(`{"data":[{"id":"a","name":"caf\u00e9 \"x\""}],"count":1}`)
				l := constLoader(page)
				for i := range 2 { // the fill, then the hit, which takes the stored bytes as they are
					got, err := Get(ctx, c, "projects:list:a", time.Minute, l.load)
					if err != nil || !bytes.Equal(got, page) {
						t.Fatalf("read %d: %s, %v; want %s", i, got, err, page)
					}
				}
				if l.calls.Load() != 1 {
					t.Fatalf("%d loads for a fill and a hit", l.calls.Load())
				}
				// Bytes that are not one JSON value are not served: the entry is refilled.
				for _, bad := range []string{`{"data":[`, `{"a":1} {"b":2}`, ``} {
					client.Set(ctx, c.vkey("projects:list:a"), bad, time.Minute)
					got, err := Get(ctx, c, "projects:list:a", time.Minute, l.load)
					if err != nil || !bytes.Equal(got, page) {
						t.Fatalf("entry %q: %s, %v; want the loader's %s", bad, got, err, page)
					}
				}
				if l.calls.Load() != 4 {
					t.Fatalf("%d loads, want 4 (the fill and one per bad entry)", l.calls.Load())
				}
			})

			t.Run("AwkwardKeysStayInOneSlot", func(t *testing.T) {
				t.Parallel()
				c, client := newTestCache(t, url, Options{})
				for _, key := range []string{"}x", "project:{a}", "a}b{c}", "100%", "{}", "project:é"} {
					l := constLoader(key)
					for range 2 {
						if got, err := Get(ctx, c, key, time.Minute, l.load); err != nil || got != key {
							t.Fatalf("%q: %q, %v", key, got, err)
						}
					}
					if n := l.calls.Load(); n != 1 {
						t.Errorf("%q: loader ran %d times, want 1 (fill failed?)", key, n)
					}
					if err := c.Delete(ctx, key); err != nil {
						t.Errorf("%q: delete: %v", key, err)
					}
					if cc, ok := client.(*redis.ClusterClient); ok {
						vk := c.vkey(key)
						s1, s2 := cc.ClusterKeySlot(ctx, vk).Val(), cc.ClusterKeySlot(ctx, vk+leaseSuffix).Val()
						if s1 != s2 {
							t.Errorf("%q: value in slot %d, lease in slot %d", key, s1, s2)
						}
					}
				}
				if s := c.Stats(); s.Errors != 0 {
					t.Errorf("%d errors", s.Errors)
				}
			})

			t.Run("LoaderPanicReachesCaller", func(t *testing.T) {
				t.Parallel()
				c, _ := newTestCache(t, url, Options{})
				func() {
					defer func() {
						if r := recover(); r != "boom" {
							t.Errorf("recovered %v, want the loader's panic", r)
						}
					}()
					Get(ctx, c, "project:panic", time.Minute, func(context.Context) (int, error) { panic("boom") })
				}()
				if got, err := Get(ctx, c, "project:panic", time.Minute, constLoader(7).load); err != nil || got != 7 {
					t.Errorf("after panic: %v, %v", got, err)
				}
			})
		})
	}
}

// TestListKeyInjective: no two lists share a key, whatever their scopes and parts hold.
func TestListKeyInjective(t *testing.T) {
	t.Parallel()
	keys := []string{
		ListKey([]string{"a:1"}, "projects", "x"),
		ListKey([]string{"a"}, "1:projects", "x"),
		ListKey([]string{"a:1"}, "projects:x"),
		ListKey([]string{"a:1", "b"}, "projects", "x"),
		ListKey([]string{"a", "1:b"}, "projects", "x"),
		ListKey([]string{"a:1"}, "projects", "x", ""),
		ListKey([]string{"a:1", "b"}, "projects", "x", ""),
		ListKey([]string{"a:1", "b", "x"}, "projects"),
	}
	seen := map[string]int{}
	for i, k := range keys {
		if j, ok := seen[k]; ok {
			t.Errorf("list keys %d and %d collide: %q", j, i, k)
		}
		seen[k] = i
	}
	for _, k := range []string{keys[0], keys[3]} {
		if nameOf(k) != "projects" {
			t.Errorf("metric name of %q is %q, want projects", k, nameOf(k))
		}
	}
}

func TestGetWithoutCache(t *testing.T) {
	t.Parallel()
	var c *Cache
	got, err := Get(context.Background(), c, "project:x", time.Minute, constLoader("db").load)
	if err != nil || got != "db" {
		t.Errorf("nil cache: %q, %v", got, err)
	}
	if err := c.Delete(context.Background(), "project:x"); err != nil {
		t.Error(err)
	}
	if err := c.Bump(context.Background(), "org:1"); err != nil {
		t.Error(err)
	}
	sc := []string{"org:1"}
	if got, err := GetList(context.Background(), c, ListKey(sc, "projects"), sc, time.Minute, constLoader("db").load); err != nil || got != "db" {
		t.Errorf("nil cache list: %q, %v", got, err)
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	c := New(nil, Options{})
	const ttl = time.Minute
	lo, hi := ttl, ttl
	for range 10000 {
		d := c.jittered(ttl)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 54*time.Second || hi > 66*time.Second {
		t.Errorf("jitter range [%v, %v] outside ±10%%", lo, hi)
	}
	if lo > 55*time.Second || hi < 65*time.Second {
		t.Errorf("jitter range [%v, %v] does not spread over ±10%%", lo, hi)
	}
	if d := New(nil, Options{Jitter: -1}).jittered(ttl); d != ttl {
		t.Errorf("disabled jitter gave %v", d)
	}
}

func equalProject(a, b project) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Status == b.Status && slices.Equal(a.Tags, b.Tags)
}
