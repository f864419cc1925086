package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The operations of the mix.
const (
	OpRead    = "read"    // GET /projects/{id}: the cache-aside path
	OpList    = "list"    // GET /projects?filter=organizationId: a list, cached per scope
	OpSummary = "summary" // GET /reports/organizations/{id}/summary: the replica
	OpCreate  = "create"  // POST /projects
	OpPatch   = "patch"   // PATCH /projects/{id}
)

// Mix is the run's share of each operation, in percent: reads dominate, as in the bench mix, and
// a third of the requests write, so that each fault meets writes in flight.
var Mix = []struct {
	Op     string
	Weight int
}{{OpRead, 50}, {OpList, 10}, {OpSummary, 5}, {OpCreate, 15}, {OpPatch, 20}}

// Tenant is one logged-in user acting in one of its organizations.
type Tenant struct {
	Token    string
	Org      string
	projects []string // the seeded ones, then those this run created
	mu       sync.Mutex
}

// NewTenant returns a tenant whose reads and writes start with projects.
func NewTenant(token, org string, projects []string) *Tenant {
	return &Tenant{Token: token, Org: org, projects: projects}
}

func (t *Tenant) pick(rng *rand.Rand) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.projects) == 0 {
		return "", false
	}
	// Half the picks go to the newest tenth: the rows this run wrote, whose reads can be stale.
	n := len(t.projects)
	if rng.IntN(2) == 0 && n > 10 {
		return t.projects[n-1-rng.IntN(n/10)], true
	}
	return t.projects[rng.IntN(n)], true
}

func (t *Tenant) add(id string) {
	t.mu.Lock()
	t.projects = append(t.projects, id)
	t.mu.Unlock()
}

// Load is an open loop: requests are due at a fixed rate whatever the answers take, each counted
// from its due time, so that a stalled dependency shows in the latencies instead of slowing the
// load down (no coordinated omission).
type Load struct {
	Base    string
	Client  *http.Client
	Tenants []*Tenant
	Rate    float64 // requests per second
	Workers int     // the most requests in flight; a due request finding none free is unsent
	Ledger  *Ledger

	unsent atomic.Int64
	seq    atomic.Int64
}

// Unsent returns how many due requests found every worker busy.
func (l *Load) Unsent() int64 { return l.unsent.Load() }

// Run sends requests until ctx is done, then waits for those in flight.
func (l *Load) Run(ctx context.Context) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, l.Workers)
	interval := time.Duration(float64(time.Second) / l.Rate)
	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), 7))
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			wg.Wait()
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			l.unsent.Add(1)
			continue
		}
		op := pickOp(rng)
		t := l.Tenants[rng.IntN(len(l.Tenants))]
		seed := rng.Uint64()
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			l.do(op, t, due, rand.New(rand.NewPCG(seed, 11)))
		}()
	}
}

func pickOp(rng *rand.Rand) string {
	n := rng.IntN(100)
	for _, m := range Mix {
		if n < m.Weight {
			return m.Op
		}
		n -= m.Weight
	}
	return OpRead
}

// do sends one request and records it.
func (l *Load) do(op string, t *Tenant, due time.Time, rng *rand.Rand) {
	var method, url string
	var body []byte
	id := ""
	switch op {
	case OpRead, OpPatch:
		var ok bool
		if id, ok = t.pick(rng); !ok {
			return
		}
		method, url = http.MethodGet, l.Base+"/projects/"+id
		if op == OpPatch {
			method = http.MethodPatch
			body = fmt.Appendf(nil, `{"description":"chaos patch %d"}`, l.seq.Add(1))
		}
	case OpList:
		method, url = http.MethodGet, l.Base+"/projects?filter=organizationId||$eq||"+t.Org+"&sort=createdAt,DESC&limit=20"
	case OpSummary:
		method, url = http.MethodGet, l.Base+"/reports/organizations/"+t.Org+"/summary"
	case OpCreate:
		method, url = http.MethodPost, l.Base+"/projects"
		body = fmt.Appendf(nil, `{"organizationId":%q,"name":"chaos %d","description":"created under faults","status":"active"}`, t.Org, l.seq.Add(1))
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		panic(err) // the URLs are built above from ids the API gave
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := l.Client.Do(req)
	var status int
	var data []byte
	retryAfter := false
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		status, retryAfter = resp.StatusCode, resp.Header.Get("Retry-After") != ""
		if err != nil {
			status = 0 // an answer cut off is no answer
		}
	}
	end := time.Now()
	l.Ledger.Answered(Answer{Op: op, Due: due, Start: start, End: end, Status: status, RetryAfter: retryAfter})
	write := op == OpCreate || op == OpPatch
	switch {
	case status >= 200 && status < 300:
		var row Row
		if jerr := json.Unmarshal(data, &row); jerr != nil || row.ID == "" || row.Version == 0 {
			// A 2xx whose body is not the row: the write's outcome can't be told.
			if write {
				l.Ledger.Unsure(Unknown{ID: id, Op: op, Status: status, Start: start})
			}
			return
		}
		if write {
			l.Ledger.Acked(Ack{ID: row.ID, Version: row.Version, Hash: row.Hash(), Op: op, Org: t.Org, Start: start, End: end})
			if op == OpCreate {
				t.add(row.ID)
			}
		} else if op == OpRead {
			l.Ledger.ReadRow(Read{ID: row.ID, Version: row.Version, Start: start})
		}
	case write && (status == 0 || status >= 500):
		l.Ledger.Unsure(Unknown{ID: id, Op: op, Status: status, Start: start})
	}
}
