package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"scaleapi/cmd/loadgen/internal/seed"
)

// The endpoints, as reports name them. The list query is the issue's: active projects, newest
// first, a page of 20.
const (
	EndpointGetProject        = "GET /projects/{id}"
	EndpointGetProjectNoCache = "GET /projects/{id}?cache=0"
	EndpointGetProjectTasks   = "GET /projects/{id}?join=tasks"
	EndpointListProjects      = "GET /projects?filter=status||$eq||active&sort=createdAt,DESC&limit=20"
	EndpointCreateProject     = "POST /projects"
	EndpointPatchProject      = "PATCH /projects/{id}"
	EndpointSummary           = "GET /reports/organizations/{id}/summary"
)

// ZipfS is the skew of project popularity within an organization (DESIGN.md: Zipf(1.1)).
const ZipfS = 1.1

var listQuery = url.Values{
	"filter": {"status||$eq||active"},
	"sort":   {"createdAt,DESC"},
	"limit":  {"20"},
}.Encode()

// Session is a logged-in user: its own access token and the organizations it may read.
type Session struct {
	User *seed.User
	Auth string // "Bearer <access token>"
}

// Workload is what requests are made of: the API, the seeded data and the users' sessions.
type Workload struct {
	Base     string // the base URL, without a trailing slash
	Data     *seed.Dataset
	Sessions []Session
}

// Request is one request to make.
type Request struct {
	Endpoint string
	Method   string
	URL      string
	Body     []byte
	Auth     string // the Authorization header, set from the worker's session
}

// Op makes requests of one endpoint; Weight is its share of a mix.
type Op struct {
	Endpoint string
	Weight   int
	Build    func(g *Gen) Request
}

// Gen is one worker's source of requests: its own random numbers (math/rand/v2's generators
// and Zipf are not safe for concurrent use), and its current session and organization.
type Gen struct {
	w    *Workload
	rng  *rand.Rand
	zipf map[int]*rand.Zipf
	id   int
	seq  int
	s    *Session
	org  *seed.Org
}

func newGen(w *Workload, id int, salt uint64) *Gen {
	return &Gen{w: w, rng: rand.New(rand.NewPCG(uint64(id), salt)), zipf: map[int]*rand.Zipf{}, id: id}
}

// next picks the session (uniformly: every user takes an equal share of the load, as many
// clients would) and one of its organizations for the next request.
func (g *Gen) next() {
	g.s = &g.w.Sessions[g.rng.IntN(len(g.w.Sessions))]
	orgs := g.s.User.Orgs
	g.org = &g.w.Data.Orgs[orgs[g.rng.IntN(len(orgs))]]
	g.seq++
}

// project picks a project of the current organization by Zipf(1.1) rank.
func (g *Gen) project() string {
	n := len(g.org.Projects)
	z := g.zipf[n]
	if z == nil {
		z = rand.NewZipf(g.rng, ZipfS, 1, uint64(n-1))
		g.zipf[n] = z
	}
	return g.org.Projects[z.Uint64()].String()
}

// The operations of the mix and of the single-endpoint scenarios.
var (
	GetProject = Op{Endpoint: EndpointGetProject, Build: func(g *Gen) Request {
		return Request{Endpoint: EndpointGetProject, Method: http.MethodGet, URL: g.w.Base + "/projects/" + g.project()}
	}}
	GetProjectNoCache = Op{Endpoint: EndpointGetProjectNoCache, Build: func(g *Gen) Request {
		return Request{Endpoint: EndpointGetProjectNoCache, Method: http.MethodGet, URL: g.w.Base + "/projects/" + g.project() + "?cache=0"}
	}}
	GetProjectTasks = Op{Endpoint: EndpointGetProjectTasks, Build: func(g *Gen) Request {
		return Request{Endpoint: EndpointGetProjectTasks, Method: http.MethodGet, URL: g.w.Base + "/projects/" + g.project() + "?join=tasks"}
	}}
	ListProjects = Op{Endpoint: EndpointListProjects, Build: func(g *Gen) Request {
		return Request{Endpoint: EndpointListProjects, Method: http.MethodGet, URL: g.w.Base + "/projects?" + listQuery}
	}}
	CreateProject = Op{Endpoint: EndpointCreateProject, Build: func(g *Gen) Request {
		body := fmt.Sprintf(`{"organizationId":%q,"name":"bench-new-%d-%d","description":"Created by the load generator.","status":"planning"}`,
			g.org.ID, g.id, g.seq)
		return Request{Endpoint: EndpointCreateProject, Method: http.MethodPost, URL: g.w.Base + "/projects", Body: []byte(body)}
	}}
	PatchProject = Op{Endpoint: EndpointPatchProject, Build: func(g *Gen) Request {
		body := `{"description":"Changed by the load generator, worker ` + strconv.Itoa(g.id) + `, request ` + strconv.Itoa(g.seq) + `."}`
		return Request{Endpoint: EndpointPatchProject, Method: http.MethodPatch, URL: g.w.Base + "/projects/" + g.project(), Body: []byte(body)}
	}}
	Summary = Op{Endpoint: EndpointSummary, Build: func(g *Gen) Request {
		return Request{Endpoint: EndpointSummary, Method: http.MethodGet, URL: g.w.Base + "/reports/organizations/" + g.org.ID.String() + "/summary"}
	}}
)

// Mix is the realistic mix: 70 % GET project, 10 % GET project with its tasks, 10 %
// filtered and sorted list, 5 % create, 5 % PATCH.
func Mix() []Op {
	return []Op{
		weighted(GetProject, 70), weighted(GetProjectTasks, 10), weighted(ListProjects, 10),
		weighted(CreateProject, 5), weighted(PatchProject, 5),
	}
}

// Only is a single-endpoint workload.
func Only(op Op) []Op { return []Op{weighted(op, 1)} }

func weighted(op Op, w int) Op { op.Weight = w; return op }

// Login logs users in through POST /auth/login, conc at a time, and returns their sessions:
// real tokens, issued by the auth function like any client's.
func Login(ctx context.Context, client *http.Client, base string, users []seed.User, password string, conc int) ([]Session, error) {
	sessions := make([]Session, len(users))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(conc, 1))
	var mu sync.Mutex
	for i := range users {
		g.Go(func() error {
			body, _ := json.Marshal(map[string]string{"email": users[i].Email, "password": password})
			var out struct {
				AccessToken string `json:"accessToken"`
			}
			for attempt := 0; ; attempt++ {
				status, b, err := post(ctx, client, base+"/auth/login", body)
				if err != nil {
					return fmt.Errorf("login %s: %w", users[i].Email, err)
				}
				if status == http.StatusTooManyRequests && attempt < 20 {
					time.Sleep(time.Second) // the per-IP limit on public routes: wait it out
					continue
				}
				if status != http.StatusOK {
					return fmt.Errorf("login %s: %d %s", users[i].Email, status, strings.TrimSpace(string(b)))
				}
				if err := json.Unmarshal(b, &out); err != nil || out.AccessToken == "" {
					return fmt.Errorf("login %s: no access token in %q", users[i].Email, b)
				}
				break
			}
			mu.Lock()
			sessions[i] = Session{User: &users[i], Auth: "Bearer " + out.AccessToken}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return sessions, nil
}

func post(ctx context.Context, client *http.Client, u string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// Prime reads every seeded project once through the API, conc at a time, each as a member of
// its organization, so that the scenarios start from the cache a long-running stack would have
// (entries live 300 s) instead of measuring an empty cache filling up. Projects of
// organizations no session belongs to are left out. It returns how many requests were made
// and how many failed.
func Prime(ctx context.Context, client *http.Client, w *Workload, conc int) (n, failed int, err error) {
	member := map[int]*Session{}
	for i := range w.Sessions {
		for _, o := range w.Sessions[i].User.Orgs {
			if member[o] == nil {
				member[o] = &w.Sessions[i]
			}
		}
	}
	type job struct {
		url, auth string
	}
	jobs := make(chan job)
	var bad atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range max(conc, 1) {
		g.Go(func() error {
			for j := range jobs {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", j.auth)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					bad.Add(1)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		for i, o := range w.Data.Orgs {
			s := member[i]
			if s == nil {
				continue
			}
			for _, p := range o.Projects {
				select {
				case jobs <- job{w.Base + "/projects/" + p.String(), s.Auth}:
					n++
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	})
	err = g.Wait()
	return n, int(bad.Load()), err
}
