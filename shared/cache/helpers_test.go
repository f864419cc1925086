package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// backend is one kind of Redis the cache must work against.
type backend struct {
	name string
	url  func(t testing.TB) string
}

// backends is the table every behaviour test runs over.
var backends = []backend{
	{"Standalone", func(t testing.TB) string { s, _ := stackURLs(t); return s }},
	{"Cluster", func(t testing.TB) string { _, c := stackURLs(t); return c }},
}

// functionalTimeout replaces the production timeouts in behaviour tests: on a shared 2-core
// machine a 50 ms read can time out under load, which the cache (correctly) hides as a miss and
// which would make counts in these tests flaky. The outage tests use the real defaults.
const functionalTimeout = 2 * time.Second

// newTestClient connects to url with relaxed timeouts and closes the client after the test.
func newTestClient(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	client, err := NewClient(ClientOptions{
		URL:         url,
		DialTimeout: functionalTimeout, ReadTimeout: functionalTimeout, WriteTimeout: functionalTimeout,
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping %s: %v", url, err)
	}
	return client
}

// newTestCache returns a Cache over a fresh client to url, with a key prefix of its own so tests
// can share one Redis and run in parallel.
func newTestCache(t testing.TB, url string, o Options) (*Cache, redis.UniversalClient) {
	t.Helper()
	client := newTestClient(t, url)
	o.Prefix = uniquePrefix(t)
	return New(client, o), client
}

func uniquePrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test:" + strings.ReplaceAll(t.Name(), "/", ".") + ":" + hex.EncodeToString(b[:]) + ":"
}

// project is a typical cached entity.
type project struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Status string   `json:"status"`
	Tags   []string `json:"tags"`
}

// loader is a load function that counts its calls and returns what its source holds.
type loader[T any] struct {
	calls atomic.Int64
	fn    func(ctx context.Context) (T, error)
}

func (l *loader[T]) load(ctx context.Context) (T, error) {
	l.calls.Add(1)
	return l.fn(ctx)
}

func constLoader[T any](v T) *loader[T] {
	return &loader[T]{fn: func(context.Context) (T, error) { return v, nil }}
}

// recorder is an Observer that remembers events.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) CacheHit(_ context.Context, name string)  { r.add("hit:" + name) }
func (r *recorder) CacheMiss(_ context.Context, name string) { r.add("miss:" + name) }
func (r *recorder) CacheError(_ context.Context, name string, err error) {
	r.add("error:" + name)
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vkey is the Redis key of logical key under c's current epoch.
func (c *Cache) vkey(key string) string {
	st, _ := c.keyPrefix(context.Background())
	return c.valueKey(st.prefix, key)
}

// gkey is the Redis key of scope's generation under c's current epoch.
func (c *Cache) gkey(scope string) string {
	st, _ := c.keyPrefix(context.Background())
	return c.genKey(st.prefix, scope)
}
