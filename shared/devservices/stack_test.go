package devservices

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// startFull starts every server and stops it at the end of the test.
func startFull(t *testing.T) *Stack {
	t.Helper()
	began := time.Now()
	s, err := Start(context.Background(), Options{Postgres: true, Replica: true, PgBouncer: true, Redis: true, RedisCluster: true})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("full stack started in %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { s.Stop() })
	return s
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestStack(t *testing.T) {
	s := startFull(t)
	ctx := context.Background()

	t.Run("ReplicaReadsPrimaryWritesAfterWaitReplay", func(t *testing.T) {
		primary := connect(t, s.PrimaryURL)
		if _, err := primary.Exec(ctx, "CREATE TABLE replicated (v text); INSERT INTO replicated VALUES ('written on primary')"); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if err := WaitReplay(ctx, s.PrimaryURL, s.ReplicaURL); err != nil {
			t.Fatal(err)
		}
		t.Logf("WaitReplay took %v", time.Since(began).Round(time.Microsecond))
		replica := connect(t, s.ReplicaURL)
		var v string
		if err := replica.QueryRow(ctx, "SELECT v FROM replicated").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "written on primary" {
			t.Fatalf("replica read %q", v)
		}
		var inRecovery bool
		if err := replica.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || !inRecovery {
			t.Fatalf("replica: pg_is_in_recovery() = %v, %v; want true", inRecovery, err)
		}
	})

	t.Run("WaitReplayRejectsAPrimaryAsReplica", func(t *testing.T) {
		err := WaitReplay(ctx, s.PrimaryURL, s.PrimaryURL)
		if err == nil || !strings.Contains(err.Error(), "not in recovery") {
			t.Fatalf("WaitReplay(primary, primary) = %v, want a not-in-recovery error", err)
		}
	})

	t.Run("PgBouncerConfigIsTransactionMode", func(t *testing.T) {
		// The admin console speaks only the simple query protocol.
		admin, err := pgconn.Connect(ctx, strings.Replace(s.PoolerURL, "/postgres?", "/pgbouncer?", 1))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		res, err := admin.Exec(ctx, "SHOW CONFIG").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, row := range res[0].Rows {
			got[string(row[0])] = string(row[1])
		}
		for key, want := range map[string]string{
			"pool_mode": "transaction", "max_client_conn": "1000", "default_pool_size": "20",
			"min_pool_size": "5", "reserve_pool_size": "5", "auth_type": "trust",
			"listen_addr": "127.0.0.1", "ignore_startup_parameters": "extra_float_digits",
		} {
			if got[key] != want {
				t.Errorf("SHOW CONFIG %s = %q, want %q", key, got[key], want)
			}
		}
	})

	t.Run("PgBouncerSharesServerConnectionsBetweenIdleClients", func(t *testing.T) {
		// More idle clients than the pool (20) and reserve (5) hold server connections: in
		// session mode the 26th client's query would wait for a server connection forever; in
		// transaction mode a client holds one only during its transaction.
		var clients []*pgconn.PgConn
		defer func() {
			for _, c := range clients {
				c.Close(ctx)
			}
		}()
		for range 40 {
			c, err := pgconn.Connect(ctx, s.PoolerURL)
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for i, c := range clients {
			if _, err := c.Exec(qctx, "SELECT 1").ReadAll(); err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
		}
	})

	t.Run("PoolerReachesAnyDatabase", func(t *testing.T) {
		primary := connect(t, s.PrimaryURL)
		if _, err := primary.Exec(ctx, "CREATE DATABASE pooled_elsewhere"); err != nil {
			t.Fatal(err)
		}
		c, err := pgconn.Connect(ctx, strings.Replace(s.PoolerURL, "/postgres?", "/pooled_elsewhere?", 1))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		res, err := c.Exec(ctx, "SELECT current_database()").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res[0].Rows[0][0]); got != "pooled_elsewhere" {
			t.Fatalf("current_database() = %q", got)
		}
	})

	t.Run("PoolerAcceptsRolesCreatedByTests", func(t *testing.T) {
		primary := connect(t, s.PrimaryURL)
		if _, err := primary.Exec(ctx, "CREATE ROLE pooled_app LOGIN"); err != nil {
			t.Fatal(err)
		}
		c, err := pgconn.Connect(ctx, strings.Replace(s.PoolerURL, Superuser+"@", "pooled_app@", 1))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		res, err := c.Exec(ctx, "SELECT current_user").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res[0].Rows[0][0]); got != "pooled_app" {
			t.Fatalf("current_user = %q", got)
		}
	})

	t.Run("RedisAnswers", func(t *testing.T) {
		opt, err := redis.ParseURL(s.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RedisClusterStateOK", func(t *testing.T) {
		opt, err := redis.ParseClusterURL(s.RedisClusterURL)
		if err != nil {
			t.Fatal(err)
		}
		if len(opt.Addrs) != clusterNodes {
			t.Fatalf("cluster URL %s has %d addresses", s.RedisClusterURL, len(opt.Addrs))
		}
		c := redis.NewClusterClient(opt)
		defer c.Close()
		err = c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
			info, err := n.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
				return errors.New(n.Options().Addr + ": " + info)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Keys in all slots work: each node must accept its share.
		for i := range 100 {
			key := "key" + string(rune('a'+i%26)) + strings.Repeat("x", i)
			if err := c.Set(ctx, key, i, 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", key, err)
			}
		}
	})

	t.Run("EnvRoundTripsThroughStackFromEnv", func(t *testing.T) {
		for _, kv := range s.Env() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		got, ok := StackFromEnv()
		if !ok {
			t.Fatal("StackFromEnv: ok = false")
		}
		if got.PrimaryURL != s.PrimaryURL || got.ReplicaURL != s.ReplicaURL || got.PoolerURL != s.PoolerURL ||
			got.RedisURL != s.RedisURL || got.RedisClusterURL != s.RedisClusterURL {
			t.Fatalf("StackFromEnv = %+v, want the URLs of %+v", got, s)
		}
		if err := got.Stop(); err != nil {
			t.Fatalf("Stop on a stack from the environment: %v", err)
		}
	})

	t.Run("StopLeavesNoProcess", func(t *testing.T) {
		procs := s.procs()
		if len(procs) != 7 {
			t.Fatalf("%d server processes, want 7 (primary, replica, pgbouncer, redis, 3 cluster nodes)", len(procs))
		}
		for _, p := range procs {
			if err := syscall.Kill(-p.pid(), 0); err != nil {
				t.Fatalf("%s (group %d) not running before Stop: %v", p.name, p.pid(), err)
			}
		}
		if err := s.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		for _, p := range procs {
			if err := syscall.Kill(-p.pid(), 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s (group %d) still has processes after Stop: %v", p.name, p.pid(), err)
			}
		}
		if err := s.Stop(); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
	})
}
