package cache

// Temporary stand-in for scaleapi/shared/devservices/devtest until it lands.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(m.Run()) }

func stackURLs(t testing.TB) (standalone, cluster string) {
	t.Helper()
	standalone, cluster = os.Getenv("CACHE_DEV_REDIS_URL"), os.Getenv("CACHE_DEV_REDIS_CLUSTER_URL")
	if standalone == "" || cluster == "" {
		t.Fatal("CACHE_DEV_REDIS_URL / CACHE_DEV_REDIS_CLUSTER_URL not set")
	}
	return standalone, cluster
}

type ownRedis struct {
	URL string
	cmd *exec.Cmd
}

func (r *ownRedis) Stop() error {
	_ = r.cmd.Process.Kill()
	_, err := r.cmd.Process.Wait()
	return err
}

func startOwnRedis(t testing.TB) *ownRedis {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &ownRedis{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), cmd: cmd}
	t.Cleanup(func() { r.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("redis did not start")
	return nil
}
