package shard

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/fault"
)

// opened records which pools a Set opened.
type opened struct {
	mu    sync.Mutex
	pools map[string]*db.Pool
	n     atomic.Int64
}

func (o *opened) open(t *testing.T) Opener {
	return func(ctx context.Context, shard string, first bool, role, url string) (DB, error) {
		o.n.Add(1)
		p, err := db.Open(ctx, db.Options{URL: url, Name: role + "-" + shard, Lazy: true})
		if err != nil {
			return nil, err
		}
		t.Cleanup(p.Close)
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.pools == nil {
			o.pools = map[string]*db.Pool{}
		}
		o.pools[role+"-"+shard] = p
		return p, nil
	}
}

// clock is a settable time.
type clock struct{ at atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.at.Load()) }
func (c *clock) advance(d time.Duration) { c.at.Add(int64(d)) }
func newClock() *clock                   { c := &clock{}; c.at.Store(time.Now().UnixNano()); return c }

// threeShards is a 3-shard map over t's databases, each through its own PgBouncer.
func threeShards(t *testing.T) ([]Spec, []devtest.Database) {
	dbs := devtest.NewShardDatabases(t, 3)
	specs := make([]Spec, len(dbs))
	for i, d := range dbs {
		specs[i] = Spec{Name: []string{"a", "b", "c"}[i], Writer: d.PoolerURL, Reader: d.ReplicaURL}
	}
	return specs, dbs
}

func testCache(t *testing.T) *cache.Cache {
	return cache.New(devtest.Redis(t), cache.Options{Prefix: "shardtest:" + uuid.NewString() + ":"})
}

// newOrganization creates a live organization on the directory's shard, as the organization
// service does, and places it there in the same transaction.
func newOrganization(t *testing.T, s *Set) (uuid.UUID, *Shard) {
	t.Helper()
	ctx := context.Background()
	home, err := s.Home().Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.Must(uuid.NewV7())
	var sh *Shard
	err = db.InTx(ctx, home, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO organizations (id, name) VALUES ($1, 'o')", id); err != nil {
			return err
		}
		sh, err = s.Place(ctx, tx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, sh
}

// TestOneShardReadsNothing: the unsharded deployment answers every question without a pool,
// so without a round trip.
func TestOneShardReadsNothing(t *testing.T) {
	var o opened
	s, err := NewSet([]Spec{{Name: "only", Writer: "postgres://127.0.0.1:1/none"}}, o.open(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	org := uuid.Must(uuid.NewV7())
	sh, err := s.For(ctx, org)
	if err != nil || sh != s.Home() {
		t.Fatalf("For = %v, %v", sh, err)
	}
	if sh, err := s.ForWrite(ctx, org); err != nil || sh != s.Home() {
		t.Fatalf("ForWrite = %v, %v", sh, err)
	}
	gs, err := s.Group(ctx, []uuid.UUID{org, uuid.Must(uuid.NewV7())})
	if err != nil || len(gs) != 1 || len(gs[0].Orgs) != 2 {
		t.Fatalf("Group = %+v, %v", gs, err)
	}
	if sh, err := s.Place(ctx, nil, org); err != nil || sh != s.Home() {
		t.Fatalf("Place = %v, %v", sh, err)
	}
	if p, err := s.Lookup(ctx, org); err != nil || p.Shard != "only" {
		t.Fatalf("Lookup = %+v, %v", p, err)
	}
	if n := o.n.Load(); n != 0 {
		t.Fatalf("%d pools opened by a one-shard set's routing", n)
	}
}

func TestDirectory(t *testing.T) {
	specs, dbs := threeShards(t)
	ctx := context.Background()
	var o opened
	clk := newClock()
	c := testCache(t)
	s, err := NewSet(specs, o.open(t), Options{Cache: c, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("placed organizations are found where they were placed", func(t *testing.T) {
		seen := map[string]int{}
		for range 30 {
			id, placed := newOrganization(t, s)
			sh, err := s.For(ctx, id)
			if err != nil || sh != placed {
				t.Fatalf("For(%s) = %v, %v; placed on %s", id, sh, err, placed.Name())
			}
			seen[sh.Name()]++
		}
		if len(seen) != 3 {
			t.Errorf("30 organizations placed on %v: equal weights should reach all three", seen)
		}
	})

	t.Run("an organization without a row is on the first shard", func(t *testing.T) {
		sh, err := s.For(ctx, uuid.Must(uuid.NewV7()))
		if err != nil || sh != s.Home() {
			t.Fatalf("For = %v, %v", sh, err)
		}
	})

	t.Run("pools open on first use only", func(t *testing.T) {
		var o2 opened
		s2, _ := NewSet(specs, o2.open(t), Options{})
		if n := o2.n.Load(); n != 0 {
			t.Fatalf("NewSet opened %d pools", n)
		}
		sh, _ := s2.Named("c")
		if _, err := sh.Primary(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := sh.Primary(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := sh.Replica(ctx); err != nil { // c has no reader: its writer's pool
			t.Fatal(err)
		}
		if n := o2.n.Load(); n != 1 {
			t.Fatalf("%d pools opened, want 1", n)
		}
	})

	t.Run("a freeze refuses writes with Retry-After until it ends, and is seen after LocalTTL", func(t *testing.T) {
		id, placed := newOrganization(t, s)
		other, _ := NewSet(specs, o.open(t), Options{Cache: c, Now: clk.now}) // another environment
		if _, err := other.ForWrite(ctx, id); err != nil {
			t.Fatal(err)
		}
		until := clk.now().Add(5 * time.Second)
		if err := s.Record(ctx, id, Placement{Shard: placed.Name(), FrozenUntil: until}); err != nil {
			t.Fatal(err)
		}
		_, err := s.ForWrite(ctx, id)
		if fe := fault.As(err); fe == nil || fe.Code != fault.Unavailable || fe.RetryAfter < 5*time.Second || fe.RetryAfter > 7*time.Second {
			t.Fatalf("ForWrite during the freeze = %v", err)
		}
		if sh, err := s.For(ctx, id); err != nil || sh != placed {
			t.Fatalf("For (a read) during the freeze = %v, %v", sh, err)
		}
		// The other environment still has the old placement in memory, for LocalTTL at most.
		if _, err := other.ForWrite(ctx, id); err != nil {
			t.Fatalf("within LocalTTL: %v", err)
		}
		clk.advance(DefaultLocalTTL)
		if _, err := other.ForWrite(ctx, id); fault.CodeOf(err) != fault.Unavailable {
			t.Fatalf("after LocalTTL the other environment must see the freeze: %v", err)
		}
		clk.advance(5 * time.Second)
		if _, err := s.ForWrite(ctx, id); err != nil {
			t.Fatalf("after the freeze: %v", err)
		}
	})

	t.Run("a recorded move is followed, and Redis forgets the old placement", func(t *testing.T) {
		id, placed := newOrganization(t, s)
		to := "a"
		if placed.Name() == "a" {
			to = "b"
		}
		if _, err := s.For(ctx, id); err != nil { // cached in Redis and here
			t.Fatal(err)
		}
		if err := s.Record(ctx, id, Placement{Shard: to}); err != nil {
			t.Fatal(err)
		}
		if sh, _ := s.For(ctx, id); sh.Name() != to {
			t.Fatalf("after the move: %s, want %s", sh.Name(), to)
		}
		fresh, _ := NewSet(specs, o.open(t), Options{Cache: c, Now: clk.now})
		if sh, _ := fresh.For(ctx, id); sh.Name() != to {
			t.Fatalf("a new environment (through Redis): %s, want %s", sh.Name(), to)
		}
		if err := s.Record(ctx, id, Placement{Shard: "z"}); err == nil {
			t.Fatal("Record on a shard outside the map must fail")
		}
	})

	t.Run("a directory naming an unknown shard is a 503, not a guess", func(t *testing.T) {
		id, _ := newOrganization(t, s)
		home, _ := s.Home().Primary(ctx)
		if _, err := home.Exec(ctx, "UPDATE organization_shards SET shard = 'gone' WHERE organization_id = $1", id); err != nil {
			t.Fatal(err)
		}
		fresh, _ := NewSet(specs, o.open(t), Options{Now: clk.now})
		_, err := fresh.For(ctx, id)
		if fault.CodeOf(err) != fault.Unavailable {
			t.Fatalf("For = %v, want unavailable", err)
		}
	})

	t.Run("Group splits by shard in map order", func(t *testing.T) {
		var orgs []uuid.UUID
		want := map[string]int{}
		for range 12 {
			id, sh := newOrganization(t, s)
			orgs = append(orgs, id)
			want[sh.Name()]++
		}
		gs, err := s.Group(ctx, orgs)
		if err != nil {
			t.Fatal(err)
		}
		last := -1
		for _, g := range gs {
			idx := map[string]int{"a": 0, "b": 1, "c": 2}[g.Shard.Name()]
			if idx <= last || len(g.Orgs) != want[g.Shard.Name()] {
				t.Fatalf("groups %+v, want %v in map order", gs, want)
			}
			last = idx
		}
	})

	t.Run("the directory is on the first shard only", func(t *testing.T) {
		for _, d := range dbs[1:] {
			p, err := db.Open(ctx, db.Options{URL: d.PrimaryURL})
			if err != nil {
				t.Fatal(err)
			}
			var n int
			err = p.QueryRow(ctx, "SELECT count(*) FROM organization_shards").Scan(&n)
			p.Close()
			if err != nil || n != 0 {
				t.Fatalf("another shard's directory holds %d rows (%v)", n, err)
			}
		}
	})
}
