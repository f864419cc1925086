package devtest

import (
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
