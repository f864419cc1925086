package cache

import (
	"context"
	"os"
	"testing"

	"scaleapi/shared/devservices"
	"scaleapi/shared/devservices/devtest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// stackURLs returns the shared stack's standalone and cluster Redis.
func stackURLs(t testing.TB) (standalone, cluster string) {
	t.Helper()
	s := devtest.Services(t)
	return s.RedisURL, s.RedisClusterURL
}

// startOwnRedis starts a standalone Redis that the test may stop; it is stopped after the test
// in any case.
func startOwnRedis(t testing.TB) *devservices.Redis {
	t.Helper()
	r, err := devservices.StartRedis(context.Background(), "")
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	t.Cleanup(func() { r.Stop() })
	return r
}
