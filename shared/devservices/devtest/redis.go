package devtest

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Redis returns a new client on the stack's standalone Redis, closed when t ends. Each call is
// a client of its own, as another execution environment holds.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(Services(t).RedisURL)
	if err != nil {
		t.Fatalf("devtest: redis url: %v", err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// RedisCluster returns a new client on the stack's Redis Cluster, closed when t ends.
func RedisCluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	opt, err := redis.ParseClusterURL(Services(t).RedisClusterURL)
	if err != nil {
		t.Fatalf("devtest: redis cluster url: %v", err)
	}
	c := redis.NewClusterClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// RoundTrips is a go-redis hook that counts what a client sends to Redis: each single command
// and each pipeline (on a cluster, a pipeline split over several nodes) counts one. Tests that
// pin how many round trips a request costs add it with client.AddHook(&trips).
type RoundTrips struct{ n atomic.Int64 }

// N returns the round trips counted so far.
func (c *RoundTrips) N() int64 { return c.n.Load() }

// DialHook passes dials through uncounted.
func (c *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts a single command.
func (c *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}

// ProcessPipelineHook counts a pipeline (or transaction) once.
func (c *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// Reset starts the count again from zero.
func (c *RoundTrips) Reset() { c.n.Store(0) }
