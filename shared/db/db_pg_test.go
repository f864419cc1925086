package db

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/fault"
)

type observation struct {
	pool string
	d    time.Duration
	err  error
}

type recorder struct {
	mu  sync.Mutex
	obs []observation
}

func (r *recorder) ObserveQuery(pool string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = append(r.obs, observation{pool, d, err})
}

func TestOpen(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx := context.Background()

	t.Run("TimesEveryQuery", func(t *testing.T) {
		rec := &recorder{}
		p := open(t, Options{URL: d.PoolerURL, Name: "replica", Observer: rec})
		before := p.QueryStats()
		var one int
		if err := p.QueryRow(ctx, "SELECT $1::int", 1).Scan(&one); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exec(ctx, "SELECT * FROM no_such_table"); err == nil {
			t.Fatal("no error from a missing table")
		}
		st := p.QueryStats()
		if st.Count-before.Count != 2 || st.Errors-before.Errors != 1 || st.Total <= before.Total {
			t.Errorf("stats went from %+v to %+v, want 2 more queries, 1 more error, more time", before, st)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		last := rec.obs[len(rec.obs)-2:]
		if last[0].pool != "replica" || last[0].err != nil || last[0].d <= 0 {
			t.Errorf("first observation = %+v", last[0])
		}
		if last[1].err == nil {
			t.Error("failed query observed without its error")
		}
	})

	t.Run("EncodesProjectTypes", func(t *testing.T) {
		// Exec mode encodes parameters from their Go types alone: the ID type and slices of it
		// must work without casts.
		p := open(t, Options{URL: d.PoolerURL})
		a, b := insertOrg(t, p), insertOrg(t, p)
		rows, err := p.Query(ctx, `SELECT id FROM organizations WHERE id = ANY($1) ORDER BY id`, []uuid.UUID{a, b})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil || len(ids) != 2 || ids[0] != a || ids[1] != b {
			t.Fatalf("ids = %v, err = %v", ids, err)
		}
		var none *uuid.UUID
		var n int
		if err := p.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE assignee_id IS NOT DISTINCT FROM $1`, none).Scan(&n); err != nil {
			t.Fatalf("nil *uuid.UUID parameter: %v", err)
		}
	})

	t.Run("ConnectsOnceEagerly", func(t *testing.T) {
		p := open(t, Options{URL: d.PoolerURL})
		if got := p.Stat().TotalConns(); got != 1 {
			t.Errorf("after Open the pool holds %d connections, want the 1 that Ping opened", got)
		}
		if got := p.Stat().MaxConns(); got != DefaultMaxConns {
			t.Errorf("MaxConns = %d", got)
		}
	})

	t.Run("ErrorWhenRefused", func(t *testing.T) {
		_, err := Open(ctx, Options{URL: "postgres://nobody@" + closedPort(t) + "/x?sslmode=disable"})
		if err == nil {
			t.Fatal("no error")
		}
		if e := fault.As(Translate(err)); e.Code != fault.Unavailable || e.RetryAfter != time.Second {
			t.Errorf("Translate = %s retry after %v, want unavailable after 1s (%v)", e.Code, e.RetryAfter, err)
		}
	})
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestReplicaReadsPrimaryWrite writes through the primary pool and reads the row back through the
// replica pool once the replica has replayed the write, which is how the reports read.
func TestReplicaReadsPrimaryWrite(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	primary := open(t, Options{URL: d.PrimaryURL, Name: "primary"})
	replica := open(t, Options{URL: d.ReplicaURL, Name: "replica"})

	org := insertOrg(t, primary)
	if err := devservices.WaitReplay(ctx, d.PrimaryURL, d.ReplicaURL); err != nil {
		t.Fatal(err)
	}
	var got uuid.UUID
	if err := replica.QueryRow(ctx, `SELECT id FROM organizations WHERE id = $1`, org).Scan(&got); err != nil {
		t.Fatalf("read on replica: %v", err)
	}
	if got != org {
		t.Fatalf("replica returned %v, want %v", got, org)
	}

	t.Run("WriteOnReplicaIsUnavailable", func(t *testing.T) {
		// A write sent to a read-only server (a pool pointed at the wrong endpoint, or a primary
		// just demoted by a failover) must be a retryable 503, not a 500.
		_, err := replica.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, 'x')`, newID(t))
		if got := fault.CodeOf(Translate(err)); got != fault.Unavailable {
			t.Fatalf("code = %s, want unavailable (%v)", got, err)
		}
	})
}

// TestTranslateRealErrors checks Translate on errors produced by PostgreSQL itself, through the
// pooler, the way the stores will meet them.
func TestTranslateRealErrors(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx := context.Background()
	p := open(t, Options{URL: d.PoolerURL})
	orgA, orgB := insertOrg(t, p), insertOrg(t, p)
	projectA := insertProject(t, p, orgA)

	check := func(t *testing.T, err error, code fault.Code, field string) *fault.Error {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		got := Translate(err)
		e := fault.As(got)
		if e.Code != code {
			t.Fatalf("code = %s, want %s (%v)", e.Code, code, err)
		}
		if !errors.Is(got, err) {
			t.Error("cause not kept for the log")
		}
		if field != "" && (len(e.Fields) != 1 || e.Fields[0].Field != field) {
			t.Errorf("fields = %+v, want %s", e.Fields, field)
		}
		return e
	}
	const insertUser = `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, 'x')`
	const insertTask = `INSERT INTO tasks (id, project_id, organization_id, title, status) VALUES ($1, $2, $3, $4, $5)`

	t.Run("UniqueViolationIsConflict", func(t *testing.T) {
		email := "dup-" + newID(t).String() + "@example.com"
		if _, err := p.Exec(ctx, insertUser, newID(t), email, "A"); err != nil {
			t.Fatal(err)
		}
		_, err := p.Exec(ctx, insertUser, newID(t), email, "B")
		e := check(t, err, fault.Conflict, "")
		if !errors.Is(e, fault.ErrConflict) || !strings.Contains(e.Message, "email") {
			t.Errorf("message %q should name the email", e.Message)
		}
	})
	t.Run("ForeignKeyViolationIsNotFound", func(t *testing.T) {
		_, err := p.Exec(ctx, insertTask, newID(t), newID(t), orgA, "t", "todo")
		e := check(t, err, fault.NotFound, "")
		if e.Message != "project not found" {
			t.Errorf("message = %q", e.Message)
		}
	})
	t.Run("OtherTenantsProjectIsNotFound", func(t *testing.T) {
		// Organization B's task pointing at organization A's project: the composite foreign key
		// refuses it, and the client learns nothing more than "not found".
		_, err := p.Exec(ctx, insertTask, newID(t), projectA, orgB, "t", "todo")
		check(t, err, fault.NotFound, "")
	})
	t.Run("CheckViolationIsInvalid", func(t *testing.T) {
		_, err := p.Exec(ctx, `INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, '')`, newID(t), orgA)
		check(t, err, fault.Invalid, "name")
		_, err = p.Exec(ctx, insertTask, newID(t), projectA, orgA, "t", "bogus")
		check(t, err, fault.Invalid, "status")
		_, err = p.Exec(ctx, insertUser, newID(t), "Upper@Example.com", "U")
		check(t, err, fault.Invalid, "email")
	})
	t.Run("NotNullViolationIsInvalid", func(t *testing.T) {
		_, err := p.Exec(ctx, `INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, $3)`, newID(t), orgA, nil)
		check(t, err, fault.Invalid, "name")
	})
	t.Run("MalformedValueIsInvalid", func(t *testing.T) {
		_, err := p.Exec(ctx, `SELECT 1 FROM projects WHERE id = $1`, "not-a-uuid")
		check(t, err, fault.Invalid, "")
	})
	t.Run("NoRowsIsNotFound", func(t *testing.T) {
		var name string
		err := p.QueryRow(ctx, `SELECT name FROM projects WHERE id = $1`, newID(t)).Scan(&name)
		e := check(t, err, fault.NotFound, "")
		if !errors.Is(e, fault.ErrNotFound) {
			t.Error("not matched by fault.ErrNotFound")
		}
	})
	t.Run("DeadlineIsUnavailable", func(t *testing.T) {
		qctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := p.Exec(qctx, `SELECT pg_sleep(5)`)
		e := check(t, err, fault.Unavailable, "")
		if e.RetryAfter != time.Second {
			t.Errorf("RetryAfter = %v", e.RetryAfter)
		}
		// The pool recovers: the next query works.
		if _, err := p.Exec(ctx, `SELECT 1`); err != nil {
			t.Fatalf("pool unusable after a timeout: %v", err)
		}
	})
	t.Run("TerminatedConnectionIsUnavailable", func(t *testing.T) {
		// Straight to the primary: behind the pooler a killed server connection is PgBouncer's
		// problem, not ours.
		direct := open(t, Options{URL: d.PrimaryURL, MaxConns: 1})
		killer := open(t, Options{URL: d.PrimaryURL, Name: "killer", MaxConns: 1})
		c, err := direct.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		var pid int
		if err := c.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := killer.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		_, err = c.Exec(ctx, `SELECT 1`)
		check(t, err, fault.Unavailable, "")
	})
}

func TestInTx(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx := context.Background()
	p := open(t, Options{URL: d.PoolerURL})
	exists := func(t *testing.T, id uuid.UUID) bool {
		t.Helper()
		var n int
		if err := p.QueryRow(ctx, `SELECT count(*) FROM organizations WHERE id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	t.Run("Commits", func(t *testing.T) {
		var id uuid.UUID
		err := InTx(ctx, p, func(tx pgx.Tx) error {
			id = insertOrg(t, tx)
			return nil
		})
		if err != nil || !exists(t, id) {
			t.Fatalf("err = %v, row committed = %v", err, exists(t, id))
		}
	})

	t.Run("RollsBackOnError", func(t *testing.T) {
		var id uuid.UUID
		want := fault.E(fault.Forbidden, "no")
		err := InTx(ctx, p, func(tx pgx.Tx) error {
			id = insertOrg(t, tx)
			return want
		})
		if err != want {
			t.Fatalf("err = %v, want fn's error unchanged", err)
		}
		if exists(t, id) {
			t.Fatal("row survived the rollback")
		}
	})

	t.Run("RollsBackOnPanic", func(t *testing.T) {
		var id uuid.UUID
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic swallowed")
				}
			}()
			_ = InTx(ctx, p, func(tx pgx.Tx) error {
				id = insertOrg(t, tx)
				panic("boom")
			})
		}()
		if exists(t, id) {
			t.Fatal("row survived the panic")
		}
		if got := p.Stat().AcquiredConns(); got != 0 {
			t.Fatalf("%d connections still acquired", got)
		}
	})

	t.Run("TranslatesErrors", func(t *testing.T) {
		err := InTx(ctx, p, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, '')`, newID(t))
			return err
		})
		if got := fault.CodeOf(err); got != fault.Invalid {
			t.Fatalf("code = %s, want invalid (%v)", got, err)
		}
	})

	t.Run("RetriesSerializationFailure", func(t *testing.T) {
		// The first attempt reads a row, another transaction updates it and commits, and the
		// first attempt's own update then fails with 40001 under REPEATABLE READ: a real
		// serialization failure, on the first attempt only.
		org := insertOrg(t, p)
		var attempts atomic.Int32
		err := InTxWith(ctx, p, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
			n := attempts.Add(1)
			var v int
			if err := tx.QueryRow(ctx, `SELECT version FROM organizations WHERE id = $1`, org).Scan(&v); err != nil {
				return err
			}
			if n == 1 {
				if _, err := p.Exec(ctx, `UPDATE organizations SET version = version + 1 WHERE id = $1`, org); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `UPDATE organizations SET version = $2 + 1 WHERE id = $1`, org, v)
			return err
		})
		if err != nil {
			t.Fatalf("err = %v after %d attempts", err, attempts.Load())
		}
		if got := attempts.Load(); got != 2 {
			t.Fatalf("attempts = %d, want 2", got)
		}
		var v int
		if err := p.QueryRow(ctx, `SELECT version FROM organizations WHERE id = $1`, org).Scan(&v); err != nil || v != 3 {
			t.Fatalf("version = %d (%v), want 3: the retry must see the other transaction's update", v, err)
		}
	})

	t.Run("GivesUpAsRetry", func(t *testing.T) {
		org := insertOrg(t, p)
		var attempts atomic.Int32
		err := InTxWith(ctx, p, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
			attempts.Add(1)
			var v int
			if err := tx.QueryRow(ctx, `SELECT version FROM organizations WHERE id = $1`, org).Scan(&v); err != nil {
				return err
			}
			if _, err := p.Exec(ctx, `UPDATE organizations SET version = version + 1 WHERE id = $1`, org); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE organizations SET version = $2 + 1 WHERE id = $1`, org, v)
			return err
		})
		if !errors.Is(err, fault.ErrRetry) {
			t.Fatalf("err = %v, want fault.ErrRetry", err)
		}
		if got := attempts.Load(); got != txAttempts {
			t.Fatalf("attempts = %d, want %d", got, txAttempts)
		}
	})

	t.Run("CancelledContextReleasesConnection", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		err := InTx(cctx, p, func(tx pgx.Tx) error {
			insertOrg(t, tx)
			cancel()
			_, err := tx.Exec(cctx, `SELECT 1`)
			return err
		})
		if got := fault.CodeOf(err); got != fault.Unavailable {
			t.Fatalf("code = %s, want unavailable (%v)", got, err)
		}
		if got := p.Stat().AcquiredConns(); got != 0 {
			t.Fatalf("%d connections still acquired", got)
		}
		if _, err := p.Exec(ctx, `SELECT 1`); err != nil {
			t.Fatalf("pool unusable afterwards: %v", err)
		}
	})
}

// TestConstraintsNamed keeps Translate's table of constraint names in step with the schema: every
// name in it exists, and every constraint a client's input can violate (foreign keys, checks,
// unique keys; not primary keys, whose ids the application generates, nor version checks and the
// (organization_id, id) key, which only a bug can violate) has an entry, so the client is told which field is wrong.
func TestConstraintsNamed(t *testing.T) {
	d := devtest.NewDatabase(t)
	p := open(t, Options{URL: d.PrimaryURL})
	rows, err := p.Query(context.Background(), `
		SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE n.nspname = 'public' AND c.contype IN ('f', 'c', 'u')
		UNION
		SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = ic.relnamespace
		WHERE n.nspname = 'public' AND i.indisunique AND NOT i.indisprimary`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	inSchema := map[string]bool{}
	for _, n := range names {
		inSchema[n] = true
		if _, ok := constraints[n]; !ok && !strings.HasSuffix(n, "_version_check") &&
			n != "projects_organization_id_id_key" /* implied by the primary key */ {
			t.Errorf("constraint %s has no entry in constraints (errors.go)", n)
		}
	}
	for n := range constraints {
		if !inSchema[n] && !strings.HasSuffix(n, "_pkey") {
			t.Errorf("constraints (errors.go) names %s, which the schema doesn't have", n)
		}
	}
}
