package devservices

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server names one server of a Stack for the fault methods below, which a fault test (cmd/loadgen
// chaos) uses to kill, pause, restart and fail over the stack's servers while load runs.
type Server string

// The servers a fault can hit. The Redis Cluster's nodes have methods of their own.
const (
	ServerPrimary   Server = "primary"
	ServerReplica   Server = "replica"
	ServerPgBouncer Server = "pgbouncer"
	ServerRedis     Server = "redis"
)

// faultWait bounds each fault method's wait for the stack to settle.
const faultWait = 30 * time.Second

// handle returns the running process of server name.
func (s *Stack) handle(name Server) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *proc
	switch name {
	case ServerPrimary:
		if s.primary != nil {
			p = s.primary.proc
		}
	case ServerReplica:
		if s.replica != nil {
			p = s.replica.proc
		}
	case ServerPgBouncer:
		p = s.pgbouncer
	case ServerRedis:
		p = s.redis
	default:
		return nil, fmt.Errorf("devservices: no server %q", name)
	}
	if p == nil {
		return nil, fmt.Errorf("devservices: %s was not started", name)
	}
	return p, nil
}

// Kill kills server name and every process of its group at once (SIGKILL), as a crash of its host
// would, and returns when they are gone. Stop does not count a killed server as crashed.
func (s *Stack) Kill(name Server) error {
	p, err := s.handle(name)
	if err != nil {
		return err
	}
	p.kill()
	return nil
}

// Pause stops server name's processes (SIGSTOP): connections stay open and nothing answers, as a
// server stalled by its host does. Resume continues them.
func (s *Stack) Pause(name Server) error { return s.signal(name, syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Stack) Resume(name Server) error { return s.signal(name, syscall.SIGCONT) }

func (s *Stack) signal(name Server, sig syscall.Signal) error {
	p, err := s.handle(name)
	if err != nil {
		return err
	}
	if err := syscall.Kill(-p.pid(), sig); err != nil {
		return fmt.Errorf("devservices: %s: %w", name, err)
	}
	return nil
}

// Restart starts a killed server again on the port and the data it had, and returns when it
// accepts connections: a primary runs crash recovery, a replica resumes streaming from its slot,
// PgBouncer comes back with an empty pool, and a Durable Redis loads its append-only file.
func (s *Stack) Restart(ctx context.Context, name Server) error {
	p, err := s.handle(name)
	if err != nil {
		return err
	}
	select {
	case <-p.exited:
	default:
		return fmt.Errorf("devservices: restart %s: it is still running", name)
	}
	switch name {
	case ServerPrimary, ServerReplica:
		s.mu.Lock()
		spec := s.primarySpec
		if name == ServerReplica {
			spec = s.replicaSpec
		}
		s.mu.Unlock()
		srv, err := startPGServer(ctx, spec)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if name == ServerPrimary {
			s.primary = srv
		} else {
			s.replica = srv
		}
		s.mu.Unlock()
	case ServerPgBouncer:
		s.mu.Lock()
		spec := s.pgbouncerSpec
		s.mu.Unlock()
		np, _, err := startPgBouncer(ctx, spec)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.pgbouncer = np
		s.mu.Unlock()
	case ServerRedis:
		s.mu.Lock()
		spec := s.redisSpec
		s.mu.Unlock()
		np, _, err := startRedisServer(ctx, spec)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.redis = np
		s.mu.Unlock()
	}
	return nil
}

// SetSynchronous makes the replica the primary's synchronous standby (on) or lets the primary
// commit without it (off), as a failover manager does when the standby fails and when it is back
// (Patroni's synchronous_mode): with a dead synchronous standby every commit would wait. Only a
// Durable stack's commits wait for the standby; the setting is written with ALTER SYSTEM and
// takes effect at once, releasing commits that were waiting.
func (s *Stack) SetSynchronous(ctx context.Context, on bool) error {
	conn, err := connectSimple(ctx, s.PrimaryURL)
	if err != nil {
		return fmt.Errorf("devservices: synchronous standby: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	stmt := "ALTER SYSTEM RESET synchronous_standby_names"
	if on {
		stmt = "ALTER SYSTEM SET synchronous_standby_names = '*'"
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("devservices: synchronous standby: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("devservices: synchronous standby: %w", err)
	}
	if !on {
		return nil
	}
	// Until the standby has reported in under the new setting, commits would be acknowledged
	// without it.
	ctx, cancel := context.WithTimeout(ctx, faultWait)
	defer cancel()
	for {
		var sync bool
		err := conn.QueryRow(ctx, "SELECT count(*) > 0 FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'").Scan(&sync)
		if err != nil {
			return fmt.Errorf("devservices: synchronous standby: %w", err)
		}
		if sync {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devservices: the replica did not become a synchronous standby: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Failover promotes the replica after the primary was killed, and points PgBouncer at it (its
// configuration rewritten and reloaded), as RDS Proxy follows an Aurora failover: clients keep
// their pooler connections and only transactions in flight fail. Afterwards PrimaryURL is the
// promoted server's URL and ReplicaURL is empty: the stack has no standby left.
func (s *Stack) Failover(ctx context.Context) error {
	old, err := s.handle(ServerPrimary)
	if err != nil {
		return err
	}
	select {
	case <-old.exited:
	default:
		return errors.New("devservices: failover: the primary is still running (Kill it first)")
	}
	if _, err := s.handle(ServerReplica); err != nil {
		return fmt.Errorf("devservices: failover: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, faultWait)
	defer cancel()
	conn, err := connectSimple(ctx, s.ReplicaURL)
	if err != nil {
		return fmt.Errorf("devservices: failover: %w", err)
	}
	var promoted bool
	err = conn.QueryRow(ctx, "SELECT pg_promote(true, 30)").Scan(&promoted)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil || !promoted {
		return fmt.Errorf("devservices: failover: promote the replica: %v", err)
	}
	s.mu.Lock()
	s.primary, s.primarySpec = s.replica, s.replicaSpec
	s.replica = nil
	s.PrimaryURL, s.ReplicaURL = s.primary.url, ""
	bouncer, spec := s.pgbouncer, s.pgbouncerSpec
	if bouncer != nil {
		spec.upstream = s.primary.port
		s.pgbouncerSpec = spec
	}
	s.mu.Unlock()
	if bouncer == nil {
		return nil
	}
	if _, err := spec.writeConfig(spec.port); err != nil {
		return fmt.Errorf("devservices: failover: %w", err)
	}
	// SIGHUP is PgBouncer's reload: a database whose address changed gets new server
	// connections.
	if err := syscall.Kill(bouncer.pid(), syscall.SIGHUP); err != nil {
		return fmt.Errorf("devservices: failover: reload pgbouncer: %w", err)
	}
	return waitReady(ctx, bouncer, func(ctx context.Context) error {
		c, err := connectSimple(ctx, pgURL(spec.port, "postgres"))
		if err != nil {
			return err
		}
		defer c.Close(context.WithoutCancel(ctx))
		var standby bool
		if err := c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
			return err
		}
		if standby {
			return errors.New("pgbouncer still reaches a standby")
		}
		return nil
	})
}

// Pool sizes of pgbouncerConfig: PgBouncer opens at most poolSize+reservePool server
// connections per database and user, the stack's connection budget.
const (
	poolSize    = 20
	reservePool = 5
)

// SetPoolerBudget changes PgBouncer's connection budget at run time, through its admin console,
// to n server connections (no reserve), as a deployment whose Lambda environments outnumber the
// proxy's connections meets it; n <= 0 restores the configured budget. Queries beyond the budget
// queue in PgBouncer, and fail after query_wait_timeout.
func (s *Stack) SetPoolerBudget(ctx context.Context, n int) error {
	s.mu.Lock()
	port := s.pgbouncerSpec.port
	s.mu.Unlock()
	if port == 0 {
		return errors.New("devservices: PgBouncer was not started")
	}
	c, err := connectSimple(ctx, pgURL(port, "pgbouncer"))
	if err != nil {
		return fmt.Errorf("devservices: pgbouncer admin: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	size, reserve := n, 0
	if n <= 0 {
		size, reserve = poolSize, reservePool
	}
	for _, stmt := range []string{fmt.Sprintf("SET default_pool_size = %d", size), fmt.Sprintf("SET reserve_pool_size = %d", reserve)} {
		if _, err := c.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("devservices: pgbouncer admin: %s: %w", stmt, err)
		}
	}
	return nil
}

// ClusterNodes returns the addresses of the Redis Cluster's nodes, masters first.
func (s *Stack) ClusterNodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]string, len(s.cluster))
	for i, n := range s.cluster {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.spec.port))
	}
	return addrs
}

// KillClusterMaster kills the first cluster node that is a master and has a replica, and returns
// when a replica has taken over its slots and the cluster is ok again, as an ElastiCache shard
// fails over; it returns the killed node's index in ClusterNodes, for RestartClusterNode.
func (s *Stack) KillClusterMaster(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, faultWait)
	defer cancel()
	addrs := s.ClusterNodes()
	victim := -1
	for i, addr := range addrs {
		repl, err := nodeInfo(ctx, addr, "replication")
		if err != nil {
			return -1, err
		}
		if strings.Contains(repl, "role:master") && !strings.Contains(repl, "connected_slaves:0") {
			victim = i
			break
		}
	}
	if victim < 0 {
		return -1, errors.New("devservices: no cluster master has a replica (start the stack with ClusterReplicas)")
	}
	id, err := nodeCommand(ctx, addrs[victim], "CLUSTER", "MYID")
	if err != nil {
		return -1, err
	}
	s.mu.Lock()
	p := s.cluster[victim].proc
	s.mu.Unlock()
	p.kill()
	// Failed over: every surviving node has marked the victim failed (not just suspected,
	// "fail?"), holds it to no slots, and serves all slots again. Right after the kill the
	// cluster still reports ok, until the node timeout has passed.
	err = waitCluster(ctx, addrs, victim, func(info, nodes string) bool {
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return false
		}
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) >= 8 && f[0] == id {
				// id addr flags master ping pong epoch link [slots...]
				return strings.Contains(f[2], "fail") && !strings.Contains(f[2], "fail?") && len(f) == 8
			}
		}
		return false
	})
	return victim, err
}

// RestartClusterNode starts a killed cluster node again on its port and directory (its
// nodes.conf), where it rejoins as a replica of the node that took over, and returns when every
// node reports the cluster ok and the restarted node's replication link is up.
func (s *Stack) RestartClusterNode(ctx context.Context, i int) error {
	ctx, cancel := context.WithTimeout(ctx, faultWait)
	defer cancel()
	s.mu.Lock()
	if i < 0 || i >= len(s.cluster) {
		s.mu.Unlock()
		return fmt.Errorf("devservices: no cluster node %d", i)
	}
	node := s.cluster[i]
	s.mu.Unlock()
	select {
	case <-node.proc.exited:
	default:
		return fmt.Errorf("devservices: cluster node %d is still running", i)
	}
	p, _, err := startRedisServer(ctx, node.spec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	node.proc = p
	s.mu.Unlock()
	addrs := s.ClusterNodes()
	if err := waitCluster(ctx, addrs, -1, func(info, _ string) bool {
		return strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_ok:16384") &&
			!strings.Contains(info, "cluster_slots_fail:1") && !strings.Contains(info, "cluster_slots_pfail:1")
	}); err != nil {
		return err
	}
	for {
		repl, err := nodeInfo(ctx, addrs[i], "replication")
		if err == nil && strings.Contains(repl, "master_link_status:up") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devservices: cluster node %d did not rejoin as a replica: %w (%v)", i, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitCluster polls CLUSTER INFO and CLUSTER NODES on every node but skip until ok accepts every
// node's answers.
func waitCluster(ctx context.Context, addrs []string, skip int, ok func(info, nodes string) bool) error {
	for {
		all, last := true, ""
		for i, addr := range addrs {
			if i == skip {
				continue
			}
			info, err := nodeCommand(ctx, addr, "CLUSTER", "INFO")
			var nodes string
			if err == nil {
				nodes, err = nodeCommand(ctx, addr, "CLUSTER", "NODES")
			}
			if err != nil || !ok(info, nodes) {
				all, last = false, fmt.Sprintf("%s: %s %v", addr, info, err)
				break
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devservices: redis cluster not ok: %w; last answer: %s", ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func nodeInfo(ctx context.Context, addr, section string) (string, error) {
	return nodeCommand(ctx, addr, "INFO", section)
}

// nodeCommand sends one command to one node over a short-lived connection without retries.
func nodeCommand(ctx context.Context, addr string, args ...any) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	return c.Do(ctx, args...).Text()
}
