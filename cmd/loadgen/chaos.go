package main

// loadgen chaos (make chaos): the functions under cmd/local on a Durable devservices stack, an
// open loop of reads and writes, and one fault after another, each held for a bounded time and
// healed; then every acknowledged write is read back through the API and from the database. See
// package chaos for the promises and what the table's columns mean.
//
// The faults reach the functions as they would in AWS: the functions talk to PgBouncer, the
// replica and Redis through TCP proxies (toxiproxy, used as a library: it adds the latency
// without a separate server process), so a latency fault slows every round trip on those links,
// and a killed server is the real one killed (SIGKILL) and started again on its port and data.
// The Redis Cluster segment runs a second cmd/local whose functions use the cluster instead of
// the standalone Redis, because a cluster client learns its nodes from the cluster itself and
// cannot be put behind one proxy.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"scaleapi/cmd/loadgen/internal/chaos"
	"scaleapi/cmd/loadgen/internal/load"
	"scaleapi/cmd/loadgen/internal/seed"
	"scaleapi/internal/samtemplate"
	"scaleapi/shared/devservices"
	"scaleapi/shared/migrations"
)

// chaosOptions are chaos's own flags.
type chaosOptions struct {
	rate     float64
	workers  int
	baseline time.Duration
	hold     time.Duration
	settle   time.Duration
	faults   string
}

func (o *options) chaosFlags(fs *flag.FlagSet, c *chaosOptions) {
	fs.Float64Var(&c.rate, "rate", 100, "requests per second of the open loop, through every fault")
	fs.IntVar(&c.workers, "workers", 200, "the most requests in flight")
	fs.DurationVar(&c.baseline, "baseline", 5*time.Second, "load without a fault before the first one")
	fs.DurationVar(&c.hold, "hold", 4*time.Second, "how long each fault is held before it is healed (the Redis pause is 3 s)")
	fs.DurationVar(&c.settle, "settle", 6*time.Second, "how long the load runs after each heal before the next fault")
	fs.StringVar(&c.faults, "faults", "", "comma-separated fault names to run (default: all, in order: "+strings.Join(faultNames(), ", ")+")")
	fs.StringVar(&o.template, "template", "template.yaml", "the SAM template cmd/local serves")
	fs.IntVar(&o.maxInstances, "max-instances", 10, "cmd/local's -max-instances: the most instances of one function")
	fs.StringVar(&o.goCmd, "go", "go", "the go command that builds the functions and cmd/local")
	fs.StringVar(&o.buildDir, "build-dir", ".local/chaos", "where the function bootstraps, cmd/local and the stack's files go")
	fs.BoolVar(&o.keepStack, "keep", false, "keep the stack's files after the run, for their logs")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Second, "the per-request timeout (longer than the functions' 10 s, so that a function timeout shows as the gateway's answer)")
	fs.StringVar(&o.out, "out", "bench-results", "the directory chaos.json and chaos.txt are written to")
	fs.IntVar(&o.sizes.Organizations, "orgs", 10, "organizations to seed")
	fs.IntVar(&o.sizes.Users, "users", 40, "users to seed (each in 1-3 organizations); all of them log in")
	fs.IntVar(&o.sizes.Projects, "projects", 1000, "projects to seed")
	fs.IntVar(&o.sizes.Tasks, "tasks", 2000, "tasks to seed")
}

// rig is what the faults act on.
type rig struct {
	stack   *devservices.Stack
	proxies map[string]*toxiproxy.Proxy // "pooler", "replica", "redis"
	hog     *pgx.Conn                   // the connection-budget fault's open transaction
	victim  int                         // the cluster node the cluster fault killed
}

// fault is one fault of the run: inject, then heal after the hold.
type fault struct {
	name, what string
	cluster    bool // runs against the functions on the Redis Cluster
	hold       func(c *chaosOptions) time.Duration
	inject     func(ctx context.Context, r *rig) error
	heal       func(ctx context.Context, r *rig) error
}

func held(c *chaosOptions) time.Duration { return c.hold }

// latency is toxiproxy's latency toxic on a proxy's answers, 200 ms.
const latency = `{"name":"latency","type":"latency","stream":"downstream","attributes":{"latency":200,"jitter":0}}`

func addLatency(r *rig, names ...string) error {
	for _, n := range names {
		if _, err := r.proxies[n].Toxics.AddToxicJson(strings.NewReader(latency)); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

func removeLatency(ctx context.Context, r *rig, names ...string) error {
	for _, n := range names {
		if err := r.proxies[n].Toxics.RemoveToxic(ctx, "latency"); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

// faults are the run's faults in the order they run.
var faults = []fault{
	{name: "redis-kill", what: "standalone Redis killed (SIGKILL), restarted on its port and append-only file", hold: held,
		inject: func(_ context.Context, r *rig) error { return r.stack.Kill(devservices.ServerRedis) },
		heal:   func(ctx context.Context, r *rig) error { return r.stack.Restart(ctx, devservices.ServerRedis) }},
	{name: "redis-pause", what: "standalone Redis paused (SIGSTOP) for 3 s", hold: func(*chaosOptions) time.Duration { return 3 * time.Second },
		inject: func(_ context.Context, r *rig) error { return r.stack.Pause(devservices.ServerRedis) },
		heal:   func(_ context.Context, r *rig) error { return r.stack.Resume(devservices.ServerRedis) }},
	{name: "redis-latency", what: "200 ms added to every Redis answer", hold: held,
		inject: func(_ context.Context, r *rig) error { return addLatency(r, "redis") },
		heal:   func(ctx context.Context, r *rig) error { return removeLatency(ctx, r, "redis") }},
	{name: "pg-latency", what: "200 ms added to every PgBouncer and replica answer", hold: held,
		inject: func(_ context.Context, r *rig) error { return addLatency(r, "pooler", "replica") },
		heal:   func(ctx context.Context, r *rig) error { return removeLatency(ctx, r, "pooler", "replica") }},
	{name: "pgbouncer-kill", what: "PgBouncer killed (SIGKILL), restarted on its port", hold: held,
		inject: func(_ context.Context, r *rig) error { return r.stack.Kill(devservices.ServerPgBouncer) },
		heal:   func(ctx context.Context, r *rig) error { return r.stack.Restart(ctx, devservices.ServerPgBouncer) }},
	{name: "replica-kill", what: "replica killed (SIGKILL); synchronous commit off while it is down, restarted, caught up, synchronous again", hold: held,
		inject: func(ctx context.Context, r *rig) error {
			if err := r.stack.Kill(devservices.ServerReplica); err != nil {
				return err
			}
			return r.stack.SetSynchronous(ctx, false)
		},
		heal: func(ctx context.Context, r *rig) error {
			if err := r.stack.Restart(ctx, devservices.ServerReplica); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := devservices.WaitReplay(wctx, r.stack.PrimaryURL, r.stack.ReplicaURL); err != nil {
				return err
			}
			return r.stack.SetSynchronous(ctx, true)
		}},
	{name: "connection-budget", what: "PgBouncer's budget cut from 25 server connections to 1, and that one held in another client's open transaction", hold: held,
		inject: func(ctx context.Context, r *rig) error { return r.exhaustBudget(ctx) },
		heal:   func(ctx context.Context, r *rig) error { return r.restoreBudget(ctx) }},
	{name: "failover", what: "primary killed (SIGKILL), replica promoted, PgBouncer pointed at it", hold: func(*chaosOptions) time.Duration { return 0 },
		inject: func(_ context.Context, r *rig) error { return r.stack.Kill(devservices.ServerPrimary) },
		heal:   func(ctx context.Context, r *rig) error { return r.stack.Failover(ctx) }},
	{name: "cluster-master-kill", what: "a Redis Cluster master killed (SIGKILL) and its replica promoted, then restarted as a replica", cluster: true,
		hold: func(*chaosOptions) time.Duration { return 0 },
		inject: func(ctx context.Context, r *rig) (err error) {
			r.victim, err = r.stack.KillClusterMaster(ctx)
			return err
		},
		heal: func(ctx context.Context, r *rig) error { return r.stack.RestartClusterNode(ctx, r.victim) }},
}

func faultNames() []string {
	var names []string
	for _, f := range faults {
		names = append(names, f.name)
	}
	return names
}

// exhaustBudget leaves the functions no server connection: PgBouncer's budget is cut to one, and
// another client (an environment of another function, a migration) holds that one in an open
// transaction. Every query of the functions then waits in PgBouncer's queue until
// query_wait_timeout, as Lambda environments outnumbering the proxy's connections do when the
// ones holding them are slow.
func (r *rig) exhaustBudget(ctx context.Context) error {
	if err := r.stack.SetPoolerBudget(ctx, 1); err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(r.stack.PoolerURL)
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	// The load competes for the slot, and a query that waited query_wait_timeout fails: try
	// again, as the other client would.
	for attempt := 1; ; attempt++ {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		if _, err = c.Exec(ctx, "BEGIN; SELECT txid_current()"); err == nil {
			r.hog = c
			return nil
		}
		_ = c.Close(ctx)
		if attempt == 5 {
			return fmt.Errorf("hold the server connection: %w", err)
		}
	}
}

func (r *rig) restoreBudget(ctx context.Context) error {
	var err error
	if r.hog != nil {
		_, err = r.hog.Exec(ctx, "ROLLBACK")
		err = errors.Join(err, r.hog.Close(ctx))
		r.hog = nil
	}
	return errors.Join(err, r.stack.SetPoolerBudget(ctx, 0))
}

// chaosRun is `loadgen chaos`.
func chaosRun(ctx context.Context, o *options, c *chaosOptions) error {
	begun := time.Now()
	picked := faults
	if c.faults != "" {
		picked = nil
		for _, n := range strings.Split(c.faults, ",") {
			i := slices.IndexFunc(faults, func(f fault) bool { return f.name == strings.TrimSpace(n) })
			if i < 0 {
				return fmt.Errorf("chaos: no fault %q (faults: %s)", n, strings.Join(faultNames(), ", "))
			}
			picked = append(picked, faults[i])
		}
	}
	tpl, err := samtemplate.Parse(o.template, samtemplate.Options{Region: "us-east-1"})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	buildDir, err := filepath.Abs(o.buildDir)
	if err != nil {
		return err
	}
	stackDir := filepath.Join(buildDir, "stack")
	_ = os.RemoveAll(stackDir)
	if err := os.MkdirAll(stackDir, 0o755); err != nil {
		return err
	}
	if !o.keepStack {
		defer os.RemoveAll(stackDir)
	}

	var stack *devservices.Stack
	var localBin string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		slog, err := os.Create(filepath.Join(o.out, "chaos-services.log"))
		if err != nil {
			return err
		}
		s, err := devservices.Start(ctx, devservices.Options{Dir: stackDir, Replica: true, PgBouncer: true, Redis: true,
			ClusterReplicas: true, Durable: true, Log: slog})
		if err != nil {
			return fmt.Errorf("start services: %w", err)
		}
		stack = s
		if err := migrations.Up(gctx, s.PrimaryURL); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		localBin, err = build(gctx, o, tpl, buildDir)
		return err
	})
	err = g.Wait()
	if stack != nil {
		defer func() {
			if err := stack.Stop(); err != nil {
				progress("stop services: " + err.Error())
			}
		}()
	}
	if err != nil {
		return err
	}
	progress(fmt.Sprintf("durable stack (primary + synchronous replica, PgBouncer, Redis with AOF, Redis Cluster 3+3) and build ready in %s", time.Since(begun).Round(time.Millisecond)))
	data, err := seed.Seed(ctx, stack.PrimaryURL, o.sizes, progress)
	if err != nil {
		return err
	}

	r := &rig{stack: stack, proxies: map[string]*toxiproxy.Proxy{}}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	for name, upstream := range map[string]string{"pooler": stack.PoolerURL, "replica": stack.ReplicaURL, "redis": stack.RedisURL} {
		u, err := url.Parse(upstream)
		if err != nil {
			return err
		}
		p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", u.Host)
		if err := p.Start(); err != nil {
			return fmt.Errorf("proxy %s: %w", name, err)
		}
		defer p.Stop()
		r.proxies[name] = p
	}
	via := func(name, upstream string) string {
		u, _ := url.Parse(upstream)
		u.Host = r.proxies[name].Listen
		return u.String()
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	// The proxies' addresses stay what the functions connect to: after the failover the
	// "replica" proxy leads to the promoted server, as a reader endpoint with no reader left
	// leads to the writer.
	poolerURL, readerURL := via("pooler", stack.PoolerURL), via("replica", stack.ReplicaURL)
	env := func(redisURL string, cluster bool) []string {
		return append(os.Environ(),
			"DATABASE_URL="+poolerURL,
			"DATABASE_READER_URL="+readerURL,
			"DATABASE_IAM_AUTH=false",
			"REDIS_URL="+redisURL,
			fmt.Sprintf("REDIS_CLUSTER=%t", cluster),
			"JWT_SECRET="+hex.EncodeToString(secret),
		)
	}
	client := load.NewClient(c.workers, o.timeout)
	ledger := &chaos.Ledger{}
	var faultsRun []chaos.Fault
	crashes := map[string]int64{}
	tenantsByOrg := map[string]*chaos.Tenant{}

	// segment runs the faults of one cmd/local: standalone Redis or the cluster.
	segment := func(cluster bool, list []fault, baseline bool) error {
		redisURL := via("redis", stack.RedisURL)
		name := "chaos-local.log"
		if cluster {
			redisURL, name = stack.RedisClusterURL, "chaos-local-cluster.log"
		}
		local, err := startLocal(ctx, o, localSpec{bin: localBin, buildDir: buildDir, log: name, env: env(redisURL, cluster)})
		if err != nil {
			return err
		}
		defer local.stop()
		sessions, err := load.Login(ctx, client, local.base, data.Users, seed.Password, 8)
		if err != nil {
			return err
		}
		var tenants []*chaos.Tenant
		for _, s := range sessions {
			for _, oi := range s.User.Orgs {
				org := data.Orgs[oi]
				ids := make([]string, len(org.Projects))
				for i, p := range org.Projects {
					ids[i] = p.String()
				}
				t := chaos.NewTenant(strings.TrimPrefix(s.Auth, "Bearer "), org.ID.String(), ids)
				tenants = append(tenants, t)
				if !cluster { // the check's cmd/local uses the standalone Redis, where these sessions are
					tenantsByOrg[org.ID.String()] = t
				}
			}
		}
		progress(fmt.Sprintf("cmd/local serving %s (Redis %s), %d tenants logged in", local.base, map[bool]string{false: "standalone", true: "cluster"}[cluster], len(tenants)))
		lg := &chaos.Load{Base: local.base, Client: client, Tenants: tenants, Rate: c.rate, Workers: c.workers, Ledger: ledger}
		lctx, stopLoad := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); lg.Run(lctx) }()
		defer func() { stopLoad(); wg.Wait() }()
		sleep := func(d time.Duration) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
				return nil
			}
		}
		if baseline {
			start := time.Now()
			if err := sleep(c.baseline); err != nil {
				return err
			}
			faultsRun = append(faultsRun, chaos.Fault{Name: "baseline", What: "no fault", Inject: start, Heal: time.Now(), Settled: time.Now()})
		}
		for _, f := range list {
			before := local.collector.Failures()
			fr := chaos.Fault{Name: f.name, What: f.what, Inject: time.Now()}
			if err := f.inject(ctx, r); err != nil {
				return fmt.Errorf("%s: inject: %w", f.name, err)
			}
			if err := sleep(f.hold(c)); err != nil {
				return err
			}
			if err := f.heal(ctx, r); err != nil {
				return fmt.Errorf("%s: heal: %w", f.name, err)
			}
			fr.Heal = time.Now()
			progress(fmt.Sprintf("%s: held %s, healed", f.name, fr.Heal.Sub(fr.Inject).Round(time.Millisecond)))
			if err := sleep(c.settle); err != nil {
				return err
			}
			fr.Settled = time.Now()
			crashes[f.name] = local.collector.Failures() - before
			faultsRun = append(faultsRun, fr)
		}
		stopLoad()
		wg.Wait()
		if n := lg.Unsent(); n > 0 {
			progress(fmt.Sprintf("note: %d due requests found all %d workers busy and were not sent", n, c.workers))
		}
		select {
		case <-local.done:
			return errors.New("cmd/local exited during the run")
		default:
		}
		return nil
	}
	var standalone, onCluster []fault
	for _, f := range picked {
		if f.cluster {
			onCluster = append(onCluster, f)
		} else {
			standalone = append(standalone, f)
		}
	}
	if err := segment(false, standalone, true); err != nil {
		return err
	}
	if len(onCluster) > 0 {
		if err := segment(true, onCluster, false); err != nil {
			return err
		}
	}

	// The durability check: through the API of a fresh cmd/local on the healed stack, and from
	// the primary that is left.
	local, err := startLocal(ctx, o, localSpec{bin: localBin, buildDir: buildDir, log: "chaos-local-check.log", env: env(via("redis", stack.RedisURL), false)})
	if err != nil {
		return err
	}
	defer local.stop()
	rec := ledger.Records()
	fromAPI, err := readBackAPI(ctx, client, local.base, rec.Acks, tenantsByOrg)
	if err != nil {
		return err
	}
	fromDB, err := readBackDB(ctx, stack.PrimaryURL, rec.Acks)
	if err != nil {
		return err
	}
	lost := append(chaos.Check(rec.Acks, "api", fromAPI), chaos.Check(rec.Acks, "database", fromDB)...)
	stale := chaos.StaleReads(rec.Acks, rec.Reads)

	var lines []chaos.Line
	holds := true
	for _, f := range faultsRun {
		l := chaos.Summarize(f, rec.Answers, rec.Acks, rec.Unknown, lost, stale)
		l.Crashes = crashes[f.Name]
		holds = holds && l.Holds()
		lines = append(lines, l)
	}
	var b strings.Builder
	chaos.Table(&b, lines)
	fmt.Fprintf(&b, "\n%d requests, %d writes acknowledged (%d rows), %d of unknown outcome; lost: %d; stale reads after a heal: %d; read back through the API and from the primary.\n",
		len(rec.Answers), len(rec.Acks), len(fromDB), len(rec.Unknown), len(lost), countAfter(lines))
	if holds {
		b.WriteString("every must-be-0 is 0.\n")
	} else {
		b.WriteString("FAILED: a must-be-0 is not 0 (see chaos.json).\n")
	}
	fmt.Print(b.String())
	report := map[string]any{
		"command": o.command, "started": begun.UTC(), "tookSeconds": time.Since(begun).Seconds(),
		"rate": c.rate, "hold": c.hold.String(), "settle": c.settle.String(),
		"faults": faultsRun, "lines": lines, "lost": lost, "stale": stale,
		"acked": len(rec.Acks), "unknown": len(rec.Unknown), "requests": len(rec.Answers), "holds": holds,
	}
	j, _ := json.MarshalIndent(report, "", "  ")
	if err := os.WriteFile(filepath.Join(o.out, "chaos.json"), j, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "chaos.txt"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	progress(fmt.Sprintf("make chaos took %s; %s and %s", time.Since(begun).Round(time.Second), filepath.Join(o.out, "chaos.txt"), filepath.Join(o.out, "chaos.json")))
	if !holds {
		return errors.New("chaos: a promise did not hold")
	}
	return nil
}

func countAfter(lines []chaos.Line) (n int64) {
	for _, l := range lines {
		n += l.StaleAfter
	}
	return n
}

// readBackAPI reads the row of every acknowledged write through the API, as a member of its
// organization; a 404 leaves the row out (lost).
func readBackAPI(ctx context.Context, client *http.Client, base string, acks []chaos.Ack, tenants map[string]*chaos.Tenant) (map[string]chaos.Row, error) {
	orgOf := map[string]string{}
	for _, a := range acks {
		orgOf[a.ID] = a.Org
	}
	rows := map[string]chaos.Row{}
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for id, org := range orgOf {
		g.Go(func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/projects/"+id, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+tenants[org].Token)
			for attempt := 0; ; attempt++ {
				resp, err := client.Do(req)
				if err != nil {
					return fmt.Errorf("read back %s: %w", id, err)
				}
				var row chaos.Row
				derr := json.NewDecoder(resp.Body).Decode(&row)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusOK && derr == nil:
					mu.Lock()
					rows[id] = row
					mu.Unlock()
					return nil
				case resp.StatusCode == http.StatusNotFound:
					return nil
				case resp.StatusCode == http.StatusTooManyRequests && attempt < 30:
					time.Sleep(time.Second)
				default:
					return fmt.Errorf("read back %s: %d", id, resp.StatusCode)
				}
			}
		})
	}
	return rows, g.Wait()
}

// readBackDB reads the rows of every acknowledged write from the primary.
func readBackDB(ctx context.Context, primaryURL string, acks []chaos.Ack) (map[string]chaos.Row, error) {
	conn, err := pgx.Connect(ctx, primaryURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ids := map[string]bool{}
	for _, a := range acks {
		ids[a.ID] = true
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	rs, err := conn.Query(ctx, "SELECT id::text, version, name, description FROM projects WHERE id = ANY($1::uuid[])", list)
	if err != nil {
		return nil, err
	}
	rows := map[string]chaos.Row{}
	for rs.Next() {
		var r chaos.Row
		if err := rs.Scan(&r.ID, &r.Version, &r.Name, &r.Description); err != nil {
			return nil, err
		}
		rows[r.ID] = r
	}
	return rows, rs.Err()
}
