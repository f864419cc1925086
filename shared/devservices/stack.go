package devservices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Names of the environment variables that carry a Stack to test binaries (see Env and
// StackFromEnv).
const (
	EnvPrimaryURL      = "SCALEAPI_TEST_PRIMARY_URL"
	EnvReplicaURL      = "SCALEAPI_TEST_REPLICA_URL"
	EnvPoolerURL       = "SCALEAPI_TEST_POOLER_URL"
	EnvRedisURL        = "SCALEAPI_TEST_REDIS_URL"
	EnvRedisClusterURL = "SCALEAPI_TEST_REDIS_CLUSTER_URL"
	// EnvShards lists the further shards' URLs, space-separated PRIMARY|POOLER pairs.
	EnvShards = "SCALEAPI_TEST_SHARDS"
)

// Options selects the servers Start starts.
type Options struct {
	// Dir is the working directory; "" means a new temporary directory, removed by Stop. A given
	// Dir is kept after Stop, for its logs, and must not hold the servers of an earlier Start.
	Dir string
	// Postgres starts a PostgreSQL primary.
	Postgres bool
	// Replica starts a streaming replica of the primary (pg_basebackup -R); it implies Postgres.
	Replica bool
	// PgBouncer starts PgBouncer in transaction mode in front of the primary; it implies Postgres.
	PgBouncer bool
	// Shards starts this many more PostgreSQL primaries, each with its own PgBouncer in
	// transaction mode, for tenant sharding: the primary above is the first shard (the
	// directory's), these are the others. It implies PgBouncer.
	Shards int
	// Redis starts one standalone Redis.
	Redis bool
	// RedisCluster starts a Redis Cluster of three masters without replicas.
	RedisCluster bool
	// ClusterReplicas gives each master of the Redis Cluster a replica (six nodes), with a
	// cluster-node-timeout of 2 s so that a killed master's replica takes over within a few
	// seconds (Stack.KillClusterMaster); it implies RedisCluster.
	ClusterReplicas bool
	// Durable makes acknowledged writes survive a killed server, for fault tests: PostgreSQL
	// commits with synchronous_commit on and, with Replica, the replica is a synchronous standby
	// (a commit is acknowledged once the replica has its WAL too, as a quorum-commit storage such
	// as Aurora's acknowledges it), and the standalone Redis keeps an append-only file fsynced
	// every second, as ElastiCache's replicated nodes keep what a failed node held.
	Durable bool
	// Log receives the servers' output, each line prefixed with the server's name; nil discards
	// it. The output is written to log files in Dir either way.
	Log io.Writer
}

// Full is every server the tests use, which they pick from: the primary with its replica and
// PgBouncer, two further shards (three in all for the sharding tests), a standalone Redis and a
// Redis Cluster; Dir and Log as in Options.
func Full(dir string, log io.Writer) Options {
	return Options{
		Dir: dir, Postgres: true, Replica: true, PgBouncer: true, Shards: 2, Redis: true, RedisCluster: true, Log: log,
	}
}

// Stack is a set of running servers, or, from StackFromEnv, the addresses of servers another
// process runs. URLs of servers that were not asked for are empty.
type Stack struct {
	// Dir is the directory of the servers' files; "" for a Stack from StackFromEnv.
	Dir string
	// PrimaryURL connects directly to the primary:
	// postgres://scaleapi@127.0.0.1:PORT/postgres?sslmode=disable.
	PrimaryURL string
	// ReplicaURL connects directly to the replica (hot_standby on), same form.
	ReplicaURL string
	// PoolerURL connects through PgBouncer, to database "postgres"; any database name works.
	PoolerURL string
	// RedisURL is redis://127.0.0.1:PORT/0.
	RedisURL string
	// RedisClusterURL is in go-redis ParseClusterURL form:
	// redis://127.0.0.1:P1?addr=127.0.0.1:P2&addr=127.0.0.1:P3.
	RedisClusterURL string
	// Shards are the further shards Options.Shards asked for, in order.
	Shards []Shard

	shards        []*shardServers
	primary       *pgServer
	primarySpec   pgSpec
	replica       *pgServer
	replicaSpec   pgSpec
	pgbouncer     *proc
	pgbouncerSpec pgbouncerSpec
	redis         *proc
	redisSpec     redisSpec
	cluster       []*clusterNode
	removeDir     bool

	mu       sync.Mutex // guards the handles while Start fills them concurrently
	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{}
}

// Start starts the servers o asks for and returns when all of them accept connections. Servers
// that don't depend on each other start concurrently; the replica and PgBouncer start once the
// primary is up. If any server fails, everything started is stopped and the error names the server
// and quotes the end of its log.
//
// The stack is stopped by Stop or when ctx is done, whichever is first, so pass a context that
// lives as long as the stack should.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Shards > 0 {
		o.PgBouncer = true
	}
	if o.Replica || o.PgBouncer {
		o.Postgres = true
	}
	if o.ClusterReplicas {
		o.RedisCluster = true
	}
	bins, err := findBinaries(o)
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	s := &Stack{stopped: make(chan struct{})}
	if o.Dir == "" {
		if s.Dir, err = makeTempDir(tempPrefix + "*"); err != nil {
			return nil, err
		}
		s.removeDir = true
	} else {
		if s.Dir, err = filepath.Abs(o.Dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := s.start(ctx, o, bins, acct); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.stopped:
		}
	}()
	return s, nil
}

func (s *Stack) start(ctx context.Context, o Options, bins binaries, acct *account) error {
	if err := acct.own(s.Dir); err != nil {
		return err
	}
	if err := acct.checkReachable(s.Dir); err != nil {
		return err
	}
	for _, name := range []string{"primary", "replica", "shard-2", "redis", "cluster-1", "cluster-2", "cluster-3", "cluster-4", "cluster-5", "cluster-6"} {
		if _, err := os.Stat(filepath.Join(s.Dir, name)); err == nil {
			return fmt.Errorf("%s already holds servers' files (%s): remove them or use another Dir", s.Dir, name)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if o.Postgres {
		g.Go(func() error { return s.startPostgres(gctx, o, bins, acct) })
	}
	if o.Shards > 0 {
		s.Shards = make([]Shard, o.Shards)
		s.shards = make([]*shardServers, o.Shards)
		for i := range o.Shards {
			g.Go(func() error { return s.startShard(gctx, o, bins, acct, i) })
		}
	}
	if o.Redis {
		g.Go(func() error {
			dir := filepath.Join(s.Dir, "redis")
			if err := acct.mkdir(dir, 0o755); err != nil {
				return err
			}
			spec := redisSpec{name: "redis", bin: bins.redis, dir: dir, persist: o.Durable, log: o.Log, acct: acct}
			p, port, err := startRedisServer(gctx, spec)
			if err != nil {
				return err
			}
			spec.port = port
			s.mu.Lock()
			s.redis, s.redisSpec, s.RedisURL = p, spec, redisURL(port)
			s.mu.Unlock()
			return nil
		})
	}
	if o.RedisCluster {
		g.Go(func() error { return s.startCluster(gctx, o, bins, acct) })
	}
	return g.Wait()
}

// startPostgres starts the primary, then the replica and PgBouncer side by side.
func (s *Stack) startPostgres(ctx context.Context, o Options, bins binaries, acct *account) error {
	spec := func(name, sub string) pgSpec {
		return pgSpec{
			name: name, binDir: bins.pgBin, dataDir: filepath.Join(s.Dir, sub), sockDir: socketDir(s.Dir),
			workDir: s.Dir, logPath: filepath.Join(s.Dir, sub+".log"), log: o.Log, acct: acct,
			// Immediate shutdown: the data is thrown away, so there is nothing to checkpoint.
			stopSig: syscall.SIGQUIT,
			durable: o.Durable,
		}
	}
	primary := spec("postgres primary", "primary")
	if err := initdb(ctx, primary); err != nil {
		return err
	}
	srv, err := startPGServer(ctx, primary)
	if err != nil {
		return err
	}
	primary.port = srv.port
	s.mu.Lock()
	s.primary, s.primarySpec, s.PrimaryURL = srv, primary, srv.url
	s.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	if o.Replica {
		g.Go(func() error {
			replica := spec("postgres replica", "replica")
			if err := basebackup(gctx, replica, srv.port); err != nil {
				return err
			}
			rsrv, err := startPGServer(gctx, replica)
			if err != nil {
				return err
			}
			replica.port = rsrv.port
			s.mu.Lock()
			s.replica, s.replicaSpec, s.ReplicaURL = rsrv, replica, rsrv.url
			s.mu.Unlock()
			if o.Durable {
				return s.SetSynchronous(gctx, true)
			}
			return nil
		})
	}
	if o.PgBouncer {
		g.Go(func() error {
			spec := pgbouncerSpec{bin: bins.pgbouncer, dir: s.Dir, upstream: srv.port, log: o.Log, acct: acct}
			p, port, err := startPgBouncer(gctx, spec)
			if err != nil {
				return err
			}
			spec.port = port
			s.mu.Lock()
			s.pgbouncer, s.pgbouncerSpec, s.PoolerURL = p, spec, pgURL(port, "postgres")
			s.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// clusterNode is one server of the Redis Cluster.
type clusterNode struct {
	proc *proc
	spec redisSpec // with the port it listens on
}

// startCluster starts the cluster's servers side by side and joins them: three masters and, with
// o.ClusterReplicas, a replica of each.
func (s *Stack) startCluster(ctx context.Context, o Options, bins binaries, acct *account) error {
	n := clusterNodes
	var timeout time.Duration
	if o.ClusterReplicas {
		n, timeout = 2*clusterNodes, 2*time.Second
	}
	nodes := make([]*clusterNode, n)
	g, gctx := errgroup.WithContext(ctx)
	for i := range n {
		g.Go(func() error {
			name := fmt.Sprintf("cluster-%d", i+1)
			dir := filepath.Join(s.Dir, name)
			if err := acct.mkdir(dir, 0o755); err != nil {
				return err
			}
			spec := redisSpec{name: "redis " + name, bin: bins.redis, dir: dir, cluster: true, nodeTimeout: timeout, log: o.Log, acct: acct}
			p, port, err := startRedisServer(gctx, spec)
			if err != nil {
				return err
			}
			spec.port = port
			nodes[i] = &clusterNode{proc: p, spec: spec}
			return nil
		})
	}
	err := g.Wait()
	s.mu.Lock()
	for _, node := range nodes {
		if node != nil {
			s.cluster = append(s.cluster, node)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	ports := make([]int, n)
	for i, node := range nodes {
		ports[i] = node.spec.port
	}
	if err := formCluster(ctx, ports[:clusterNodes], ports[clusterNodes:]); err != nil {
		return err
	}
	s.mu.Lock()
	s.RedisClusterURL = clusterURL(ports[:clusterNodes])
	s.mu.Unlock()
	return nil
}

// procs returns the handles of every server process the stack started.
func (s *Stack) procs() []*proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []*proc
	for _, srv := range []*pgServer{s.primary, s.replica} {
		if srv != nil {
			ps = append(ps, srv.proc)
		}
	}
	for _, p := range []*proc{s.pgbouncer, s.redis} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	for _, sh := range s.shards {
		if sh == nil {
			continue
		}
		for _, p := range []*proc{sh.pgbouncer, sh.primary} {
			if p != nil {
				ps = append(ps, p)
			}
		}
	}
	for _, node := range s.cluster {
		ps = append(ps, node.proc)
	}
	return ps
}

// Stop stops every server the stack started, waits until they have exited (killing what does not
// exit in time, children included), and removes Dir if Start created it. It returns an error if a
// server had crashed before Stop. It is safe to call more than once and from several goroutines;
// on a Stack from StackFromEnv it does nothing.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		// The primary goes last, so that the replica and PgBouncer don't log its disappearance
		// as an error.
		var errs []error
		var mu sync.Mutex
		var wg sync.WaitGroup
		var primary *proc
		for _, p := range s.procs() {
			if s.primary != nil && p == s.primary.proc {
				primary = p
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if primary != nil {
			errs = append(errs, primary.stop())
		}
		if s.removeDir {
			errs = append(errs, os.RemoveAll(s.Dir))
		}
		s.stopErr = errors.Join(errs...)
		if s.stopped != nil {
			close(s.stopped)
		}
	})
	return s.stopErr
}

// Env returns the stack's URLs as KEY=value lines (EnvPrimaryURL and the others), for the
// environment of a child process such as `go test`; URLs of servers not started are left out.
func (s *Stack) Env() []string {
	var env []string
	for _, kv := range [][2]string{
		{EnvPrimaryURL, s.PrimaryURL},
		{EnvReplicaURL, s.ReplicaURL},
		{EnvPoolerURL, s.PoolerURL},
		{EnvRedisURL, s.RedisURL},
		{EnvRedisClusterURL, s.RedisClusterURL},
		{EnvShards, formatShards(s.Shards)},
	} {
		if kv[1] != "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}

// StackFromEnv returns the stack another process (cmd/devservices) started and announced through
// the variables Env sets; ok is false if none of them is set. The Stack owns no process: its Stop
// does nothing. It reads the environment directly, unlike the rest of the project, because those
// variables are the interface between `make test` and the test binaries it runs.
func StackFromEnv() (*Stack, bool) {
	s := &Stack{
		PrimaryURL:      os.Getenv(EnvPrimaryURL),
		ReplicaURL:      os.Getenv(EnvReplicaURL),
		PoolerURL:       os.Getenv(EnvPoolerURL),
		RedisURL:        os.Getenv(EnvRedisURL),
		RedisClusterURL: os.Getenv(EnvRedisClusterURL),
		Shards:          parseShards(os.Getenv(EnvShards)),
	}
	ok := s.PrimaryURL != "" || s.ReplicaURL != "" || s.PoolerURL != "" || s.RedisURL != "" || s.RedisClusterURL != "" || len(s.Shards) > 0
	return s, ok
}
