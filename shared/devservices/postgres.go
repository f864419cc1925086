package devservices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Superuser is the PostgreSQL superuser every URL of this package connects as (initdb -U).
const Superuser = "scaleapi"

// replicationSlot keeps the primary's WAL until the replica has received it, so a replica that
// falls behind during a write-heavy test catches up instead of failing with a removed segment.
const replicationSlot = "devservices_replica"

// maxSocketDir is the longest directory a Unix socket can be created in: sun_path holds 107 bytes
// and the socket's own name (/.s.PGSQL.65535) takes 15 of them.
const maxSocketDir = 107 - 15

// pgHBA trusts connections from 127.0.0.1 only (including replication for pg_basebackup and the
// replica): the servers are for tests and local runs, their ports are on loopback, and passwords
// would only add setup. No Unix socket line: nothing here connects through the socket, which lives
// in the server's private directory anyway.
const pgHBA = `# Written by scaleapi/shared/devservices: loopback only, trust.
host all         all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
`

// pgSpec describes one PostgreSQL server.
type pgSpec struct {
	name    string // "postgres primary"
	binDir  string
	dataDir string
	sockDir string // "" = TCP only
	workDir string // working directory for the server and tools, reachable by acct
	logPath string
	log     io.Writer
	acct    *account
	stopSig syscall.Signal
	// port is the port to listen on; 0 picks a free one (a restart passes the port it had).
	port int
	// durable commits synchronously (see Options.Durable).
	durable bool
}

// pgServer is a running PostgreSQL server.
type pgServer struct {
	proc *proc
	port int
	url  string
}

// pgURL is the URL of database db on a local server, as Superuser.
func pgURL(port int, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, port, db)
}

// socketDir returns dir if a Unix socket fits in it, else "" (TCP only).
func socketDir(dir string) string {
	if len(dir) > maxSocketDir {
		return ""
	}
	return dir
}

// initdb creates a cluster in spec.dataDir, which must be empty or missing.
func initdb(ctx context.Context, spec pgSpec) error {
	if err := spec.acct.mkdir(spec.dataDir, 0o700); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	err := runTool(ctx, procSpec{
		name: "initdb",
		path: filepath.Join(spec.binDir, "initdb"),
		args: []string{
			"-D", spec.dataDir, "-U", Superuser, "-A", "trust",
			// C collation: the same sort order on every machine, and a faster initdb.
			"--encoding=UTF8", "--locale=C",
			// The cluster is disposable or a developer's scratch database: no fsync.
			"--no-sync",
		},
		dir: spec.workDir, logPath: spec.logPath, log: spec.log, acct: spec.acct, stopSig: syscall.SIGKILL,
	})
	if err != nil {
		return err
	}
	hba := filepath.Join(spec.dataDir, "pg_hba.conf")
	if err := os.WriteFile(hba, []byte(pgHBA), 0o600); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	return spec.acct.own(hba)
}

// pgArgs are the server settings, given on the command line rather than in postgresql.conf so that
// a reused data directory (StartPostgres) and a replica copied by pg_basebackup get them too.
func pgArgs(spec pgSpec, port int) []string {
	settings := []string{
		"listen_addresses=127.0.0.1",
		"port=" + strconv.Itoa(port),
		"unix_socket_directories=" + spec.sockDir,
		// Test speed: nothing here has to survive a crash of the machine (a killed server's
		// writes are in the page cache, which outlives it).
		"fsync=off",
		"full_page_writes=off",
		// With synchronous_commit off, a commit reaches the replica only after the WAL writer's
		// next round: 10ms instead of 200ms keeps WaitReplay short.
		"wal_writer_delay=10ms",
		"wal_level=replica",
		"max_wal_senders=10",
		"max_replication_slots=10",
		"hot_standby=on",
		// A replica query must not be cancelled because the primary vacuumed rows it reads.
		"hot_standby_feedback=on",
		// ...and reports its oldest snapshot every second rather than every 10 s: until the
		// primary hears the replica has moved past a bulk load, VACUUM cannot mark the loaded
		// pages all-visible (loadgen's seed waits for that).
		"wal_receiver_status_interval=1s",
		// Parallel test binaries, each with pools, plus PgBouncer's server connections.
		"max_connections=300",
		// JIT compilation costs more than it saves on the small queries of tests.
		"jit=off",
		"logging_collector=off",
	}
	if spec.durable {
		// A commit is acknowledged once its WAL is written, and once the synchronous standby
		// (Stack.SetSynchronous) has it too: a killed server loses no acknowledged commit.
		settings = append(settings, "synchronous_commit=on")
	} else {
		settings = append(settings, "synchronous_commit=off")
	}
	args := []string{"-D", spec.dataDir}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	return args
}

// startPGServer starts postgres on spec.dataDir on spec.port, or on a free port, and waits until
// it accepts connections, retrying on another free port if the port was taken before the server
// bound it.
func startPGServer(ctx context.Context, spec pgSpec) (*pgServer, error) {
	for attempt := 1; ; attempt++ {
		port, err := spec.port, error(nil)
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		p, err := startProc(procSpec{
			name: spec.name, path: filepath.Join(spec.binDir, "postgres"), args: pgArgs(spec, port),
			dir: spec.workDir, logPath: spec.logPath, log: spec.log, acct: spec.acct, stopSig: spec.stopSig,
		})
		if err != nil {
			return nil, err
		}
		url := pgURL(port, "postgres")
		err = waitReady(ctx, p, func(ctx context.Context) error { return pingPostgres(ctx, url) })
		if err == nil {
			return &pgServer{proc: p, port: port, url: url}, nil
		}
		p.kill()
		if errors.Is(err, errPortInUse) && spec.port == 0 && attempt < maxAttempts {
			continue
		}
		return nil, err
	}
}

// pingPostgres connects once; a server that is still starting or recovering refuses with
// SQLSTATE 57P03, which counts as not ready.
func pingPostgres(ctx context.Context, url string) error {
	c, err := pgconn.Connect(ctx, url)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// basebackup copies the primary into spec.dataDir as a streaming replica: -R writes
// standby.signal and primary_conninfo, -X stream copies the WAL written meanwhile, and the slot
// keeps the primary's WAL for the replica.
func basebackup(ctx context.Context, spec pgSpec, primaryPort int) error {
	if err := spec.acct.mkdir(spec.dataDir, 0o700); err != nil {
		return fmt.Errorf("pg_basebackup: %w", err)
	}
	return runTool(ctx, procSpec{
		name: "pg_basebackup",
		path: filepath.Join(spec.binDir, "pg_basebackup"),
		args: []string{
			"-d", fmt.Sprintf("host=127.0.0.1 port=%d user=%s", primaryPort, Superuser),
			"-D", spec.dataDir, "-R", "-X", "stream", "-c", "fast", "-N",
			"-C", "-S", replicationSlot,
		},
		dir: spec.workDir, logPath: spec.logPath, log: spec.log, acct: spec.acct, stopSig: syscall.SIGKILL,
	})
}

// Postgres is one PostgreSQL server with a persistent data directory, for `make run`'s embedded
// database.
type Postgres struct {
	// URL connects to database "postgres" as Superuser:
	// postgres://scaleapi@127.0.0.1:PORT/postgres?sslmode=disable.
	URL string

	srv      *pgServer
	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{}
}

// StartPostgres starts PostgreSQL on dataDir, running initdb first if dataDir is missing or empty
// and reusing the cluster in it otherwise. It listens on a new free port each time. The server
// log is dataDir+".log". The server is stopped by Stop or when ctx is done, so pass a context that
// lives as long as the server should.
func StartPostgres(ctx context.Context, dataDir string) (*Postgres, error) {
	binDir, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	if dataDir == "" {
		return nil, errors.New("devservices: StartPostgres needs a data directory")
	}
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return nil, err
	}
	if err := acct.checkReachable(dataDir); err != nil {
		return nil, err
	}
	spec := pgSpec{
		name: "postgres", binDir: binDir, dataDir: dataDir, sockDir: socketDir(dataDir),
		workDir: filepath.Dir(dataDir), logPath: dataDir + ".log", acct: acct,
		// Fast shutdown: a clean checkpoint, so the next start does not replay WAL.
		stopSig: syscall.SIGINT,
	}
	if err := prepareDataDir(ctx, spec); err != nil {
		return nil, err
	}
	srv, err := startPGServer(ctx, spec)
	if err != nil {
		return nil, err
	}
	p := &Postgres{URL: srv.url, srv: srv, stopped: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			p.Stop()
		case <-p.stopped:
		}
	}()
	return p, nil
}

// prepareDataDir runs initdb on a missing or empty directory and checks that an existing cluster
// was made by the same major version as the binaries.
func prepareDataDir(ctx context.Context, spec pgSpec) error {
	v, err := os.ReadFile(filepath.Join(spec.dataDir, "PG_VERSION"))
	if err == nil {
		have := strings.TrimSpace(string(v))
		want, err := postgresMajor(spec.binDir)
		if err != nil {
			return err
		}
		if have != want {
			return fmt.Errorf("%s holds a PostgreSQL %s cluster but the binaries in %s are version %s: remove the directory (its data is lost) or install PostgreSQL %s", spec.dataDir, have, spec.binDir, want, have)
		}
		return nil
	}
	entries, err := os.ReadDir(spec.dataDir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is neither empty nor a PostgreSQL data directory (no PG_VERSION)", spec.dataDir)
	}
	return initdb(ctx, spec)
}

// Stop shuts the server down cleanly and waits for it. It is safe to call more than once.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.srv.proc.stop()
		close(p.stopped)
	})
	return p.stopErr
}
