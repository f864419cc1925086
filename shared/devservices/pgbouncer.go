package devservices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// pgbouncerConfig is PgBouncer 1.18's configuration, shaped like production's pooler (the seed's
// numbers) so that tests meet the same transaction-mode rules the deployed code does.
//
// auth_type = trust: PgBouncer listens on 127.0.0.1 only and PostgreSQL behind it trusts loopback
// too, so a password would protect nothing and only add a secret to generate. trust still requires
// the user to be known: the auth file lists Superuser, and auth_user lets PgBouncer look up any
// other role a test creates in pg_shadow.
//
// The wildcard database makes every database name work, so each test's own database is reachable
// through the pooler without a reload. ignore_startup_parameters lists what drivers send by habit
// and PgBouncer does not track (lib/pq and JDBC send extra_float_digits); "options" stays refused,
// because ignoring it would silently drop a search_path a test asked for. server_login_retry is short because a refused login
// (a database being created) must not lock the pool for the default 15 s. query_wait_timeout is
// the pooler's borrow timeout (RDS Proxy's ConnectionBorrowTimeout): a query that finds every
// server connection taken for 2 s fails (the functions answer 503 with Retry-After) instead of
// holding its Lambda environment for the rest of the function's timeout.
const pgbouncerConfig = `;; Written by scaleapi/shared/devservices.
[databases]
* = host=127.0.0.1 port=%d auth_user=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = %s
stats_users = %s
pool_mode = transaction
max_client_conn = 1000
default_pool_size = %d
min_pool_size = 5
reserve_pool_size = %d
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
query_wait_timeout = 2
autodb_idle_timeout = 60
log_connections = 0
log_disconnections = 0
`

// pgbouncerSpec describes the one PgBouncer of a Stack.
type pgbouncerSpec struct {
	bin, dir string
	// port is the port to listen on; 0 picks a free one (a restart passes the port it had).
	port int
	// upstream is the port of the server it pools connections to.
	upstream int
	log      io.Writer
	acct     *account
}

// writeConfig writes pgbouncer.ini (and the auth file) for spec, listening on port.
func (spec pgbouncerSpec) writeConfig(port int) (string, error) {
	users := filepath.Join(spec.dir, "pgbouncer-users.txt")
	if err := os.WriteFile(users, []byte(fmt.Sprintf("%q \"\"\n", Superuser)), 0o644); err != nil {
		return "", err
	}
	ini := filepath.Join(spec.dir, "pgbouncer.ini")
	conf := fmt.Sprintf(pgbouncerConfig, spec.upstream, Superuser, port, users, Superuser, Superuser, poolSize, reservePool)
	return ini, os.WriteFile(ini, []byte(conf), 0o644)
}

// startPgBouncer starts PgBouncer in front of the server on spec.upstream and waits until a
// connection through it reaches the server.
func startPgBouncer(ctx context.Context, spec pgbouncerSpec) (*proc, int, error) {
	for attempt := 1; ; attempt++ {
		port, err := spec.port, error(nil)
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, 0, err
			}
		}
		ini, err := spec.writeConfig(port)
		if err != nil {
			return nil, 0, err
		}
		p, err := startProc(procSpec{
			name: "pgbouncer", path: spec.bin, args: []string{ini},
			dir: spec.dir, logPath: filepath.Join(spec.dir, "pgbouncer.log"), log: spec.log, acct: spec.acct,
			// SIGTERM is PgBouncer's immediate shutdown; SIGINT would wait for clients.
			stopSig: syscall.SIGTERM,
		})
		if err != nil {
			return nil, 0, err
		}
		url := pgURL(port, "postgres")
		err = waitReady(ctx, p, func(ctx context.Context) error { return pingPostgres(ctx, url) })
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
