package devservices

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
)

// Shard is one further shard of a Stack: a PostgreSQL primary and PgBouncer in front of it. It
// has no replica: its reports read from the writer, as a shard without DATABASE_READER_URL does.
type Shard struct {
	// PrimaryURL connects directly to the shard's primary, to database "postgres".
	PrimaryURL string
	// PoolerURL connects through the shard's PgBouncer; any database name works.
	PoolerURL string
}

// shardServers are the processes of one Shard.
type shardServers struct {
	primary, pgbouncer *proc
}

// startShard starts the i-th further shard in its own directory, shard-N (N = i+2: the stack's
// primary is shard 1).
func (s *Stack) startShard(ctx context.Context, o Options, bins binaries, acct *account, i int) error {
	name := fmt.Sprintf("shard-%d", i+2)
	dir := filepath.Join(s.Dir, name)
	if err := acct.mkdir(dir, 0o755); err != nil {
		return err
	}
	spec := pgSpec{
		name: "postgres " + name, binDir: bins.pgBin, dataDir: filepath.Join(dir, "data"), sockDir: socketDir(s.Dir),
		workDir: dir, logPath: filepath.Join(dir, "postgres.log"), log: o.Log, acct: acct,
		stopSig: syscall.SIGQUIT, durable: o.Durable,
	}
	if err := initdb(ctx, spec); err != nil {
		return err
	}
	srv, err := startPGServer(ctx, spec)
	if err != nil {
		return err
	}
	servers := &shardServers{primary: srv.proc}
	s.mu.Lock()
	s.shards[i] = servers
	s.mu.Unlock()
	bspec := pgbouncerSpec{bin: bins.pgbouncer, dir: dir, upstream: srv.port, log: o.Log, acct: acct}
	p, port, err := startPgBouncer(ctx, bspec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	servers.pgbouncer = p
	s.Shards[i] = Shard{PrimaryURL: srv.url, PoolerURL: pgURL(port, "postgres")}
	s.mu.Unlock()
	return nil
}

// formatShards is the value of EnvShards for shards.
func formatShards(shards []Shard) string {
	parts := make([]string, len(shards))
	for i, sh := range shards {
		parts[i] = sh.PrimaryURL + "|" + sh.PoolerURL
	}
	return strings.Join(parts, " ")
}

// parseShards reads EnvShards' value; pairs without both URLs are skipped.
func parseShards(v string) []Shard {
	var out []Shard
	for _, f := range strings.Fields(v) {
		primary, pooler, ok := strings.Cut(f, "|")
		if ok && primary != "" && pooler != "" {
			out = append(out, Shard{PrimaryURL: primary, PoolerURL: pooler})
		}
	}
	return out
}
