package auth

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/devservices/devtest"
)

// TestMain starts the real Redis servers (standalone and cluster) for the session tests.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// redisTargets returns a client for the standalone Redis and one for the cluster, so that every
// session test also proves the keys of a session share a slot.
func redisTargets(t *testing.T) map[string]redis.UniversalClient {
	t.Helper()
	st := devtest.Services(t)
	opt, err := redis.ParseURL(st.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	copt, err := redis.ParseClusterURL(st.RedisClusterURL)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]redis.UniversalClient{
		"Standalone": redis.NewClient(opt),
		"Cluster":    redis.NewClusterClient(copt),
	}
	for name, c := range clients {
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("%s redis at the harness's address does not answer: %v", name, err)
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	return clients
}

// newRedis returns a second, independent client to the same server: what another execution
// environment would hold.
func newRedis(t *testing.T, like redis.UniversalClient) redis.UniversalClient {
	t.Helper()
	var c redis.UniversalClient
	switch v := like.(type) {
	case *redis.Client:
		c = redis.NewClient(v.Options())
	case *redis.ClusterClient:
		c = redis.NewClusterClient(v.Options())
	default:
		t.Fatalf("unexpected client %T", like)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// deadRedis returns a client to a port nothing listens on, with short timeouts.
func deadRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100e6})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
