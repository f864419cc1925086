package devservices

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisSpec describes one redis-server.
type redisSpec struct {
	name    string
	bin     string
	dir     string // --dir: the server's working directory, owned by acct
	cluster bool
	// persist keeps the data in dir across restarts (append-only file); otherwise nothing is
	// written to disk.
	persist bool
	// port is the port to listen on; 0 picks a free one (a restart passes the port it had).
	port int
	// nodeTimeout is a cluster node's cluster-node-timeout; 0 means 5 s.
	nodeTimeout time.Duration
	logPath     string // "": dir/redis.log
	log         io.Writer
	acct        *account
}

// startRedisServer starts redis-server on spec.port, or on a free port, and waits until it
// answers PING, retrying on another free port if the port was taken before the server bound it.
func startRedisServer(ctx context.Context, spec redisSpec) (*proc, int, error) {
	for attempt := 1; ; attempt++ {
		port, err := spec.port, error(nil)
		if port == 0 {
			if port, err = redisPort(spec.cluster); err != nil {
				return nil, 0, err
			}
		}
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", spec.dir,
			"--daemonize", "no",
			"--logfile", "",
			// No RDB snapshots either way: test data lives as long as the server, and
			// persistent data is in the append-only file.
			"--save", "",
		}
		if spec.persist {
			// fsync once a second, as ElastiCache's own AOF did: a crash loses at most the last
			// second, a clean stop (SIGTERM) nothing. The pid file lets the next start tell a
			// server still running on the directory from one that died.
			args = append(args, "--appendonly", "yes", "--appendfsync", "everysec",
				"--pidfile", filepath.Join(spec.dir, redisPidFile))
		} else {
			args = append(args, "--appendonly", "no")
		}
		if spec.cluster {
			timeout := spec.nodeTimeout
			if timeout <= 0 {
				timeout = 5 * time.Second
			}
			args = append(args,
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", strconv.FormatInt(timeout.Milliseconds(), 10),
			)
		}
		logPath := spec.logPath
		if logPath == "" {
			logPath = filepath.Join(spec.dir, "redis.log")
		}
		p, err := startProc(procSpec{
			name: spec.name, path: spec.bin, args: args,
			dir: spec.dir, logPath: logPath, log: spec.log, acct: spec.acct,
			stopSig: syscall.SIGTERM,
		})
		if err != nil {
			return nil, 0, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err = waitReady(ctx, p, func(ctx context.Context) error { return pingRedis(ctx, addr) })
		if err == nil {
			return p, port, nil
		}
		p.kill()
		if errors.Is(err, errPortInUse) && spec.port == 0 && attempt < maxAttempts {
			continue
		}
		return nil, 0, err
	}
}

// redisPort picks a free port. A cluster node also binds its bus on port+10000 (the default
// cluster-port, which keeps Redis 6 working too), so for a cluster node both must be free.
func redisPort(cluster bool) (int, error) {
	for {
		port, err := freePort()
		if err != nil || !cluster {
			return port, err
		}
		if port+10000 <= 65535 && portFree(port+10000) {
			return port, nil
		}
	}
}

// pingRedis sends one PING over a fresh connection: a server still loading answers -LOADING and
// counts as not ready. A bare RESP exchange keeps the readiness loop free of client retry logic.
func pingRedis(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("redis at %s answered %q", addr, line)
	}
	return nil
}

// redisURL is the go-redis URL of database 0 on a local server.
func redisURL(port int) string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
}

// Redis is one standalone Redis that a test owns and may stop mid-test, to see how the code under
// test behaves when its cache goes away.
type Redis struct {
	// URL is redis://127.0.0.1:PORT/0.
	URL string

	proc      *proc
	removeDir string
	stopOnce  sync.Once
	stopErr   error
	stopped   chan struct{}
}

// StartRedis starts one standalone Redis in a new subdirectory of dir, or in a new temporary
// directory (removed by Stop) if dir is "". The server is stopped by Stop or when ctx is done.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	bin, acct, err := redisBinary()
	if err != nil {
		return nil, err
	}
	r := &Redis{stopped: make(chan struct{})}
	var own string
	if dir == "" {
		if own, err = makeTempDir(tempPrefix + "redis-*"); err != nil {
			return nil, err
		}
		r.removeDir = own
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if own, err = os.MkdirTemp(dir, "redis-"); err != nil {
			return nil, err
		}
		if own, err = filepath.Abs(own); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (*Redis, error) {
		if r.removeDir != "" {
			os.RemoveAll(r.removeDir)
		}
		return nil, err
	}
	if err := acct.own(own); err != nil {
		return fail(err)
	}
	if err := acct.checkReachable(own); err != nil {
		return fail(err)
	}
	p, port, err := startRedisServer(ctx, redisSpec{name: "redis", bin: bin, dir: own, acct: acct})
	if err != nil {
		return fail(err)
	}
	r.URL, r.proc = redisURL(port), p
	r.stopWhenDone(ctx)
	return r, nil
}

// redisBinary finds redis-server and the account to run it as.
func redisBinary() (string, *account, error) {
	bin, err := findBinary("redis-server", hintRedis)
	if err != nil {
		return "", nil, err
	}
	acct, err := serverAccount()
	return bin, acct, err
}

// stopWhenDone stops r when ctx is done, unless Stop came first.
func (r *Redis) stopWhenDone(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			r.Stop()
		case <-r.stopped:
		}
	}()
}

// redisPidFile is the pid file of a persistent server, in its data directory.
const redisPidFile = "redis-server.pid"

// StartPersistentRedis starts a standalone Redis whose data lives in dataDir (created if missing)
// and survives restarts: the append-only file is fsynced every second and on a clean Stop, and
// loaded again by the next start on the same directory. It listens on a new free loopback port
// each time; its log is dataDir+".log". This is `make run`'s embedded Redis: a real server, so
// that the functions run exactly as against ElastiCache. The server is stopped by Stop or when
// ctx is done, so pass a context that lives as long as the server should.
//
// A server of an earlier start that still runs on dataDir (its pid file names a live
// redis-server) is an error: two servers appending to one file would corrupt it.
func StartPersistentRedis(ctx context.Context, dataDir string) (*Redis, error) {
	bin, acct, err := redisBinary()
	if err != nil {
		return nil, err
	}
	if dataDir == "" {
		return nil, errors.New("devservices: StartPersistentRedis needs a data directory")
	}
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, err
	}
	if err := acct.mkdir(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := acct.checkReachable(dataDir); err != nil {
		return nil, err
	}
	if pid, live := liveRedis(filepath.Join(dataDir, redisPidFile)); live {
		return nil, fmt.Errorf("%s is in use by redis-server pid %d (another `make run` on the same directory?): stop it first", dataDir, pid)
	}
	p, port, err := startRedisServer(ctx, redisSpec{name: "redis", bin: bin, dir: dataDir, persist: true, logPath: dataDir + ".log", acct: acct})
	if err != nil {
		return nil, err
	}
	r := &Redis{URL: redisURL(port), proc: p, stopped: make(chan struct{})}
	r.stopWhenDone(ctx)
	return r, nil
}

// liveRedis reports whether the pid file at path names a running redis-server. A pid file that a
// killed server left behind names a process that is gone (or, rarely, a reused pid of another
// program), which is no obstacle.
func liveRedis(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return pid, true // no /proc (macOS): a live process under that pid is taken as the server
	}
	// "pid (comm) state ...": a killed server that its new parent has not reaped yet is a
	// zombie, which holds no file.
	name, rest, _ := strings.Cut(string(stat), ") ")
	return pid, strings.Contains(name, "(redis-server") && !strings.HasPrefix(rest, "Z")
}

// Stop stops the server and waits until it has exited; clients see connection errors from then on.
// It is safe to call more than once.
func (r *Redis) Stop() error {
	r.stopOnce.Do(func() {
		err := r.proc.stop()
		if r.removeDir != "" {
			err = errors.Join(err, os.RemoveAll(r.removeDir))
		}
		r.stopErr = err
		close(r.stopped)
	})
	return r.stopErr
}

// clusterNodes is the size of the cluster: three masters is the smallest Redis Cluster that
// redis-cli accepts, and enough to spread keys over nodes so cross-slot mistakes show up in tests.
const clusterNodes = 3

// formCluster turns empty cluster-enabled servers into one cluster: distinct config epochs, an
// equal share of the slots for each master, MEET, a replica per master (replicas[i] of
// masters[i]; replicas may be empty), then waiting until every node reports cluster_state:ok and
// knows every other, and every replica's link to its master is up. Doing it over the protocol is
// quicker than redis-cli --cluster create, which sleeps in whole seconds while it waits.
func formCluster(ctx context.Context, masters, replicas []int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	connect := func(port int) *redis.Client {
		// No retries: a failing command here is a setup error to report, not a blip.
		return redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), MaxRetries: -1})
	}
	var nodes []*redis.Client
	for _, port := range append(slices.Clone(masters), replicas...) {
		n := connect(port)
		defer n.Close()
		nodes = append(nodes, n)
	}
	for i, n := range nodes[:len(masters)] {
		lo, hi := i*16384/len(masters), (i+1)*16384/len(masters)-1
		if err := n.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("redis cluster: set-config-epoch: %w", err)
		}
		// ClusterAddSlotsRange sends CLUSTER ADDSLOTS, which Redis 6 has too (ADDSLOTSRANGE is 7+).
		if err := n.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return fmt.Errorf("redis cluster: addslots: %w", err)
		}
	}
	for _, port := range append(slices.Clone(masters[1:]), replicas...) {
		if err := nodes[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(port)).Err(); err != nil {
			return fmt.Errorf("redis cluster: meet: %w", err)
		}
	}
	for i, n := range nodes[len(masters):] {
		id, err := nodes[i].ClusterMyID(ctx).Result()
		if err != nil {
			return fmt.Errorf("redis cluster: myid: %w", err)
		}
		// The replica must know its master before it can follow it: MEET is gossiped, not
		// instant.
		for {
			err = n.ClusterReplicate(ctx, id).Err()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("redis cluster: replicate: %w", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A new master reports cluster_state:ok no sooner than two seconds after it started
	// (CLUSTER_WRITABLE_DELAY in Redis); polling returns as soon as that is over.
	want := fmt.Sprintf("cluster_known_nodes:%d", len(nodes))
	for {
		ready := true
		var last string
		for i, n := range nodes {
			info, err := n.ClusterInfo(ctx).Result()
			if err != nil {
				return fmt.Errorf("redis cluster: cluster info: %w", err)
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
				ready, last = false, info
				break
			}
			if i >= len(masters) {
				repl, err := n.Info(ctx, "replication").Result()
				if err != nil {
					return fmt.Errorf("redis cluster: info replication: %w", err)
				}
				if !strings.Contains(repl, "master_link_status:up") {
					ready, last = false, repl
					break
				}
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis cluster not ok: %w; last answer:\n%s", ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// clusterURL is the go-redis ParseClusterURL form: the first node in the address, the others as
// addr parameters.
func clusterURL(ports []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "redis://127.0.0.1:%d", ports[0])
	for i, port := range ports[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		fmt.Fprintf(&b, "%saddr=127.0.0.1:%d", sep, port)
	}
	return b.String()
}
