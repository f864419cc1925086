package move_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"scaleapi"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/resource"
	rt "scaleapi/shared/resource/resourcetest"
	"scaleapi/shared/shard"
	"scaleapi/shared/shard/move"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

func tables(t *testing.T) []resource.TenantTable {
	s, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return eng.TenantTables()
}

// acked is what the API acknowledged of one project: its id and the last version it answered.
type acked struct {
	mu       sync.Mutex
	versions map[uuid.UUID]int
}

func (a *acked) put(id uuid.UUID, v int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v > a.versions[id] {
		a.versions[id] = v
	}
}

// TestMoveLosesNoWrite moves an organization between shards while four clients create and
// change its projects without pause: every write the API acknowledged is on the new shard
// afterwards (at its version or later), none of the organization's rows is left on the old
// one, its writes were refused only with 503 and Retry-After, for seconds, and another
// organization on the old shard was never refused.
func TestMoveLosesNoWrite(t *testing.T) {
	env := rt.NewSharded(t, 3)
	app := rt.NewAppOn(t, env)
	ctx := context.Background()
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	from, err := env.Shards.For(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	// A neighbour on the same shard, whose writes the move must not touch.
	var neighbour uuid.UUID
	for range 40 {
		o := app.Org(t, alice)
		if sh, _ := env.Shards.For(ctx, o); sh == from {
			neighbour = o
			break
		}
	}
	if neighbour == uuid.Nil {
		t.Fatal("no second organization landed on the first one's shard")
	}
	to := "s1"
	if from.Name() == "s1" {
		to = "s2"
	}
	ack := &acked{versions: map[uuid.UUID]int{}}
	var seed []uuid.UUID
	for i := range 10 {
		id := app.Project(t, alice, org, fmt.Sprintf("seed %d", i))
		app.Task(t, alice, id, "a task")
		ack.put(id, 1)
		seed = append(seed, id)
	}

	var refused, neighbourRefused, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				target := org
				if i%5 == 4 {
					target = neighbour
				}
				var resp *rt.Response
				if i%2 == 0 {
					resp = app.Do(alice, rt.Request{Method: "POST", Path: "/projects",
						Body: fmt.Sprintf(`{"organizationId":%q,"name":"w%d-%d"}`, target, w, i)})
				} else {
					target = org
					resp = app.Do(alice, rt.Request{Method: "PATCH", Path: "/projects/" + seed[(w+i)%len(seed)].String(),
						Body: fmt.Sprintf(`{"description":"w%d-%d"}`, w, i)})
				}
				switch resp.Code {
				case http.StatusOK, http.StatusCreated:
					var c rt.Created
					if err := json.Unmarshal(resp.Body.Bytes(), &c); err != nil {
						failures.Add(1)
						continue
					}
					if target == org {
						ack.put(c.ID, c.Version)
					}
				case http.StatusServiceUnavailable:
					if resp.Header().Get("Retry-After") == "" {
						t.Errorf("a 503 without Retry-After: %s", resp.Body)
					}
					if target == neighbour {
						neighbourRefused.Add(1)
					}
					refused.Add(1)
					time.Sleep(20 * time.Millisecond)
				default:
					failures.Add(1)
					t.Errorf("write answered %d: %s", resp.Code, resp.Body)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // writes before the move
	rep, err := move.Organization(ctx, move.Options{Shards: env.Shards, Tables: tables(t), Cache: env.Cache}, org, to)
	time.Sleep(shard.DefaultLocalTTL + 500*time.Millisecond) // writes after it, on the new shard
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("moved %s → %s: %d rows in the final copy, writes frozen %v, %d writes refused, %d acknowledged projects",
		rep.From, rep.To, rep.Rows, rep.Frozen.Round(time.Millisecond), refused.Load(), len(ack.versions))
	if refused.Load() == 0 {
		t.Error("no write was refused: the freeze did not happen while the clients wrote")
	}
	if n := neighbourRefused.Load(); n != 0 {
		t.Errorf("%d writes of the neighbour organization were refused", n)
	}
	if rep.Frozen > 4*shard.DefaultLocalTTL {
		t.Errorf("writes frozen for %v", rep.Frozen)
	}

	dst, _ := env.Shards.Named(to)
	if p, err := env.Shards.Lookup(ctx, org); err != nil || p.Shard != to || !p.FrozenUntil.IsZero() {
		t.Fatalf("directory after the move: %+v, %v", p, err)
	}
	newConn, _ := dst.Primary(ctx)
	oldConn, _ := from.Primary(ctx)
	for id, v := range ack.versions {
		var got int
		if err := newConn.QueryRow(ctx, "SELECT version FROM projects WHERE id = $1", id).Scan(&got); err != nil || got < v {
			t.Errorf("acknowledged project %s (version %d) on the new shard: version %d, %v", id, v, got, err)
		}
	}
	for _, table := range []string{"projects", "tasks"} {
		var n int
		if err := oldConn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE organization_id = $1", org).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d of the organization's %s left on the old shard (%v)", n, table, err)
		}
	}
	var tasks int
	if err := newConn.QueryRow(ctx, "SELECT count(*) FROM tasks WHERE organization_id = $1", org).Scan(&tasks); err != nil || tasks != len(seed) {
		t.Errorf("tasks on the new shard: %d, want %d (%v)", tasks, len(seed), err)
	}
	// The API serves the organization from its new shard: lists and reads, and writes.
	page := app.List(t, alice, "/projects?filter=organizationId||$eq||"+org.String()+"&limit=1")
	if page.Total != len(ack.versions) {
		t.Errorf("the API lists %d projects of the organization, %d were acknowledged", page.Total, len(ack.versions))
	}
	app.Project(t, alice, org, "after the move")
	if failures.Load() != 0 {
		t.Errorf("%d writes failed", failures.Load())
	}
}
