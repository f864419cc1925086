package db

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scaleapi/shared/devservices/devtest"
)

// preparedStatementError reports whether err is one of the errors a transaction-mode pooler
// produces for named prepared statements: the statement was prepared on another server
// connection (26000), or another client prepared the same name on this one (42P05).
func preparedStatementError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "26000" || pgErr.Code == "42P05")
}

// TestPoolerConcurrentQueries is the proof behind the package's choice of exec mode: five pools
// (five Lambda environments) and 50 goroutines run the statements a store runs (parameterised
// inserts, point reads, keyset lists, transactions, batches) through the real PgBouncer in
// transaction mode. Any error fails it, and no pool ever holds more connections than configured,
// neither by its own count nor by PgBouncer's.
func TestPoolerConcurrentQueries(t *testing.T) {
	d := devtest.NewDatabase(t)
	const (
		pools      = 5
		goroutines = 50
		iterations = 30
		maxConns   = 2
	)
	ps := make([]*Pool, pools)
	for i := range ps {
		ps[i] = open(t, Options{URL: d.PoolerURL, Name: fmt.Sprintf("pooltest%d", i), MaxConns: maxConns})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Sample every pool's size and PgBouncer's count of our clients while the load runs.
	var maxPoolConns [pools]atomic.Int32
	var maxClients atomic.Int32
	var clientSamples atomic.Int32
	sampleErr := make(chan error, 1)
	stopSampling := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Add(2)
	go func() {
		defer sampling.Done()
		for {
			for i, p := range ps {
				if n := p.Stat().TotalConns(); n > maxPoolConns[i].Load() {
					maxPoolConns[i].Store(n)
				}
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	go func() {
		defer sampling.Done()
		admin, err := adminConn(ctx, d.PoolerURL)
		if err != nil {
			sampleErr <- err
			return
		}
		defer admin.Close(context.Background())
		for {
			n, err := countClients(ctx, admin, d.Name)
			if err != nil {
				sampleErr <- err
				return
			}
			clientSamples.Add(1)
			if n > maxClients.Load() {
				maxClients.Store(n)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := storeWorkload(ctx, ps[g%pools], iterations); err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", g, err)
			}
		}()
	}
	wg.Wait()
	close(stopSampling)
	sampling.Wait()
	close(errs)

	failed := 0
	for err := range errs {
		failed++
		if preparedStatementError(err) {
			t.Errorf("prepared statement error behind the pooler (exec mode changed?): %v", err)
		} else {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d goroutines failed", failed, goroutines)
	}
	select {
	case err := <-sampleErr:
		t.Fatalf("PgBouncer admin console: %v", err)
	default:
	}

	var queries int64
	for i, p := range ps {
		if got := maxPoolConns[i].Load(); got > maxConns {
			t.Errorf("pool %s held %d connections, configured %d", p.Name(), got, maxConns)
		}
		if got := p.Stat().MaxConns(); got != maxConns {
			t.Errorf("pool %s MaxConns = %d, want %d", p.Name(), got, maxConns)
		}
		st := p.QueryStats()
		if st.Errors != 0 {
			t.Errorf("pool %s: %d failed queries", p.Name(), st.Errors)
		}
		queries += st.Count
	}
	if clientSamples.Load() == 0 {
		t.Fatal("PgBouncer's client list was never sampled")
	}
	if got := maxClients.Load(); got > pools*maxConns || got == 0 {
		t.Errorf("PgBouncer saw up to %d clients on %s, want 1..%d", got, d.Name, pools*maxConns)
	}
	t.Logf("%d queries through PgBouncer; at most %d client connections (%d samples)", queries, maxClients.Load(), clientSamples.Load())
}

// storeWorkload runs, n times, the kinds of statements the stores run.
func storeWorkload(ctx context.Context, p *Pool, n int) error {
	for range n {
		org, err := uuid.NewV7()
		if err != nil {
			return err
		}
		if _, err := p.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, $2)`, org, "load"); err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		var name string
		var version int
		var created time.Time
		if err := p.QueryRow(ctx, `SELECT name, version, created_at FROM organizations WHERE id = $1 AND deleted_at IS NULL`, org).
			Scan(&name, &version, &created); err != nil {
			return fmt.Errorf("read organization: %w", err)
		}
		err = InTx(ctx, p, func(tx pgx.Tx) error {
			for range 3 {
				id, err := uuid.NewV7()
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO projects (id, organization_id, name, description) VALUES ($1, $2, $3, $4)`,
					id, org, "p", nil); err != nil {
					return fmt.Errorf("insert project: %w", err)
				}
				tag, err := tx.Exec(ctx, `UPDATE projects SET status = $2, version = version + 1, updated_at = now()
					WHERE id = $1 AND version = $3 AND deleted_at IS NULL`, id, "active", 1)
				if err != nil {
					return fmt.Errorf("update project: %w", err)
				}
				if tag.RowsAffected() != 1 {
					return fmt.Errorf("update project: %d rows", tag.RowsAffected())
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		rows, err := p.Query(ctx, `SELECT id, name, status FROM projects
			WHERE organization_id = $1 AND deleted_at IS NULL AND (created_at, id) > ($2, $3)
			ORDER BY created_at, id LIMIT $4`, org, time.Time{}, uuid.Nil, 20)
		if err != nil {
			return fmt.Errorf("list projects: %w", err)
		}
		type row struct {
			ID     uuid.UUID
			Name   string
			Status string
		}
		list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return fmt.Errorf("list projects: %w", err)
		}
		if len(list) != 3 || list[0].Status != "active" {
			return fmt.Errorf("list projects: got %+v", list)
		}
		b := &pgx.Batch{}
		b.Queue(`SELECT count(*) FROM projects WHERE organization_id = $1 AND deleted_at IS NULL`, org)
		b.Queue(`SELECT status, count(*) FROM projects WHERE organization_id = $1 AND deleted_at IS NULL GROUP BY status`, org)
		br := p.SendBatch(ctx, b)
		var count int64
		if err := br.QueryRow().Scan(&count); err != nil {
			br.Close()
			return fmt.Errorf("batch count: %w", err)
		}
		var status string
		if err := br.QueryRow().Scan(&status, &count); err != nil {
			br.Close()
			return fmt.Errorf("batch by status: %w", err)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	return nil
}

// adminConn connects to PgBouncer's admin console (the "pgbouncer" database on the pooler's
// port), which speaks only the simple query protocol.
func adminConn(ctx context.Context, poolerURL string) (*pgx.Conn, error) {
	u, err := url.Parse(poolerURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/pgbouncer"
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}

// countClients counts PgBouncer's client connections to database.
func countClients(ctx context.Context, admin *pgx.Conn, database string) (int32, error) {
	rows, err := admin.Query(ctx, "SHOW CLIENTS")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	col := -1
	for i, f := range rows.FieldDescriptions() {
		if f.Name == "database" {
			col = i
		}
	}
	if col < 0 {
		return 0, errors.New("SHOW CLIENTS has no database column")
	}
	var n int32
	for rows.Next() {
		vals := rows.RawValues()
		if string(vals[col]) == database {
			n++
		}
	}
	return n, rows.Err()
}

// TestDefaultModeBreaksBehindPooler shows that the pooler really does break pgx's default mode,
// so that TestPoolerConcurrentQueries passing means something: two clients (two Lambda
// environments) running the same statement in QueryExecModeCacheStatement through PgBouncer in
// transaction mode soon meet a server connection that has, or lacks, the other's named
// statement. The same sequence with this package's connection config succeeds.
func TestDefaultModeBreaksBehindPooler(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A fresh statement text, so no server connection has it prepared from an earlier run.
	sql := fmt.Sprintf("SELECT $1::int + 1 /* %s */", newID(t))

	run := func(cfg *pgx.ConnConfig) (errs []error) {
		a, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close(ctx)
		b, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(ctx)
		for i := range 20 {
			for _, c := range []*pgx.Conn{a, b} {
				var n int
				if err := c.QueryRow(ctx, sql, i).Scan(&n); err != nil {
					errs = append(errs, err)
				}
			}
		}
		return errs
	}

	t.Run("CacheStatementFails", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(d.PoolerURL)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement {
			t.Fatalf("pgx's default mode is now %v; revisit the package comment", cfg.DefaultQueryExecMode)
		}
		errs := run(cfg)
		if len(errs) == 0 {
			t.Fatal("named prepared statements worked through PgBouncer in transaction mode: is the pooler in session mode, or tracking prepared statements?")
		}
		for _, err := range errs {
			if !preparedStatementError(err) {
				t.Errorf("unexpected error: %v", err)
			}
		}
		t.Logf("%d of 40 queries failed, first: %v", len(errs), errs[0])
	})

	t.Run("PackageModeWorks", func(t *testing.T) {
		cfg, _, err := poolConfig(Options{URL: d.PoolerURL})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range run(cfg.ConnConfig) {
			t.Error(err)
		}
	})
}
