package devservices

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// TestFaults drives every fault method on a Durable stack, in the order a chaos run uses them,
// and checks after each that what was acknowledged before it is still there and that the stack
// serves again on the same addresses.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	began := time.Now()
	s, err := Start(ctx, Options{Replica: true, PgBouncer: true, Redis: true, ClusterReplicas: true, Durable: true})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("durable stack started in %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	// insert and count go through PgBouncer on a fresh connection each time, as a function
	// after a fault would.
	pooled := func(f func(c *pgx.Conn) error) error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := connectSimple(cctx, s.PoolerURL)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		return f(c)
	}
	insert := func(v string) error {
		return pooled(func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "INSERT INTO acked VALUES ($1)", v)
			return err
		})
	}
	count := func() (n int, err error) {
		err = pooled(func(c *pgx.Conn) error { return c.QueryRow(ctx, "SELECT count(*) FROM acked").Scan(&n) })
		return n, err
	}
	if err := pooled(func(c *pgx.Conn) error { _, err := c.Exec(ctx, "CREATE TABLE acked (v text)"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := insert("before any fault"); err != nil {
		t.Fatal(err)
	}

	t.Run("ReplicaIsSynchronous", func(t *testing.T) {
		c := connect(t, s.PrimaryURL)
		var state string
		if err := c.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication").Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != "sync" {
			t.Fatalf("replica's sync_state = %q, want sync", state)
		}
	})

	t.Run("ReplicaKilledThenBack", func(t *testing.T) {
		if err := s.Kill(ServerReplica); err != nil {
			t.Fatal(err)
		}
		// With the synchronous standby gone a commit waits; switching it off releases it.
		done := make(chan error, 1)
		go func() { done <- insert("while the replica is down") }()
		select {
		case err := <-done:
			t.Fatalf("a commit returned (%v) while its synchronous standby was dead", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := s.SetSynchronous(ctx, false); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("the waiting commit: %v", err)
		}
		if err := s.Restart(ctx, ServerReplica); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSynchronous(ctx, true); err != nil {
			t.Fatal(err)
		}
		if err := WaitReplay(ctx, s.PrimaryURL, s.ReplicaURL); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("PgBouncerKilledThenBack", func(t *testing.T) {
		if err := s.Kill(ServerPgBouncer); err != nil {
			t.Fatal(err)
		}
		if err := insert("while pgbouncer is down"); err == nil {
			t.Fatal("an insert through a killed PgBouncer succeeded")
		}
		if err := s.Restart(ctx, ServerPgBouncer); err != nil {
			t.Fatal(err)
		}
		if err := insert("after pgbouncer is back"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RedisKilledKeepsItsDataPausedStalls", func(t *testing.T) {
		opt, err := redis.ParseURL(s.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		opt.MaxRetries, opt.ReadTimeout = -1, 200*time.Millisecond
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		if err := rdb.Set(ctx, "acked", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Kill(ServerRedis); err != nil {
			t.Fatal(err)
		}
		if err := s.Restart(ctx, ServerRedis); err != nil {
			t.Fatal(err)
		}
		if v, err := rdb.Get(ctx, "acked").Result(); err != nil || v != "v" {
			t.Fatalf("after a restart GET acked = %q, %v; want the value the append-only file kept", v, err)
		}
		if err := s.Pause(ServerRedis); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Get(ctx, "acked").Err(); err == nil {
			t.Error("a paused Redis answered")
		}
		if err := s.Resume(ServerRedis); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Get(ctx, "acked").Err(); err != nil {
			t.Errorf("after Resume: %v", err)
		}
	})

	t.Run("ClusterMasterFailsOver", func(t *testing.T) {
		addrs := s.ClusterNodes()
		if len(addrs) != 2*clusterNodes {
			t.Fatalf("%d cluster nodes, want %d", len(addrs), 2*clusterNodes)
		}
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		defer rdb.Close()
		keys := make([]string, 30)
		for i := range keys {
			keys[i] = fmt.Sprintf("acked-%d", i)
			if err := rdb.Set(ctx, keys[i], i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		// Replication is asynchronous: WAIT until every master's replica has the keys.
		if err := rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Do(ctx, "WAIT", 1, 5000).Err()
		}); err != nil {
			t.Fatal(err)
		}
		victim, err := s.KillClusterMaster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rdb.ReloadState(ctx)
		for i, k := range keys {
			var n int
			var err error
			for range 50 { // the client learns the new topology on its next MOVED or refresh
				if n, err = rdb.Get(ctx, k).Int(); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil || n != i {
				t.Fatalf("after the failover GET %s = %d, %v", k, n, err)
			}
		}
		if err := s.RestartClusterNode(ctx, victim); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("PrimaryKilledReplicaPromoted", func(t *testing.T) {
		if err := insert("last before the failover"); err != nil {
			t.Fatal(err)
		}
		want, err := count()
		if err != nil {
			t.Fatal(err)
		}
		oldPrimary := s.PrimaryURL
		if err := s.Kill(ServerPrimary); err != nil {
			t.Fatal(err)
		}
		if err := s.Failover(ctx); err != nil {
			t.Fatal(err)
		}
		if s.PrimaryURL == oldPrimary || s.ReplicaURL != "" {
			t.Fatalf("after Failover PrimaryURL = %s (was %s), ReplicaURL = %q", s.PrimaryURL, oldPrimary, s.ReplicaURL)
		}
		// Every commit the old primary acknowledged was on its synchronous standby.
		got, err := count()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("after the failover %d rows, want the %d acknowledged", got, want)
		}
		if err := insert("after the failover"); err != nil {
			t.Fatal(err)
		}
		if err := s.Failover(ctx); err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("a second Failover with no standby left = %v, want an error", err)
		}
	})
}
