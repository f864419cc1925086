package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// class is a kind of request in the mix, priced from the benchmark rows that measured it.
type class struct {
	key, what, function string
	hit                 string // the measured row (a cacheable read: its cache hit)
	// miss is the row of a cacheable read's cache miss. A cacheable read whose miss was not
	// measured (missLikeGet) is priced as its hit plus what a miss adds to GET /projects/{id}:
	// the same query and the extra Redis round trips that fill the cache.
	miss        string
	missLikeGet bool
	// reader: the miss's queries go to the Aurora reader (the reports read DATABASE_READER_URL).
	reader bool
}

func (c class) cacheable() bool { return c.miss != "" || c.missLikeGet }

const (
	getCached   = "projects/get-cached"
	getUncached = "projects/get-uncached"
)

// classes are the requests of the mix, each with the benchmark rows of its route.
var classes = []class{
	{key: "get", what: "GET /projects/{id}", function: "EntitiesFunction", hit: getCached, miss: getUncached},
	{key: "join", what: "GET /projects/{id}?join=tasks", function: "EntitiesFunction", hit: "projects/get-join-tasks", missLikeGet: true},
	{key: "list", what: "GET /projects?filter=…&limit=20", function: "EntitiesFunction", hit: "projects/list-cached", missLikeGet: true},
	{key: "summary", what: "GET /reports/organizations/{id}/summary", function: "ReportsFunction", hit: "reports/summary-cached", miss: "reports/summary-uncached", reader: true},
	{key: "create", what: "POST /projects", function: "EntitiesFunction", hit: "projects/create"},
	{key: "patch", what: "PATCH /projects/{id}", function: "EntitiesFunction", hit: "projects/patch"},
	{key: "me", what: "GET /auth/me", function: "AuthFunction", hit: "auth/me"},
	{key: "login", what: "POST /auth/login", function: "AuthFunction", hit: "auth/login"},
	{key: "org", what: "GET /organizations/{id}", function: "OrganizationsFunction", hit: "organizations/get"},
	{key: "orgs", what: "GET /organizations", function: "OrganizationsFunction", hit: "organizations/list"},
}

// measuredRows are the benchmark rows the classes need.
func measuredRows() []string {
	rows := []string{getCached, getUncached}
	for _, c := range classes {
		rows = append(rows, c.hit)
		if c.miss != "" {
			rows = append(rows, c.miss)
		}
	}
	slices.Sort(rows)
	return slices.Compact(rows)
}

// item is one variant of a class (its hit, its miss, or the class itself) with its share of all
// requests and its cost.
type item struct {
	class   class
	variant string // "hit", "miss" or ""
	weight  float64
	cost    RouteCost
	reader  bool
}

func items(costs *Costs, a *Assumptions) []item {
	var out []item
	get, getMiss := costs.Routes[getCached], costs.Routes[getUncached]
	for _, c := range classes {
		w := a.Mix[c.key] / 100
		if w == 0 {
			continue
		}
		hit := costs.Routes[c.hit]
		if !c.cacheable() {
			out = append(out, item{class: c, weight: w, cost: hit})
			continue
		}
		miss := costs.Routes[c.miss]
		if c.missLikeGet {
			miss = RouteCost{
				WallUs:     hit.WallUs + getMiss.WallUs - get.WallUs,
				CPUUs:      hit.CPUUs + getMiss.CPUUs - get.CPUUs,
				PGTrips:    hit.PGTrips + getMiss.PGTrips - get.PGTrips,
				RedisTrips: hit.RedisTrips + getMiss.RedisTrips - get.RedisTrips,
			}
		}
		out = append(out,
			item{class: c, variant: "hit", weight: w * a.HitRate, cost: hit},
			item{class: c, variant: "miss", weight: w * (1 - a.HitRate), cost: miss, reader: c.reader})
	}
	return out
}

// lambdaVCPU is the memory at which Lambda gives a function one full vCPU; below it the CPU
// share is proportional to memory (AWS: "1,769 MB, the equivalent of one vCPU").
const lambdaVCPU = 1769.0

func vcpuShare(memoryMB int) float64 { return math.Min(1, float64(memoryMB)/lambdaVCPU) }

// durationMs is what one invocation of it takes in Lambda at memoryMB: its CPU (the handler's and
// the Runtime API loop's, scaled by -cpu-factor) stretched by the environment's vCPU share, plus
// the time it waits on PostgreSQL and Redis (its measured wall time beyond its CPU) and one VPC
// network round trip (-rtt-ms) per database or cache round trip, which the benchmark made on
// loopback. It is the busy environment's figure: the CPU share throttles every invocation.
func durationMs(it item, loop RouteCost, memoryMB int, a *Assumptions) float64 {
	cpu := (it.cost.CPUUs + loop.CPUUs) * a.CPUFactor
	wait := math.Max(0, it.cost.WallUs-it.cost.CPUUs)
	return (cpu/vcpuShare(memoryMB)+wait)/1000 + (it.cost.PGTrips+it.cost.RedisTrips)*a.RTTms
}

// FunctionCost is one function's share of the traffic and what an invocation of it costs.
type FunctionCost struct {
	Name       string
	MemoryMB   int
	DBMaxConns int
	Weight     float64 // its share of all requests
	DurationMs float64 // mean Lambda duration of an invocation
	BilledMs   float64 // mean billed duration (Lambda rounds each invocation up to 1 ms)
	PGTrips    float64 // mean database round trips per invocation
}

// Profile is the mix priced: per request, independent of the load.
type Profile struct {
	Items     []item
	Functions []*FunctionCost // those the mix reaches, by name
	// Per request of the mix, on average:
	WriterTrips, ReaderTrips, RedisTrips float64
}

func profile(costs *Costs, stack *Stack, a *Assumptions) (*Profile, error) {
	p := &Profile{Items: items(costs, a)}
	byName := map[string]*FunctionCost{}
	for _, it := range p.Items {
		fn := it.class.function
		f := byName[fn]
		if f == nil {
			sf, ok := stack.Functions[fn]
			if !ok {
				return nil, fmt.Errorf("the template has no %s, which serves %s", fn, it.class.what)
			}
			if m, ok := a.MemoryMB[fn]; ok {
				sf.MemoryMB = m
			}
			f = &FunctionCost{Name: fn, MemoryMB: sf.MemoryMB, DBMaxConns: sf.DBMaxConns}
			byName[fn] = f
			p.Functions = append(p.Functions, f)
		}
		d := durationMs(it, costs.Loop, f.MemoryMB, a)
		f.Weight += it.weight
		f.DurationMs += it.weight * d
		f.BilledMs += it.weight * math.Ceil(d)
		f.PGTrips += it.weight * it.cost.PGTrips
		if it.reader {
			p.ReaderTrips += it.weight * it.cost.PGTrips
		} else {
			p.WriterTrips += it.weight * it.cost.PGTrips
		}
		p.RedisTrips += it.weight * it.cost.RedisTrips
	}
	for _, f := range p.Functions {
		f.DurationMs /= f.Weight
		f.BilledMs /= f.Weight
		f.PGTrips /= f.Weight
	}
	slices.SortFunc(p.Functions, func(x, y *FunctionCost) int { return strings.Compare(x.Name, y.Name) })
	return p, nil
}

// Band is one row of the seed's scaling guideline table.
type Band struct {
	Name string
	// Users is the count the plan sizes the band for: its upper edge, and ten times the lower
	// edge for the open-ended 100K+.
	Users                      float64
	Instances, Database, Cache string // the seed's own figures
}

var bands = []Band{
	{"0–1K", 1_000, "1–2", "single DB", "optional"},
	{"1K–10K", 10_000, "2–4", "+ replica", "Redis"},
	{"10K–100K", 100_000, "4–10", "+ read replicas", "Redis Cluster"},
	{"100K+", 1_000_000, "10+", "sharding", "Redis Cluster"},
}

// bandOf is the index of the band a user count falls in.
func bandOf(users float64) int {
	for i, b := range bands[:len(bands)-1] {
		if users <= b.Users {
			return i
		}
	}
	return len(bands) - 1
}

// Load is a number of users and the request rate they make.
type Load struct {
	Name            string
	Users           float64
	PeakRPS, AvgRPS float64
	Band            int
}

// loadOf derives what a load leaves out: the request rate from the users (active share ×
// requests per active user per day, times the peak factor at the peak), or the users from a
// given peak rate.
func loadOf(name string, users, peakRPS float64, a *Assumptions) Load {
	perUser := a.ActiveShare * a.RequestsPerUser / 86400 // average requests/s per user
	switch {
	case peakRPS == 0:
		peakRPS = users * perUser * a.Peak
	case users == 0:
		users = peakRPS / a.Peak / perUser
	}
	return Load{Name: name, Users: users, PeakRPS: peakRPS, AvgRPS: peakRPS / a.Peak, Band: bandOf(users)}
}

// FunctionPlan is one function's concurrency at a load.
type FunctionPlan struct {
	*FunctionCost
	Peak, Steady float64 // Lambda concurrency (Little's law: requests/s × duration)
	// ProvisionedMin and ProvisionedMax are the provisioned concurrency target tracking holds
	// at -target utilisation at the steady load and at the peak; 0 without -provisioned.
	ProvisionedMin, ProvisionedMax int
	// Reserved is its share of what the proxy's connection budget allows; 0 for a function that
	// opens no database connection, left unreserved.
	Reserved int
}

// Plan is the stack sized for one load.
type Plan struct {
	Load
	Functions []*FunctionPlan
	// The database.
	MaxACU         float64 // AuroraMaxCapacity the plan asks for
	MaxConnections int     // Aurora's max_connections at MaxACU
	ProxyBudget    int     // the connections the proxy may open (MaxConnectionsPercent of it)
	ClientConns    int     // what the reserved environments may open at most
	PeakClientConn float64 // what the peak's environments hold open
	BusyConns      float64 // proxy → Aurora connections in use at the peak (multiplexed)
	WriterQPS      float64
	ReaderQPS      float64
	WriterNeed     float64 // ACUs the writer's queries need at the peak, before MinCapacity
	ReaderNeed     float64
	// Shards is how many Aurora clusters the tenants are spread over (DATABASE_SHARDS): two from
	// the seed's 100K+ band, more when one writer can't take a shard's share; the ACU figures
	// below are each shard's.
	Shards    int
	WriterACU float64 // at the peak, at least MinCapacity
	Readers   int
	ACUHours  float64 // a month of the writer and readers, at the steady load
	// The cache.
	CacheCmdsPeak float64 // Redis commands/s at the peak, each one ECPU
	CacheGB       float64
	Cluster       bool
	ClusterWhy    string
	// Cost is the monthly estimate, by line.
	Cost  []CostLine
	Notes []string
}

// CostLine is one line of the monthly estimate.
type CostLine struct {
	What string
	USD  float64
}

// Total is the sum of the estimate's lines.
func (p *Plan) Total() float64 {
	var t float64
	for _, c := range p.Cost {
		t += c.USD
	}
	return t
}

// auroraMaxConnections is the max_connections Aurora PostgreSQL Serverless v2 gives an instance:
// it derives it from the memory of the maximum capacity, about 210 per ACU (AWS's table: 189 at
// 1 ACU, 3,360 at 16), at most 5,000, and at most 2,000 with a minimum capacity below 1 ACU.
func auroraMaxConnections(minACU, maxACU float64) int {
	n := math.Min(5000, 210*maxACU)
	if minACU < 1 {
		n = math.Min(n, 2000)
	}
	return int(n)
}

// maxAuroraACU is the largest capacity one Aurora Serverless v2 instance scales to.
const maxAuroraACU = 256

// unreservedFloor is the concurrency AWS keeps unreserved in every account.
const unreservedFloor = 100

func plan(l Load, p *Profile, stack *Stack, prices *Prices, a *Assumptions) *Plan {
	pl := &Plan{Load: l}
	secondsPerMonth := prices.HoursPerMonth * 3600

	// Functions: Little's law at the peak and at the steady load.
	var needConns, needEnvs float64
	for _, f := range p.Functions {
		fp := &FunctionPlan{FunctionCost: f}
		fp.Peak = l.PeakRPS * f.Weight * f.DurationMs / 1000
		fp.Steady = l.AvgRPS * f.Weight * f.DurationMs / 1000
		if a.Provisioned {
			fp.ProvisionedMin = int(math.Ceil(fp.Steady / a.Target))
			fp.ProvisionedMax = int(math.Ceil(fp.Peak / a.Target))
		}
		pl.Functions = append(pl.Functions, fp)
		if f.PGTrips > 0 {
			need := math.Ceil(fp.Peak / a.Target)
			needEnvs += need
			needConns += need * float64(f.DBMaxConns)
			pl.PeakClientConn += fp.Peak * float64(f.DBMaxConns)
		}
	}

	// The database: each query holds a proxy → Aurora connection for -query-hold-ms and costs
	// the instance -query-cpu-ms of CPU; an ACU is -acu-vcpu of a vCPU, kept at -target.
	pl.WriterQPS = l.PeakRPS * p.WriterTrips
	pl.ReaderQPS = l.PeakRPS * p.ReaderTrips
	pl.BusyConns = (pl.WriterQPS + pl.ReaderQPS) * a.QueryHoldMs / 1000
	acus := func(qps float64) float64 { return qps * a.QueryCPUMs / 1000 / a.ACUvCPU / a.Target }
	// Shards: the seed's 100K+ band shards, and so does any load whose writer outgrows one
	// instance. Placement spreads new organizations by weight (shared/shard), so each shard takes
	// its share of the queries; a tenant far larger than the rest is moved to a shard of its own.
	pl.Shards = int(math.Ceil(acus(pl.WriterQPS) / maxAuroraACU))
	if l.Band == len(bands)-1 {
		pl.Shards = max(pl.Shards, 2)
	}
	pl.Shards = max(pl.Shards, 1)
	shards := float64(pl.Shards)
	pl.WriterNeed, pl.ReaderNeed = acus(pl.WriterQPS)/shards, acus(pl.ReaderQPS)/shards
	pl.WriterACU = math.Max(stack.AuroraMinACU, pl.WriterNeed)
	pl.MaxACU = math.Min(maxAuroraACU, math.Max(stack.AuroraMaxACU, math.Ceil(pl.WriterNeed)))
	// The template's reader (promotion tier 1) scales with the writer, so it is as large; more
	// readers only when the reads outgrow one instance.
	pl.Readers = max(1, int(math.Ceil(pl.ReaderNeed/pl.MaxACU)))
	steadyWriter := math.Max(stack.AuroraMinACU, acus(l.AvgRPS*p.WriterTrips)/shards)
	steadyReaders := math.Max(float64(pl.Readers)*steadyWriter, acus(l.AvgRPS*p.ReaderTrips)/shards)
	pl.ACUHours = (steadyWriter + steadyReaders) * prices.HoursPerMonth * shards

	// RDS Proxy's budget, and reserved concurrency within it: each environment of a function that
	// reaches the database holds at most DB_MAX_CONNS connections, so the reserved environments
	// times their pools must fit what the proxy may open even if every session were pinned. The
	// budget is shared in proportion to each function's need (its peak at -target), and the total
	// also stays within the account's limit less the 100 AWS keeps unreserved.
	pl.MaxConnections = a.MaxConnections
	if pl.MaxConnections == 0 {
		pl.MaxConnections = auroraMaxConnections(stack.AuroraMinACU, pl.MaxACU)
	}
	pl.ProxyBudget = int(float64(pl.MaxConnections) * stack.ProxyMaxConnectionsPercent / 100)
	if needConns > 0 {
		scale := float64(pl.ProxyBudget) / needConns
		account := float64(a.AccountConcurrency-unreservedFloor) / needEnvs
		byAccount := account < scale
		if byAccount {
			scale = account
		}
		for _, fp := range pl.Functions {
			if fp.PGTrips > 0 {
				// At least one: a reserved concurrency of 0 would throttle every invocation.
				fp.Reserved = max(1, int(math.Ceil(fp.Peak/a.Target)*scale))
				pl.ClientConns += fp.Reserved * fp.DBMaxConns
			}
		}
		switch {
		case scale >= 1:
		case byAccount:
			pl.Notes = append(pl.Notes, fmt.Sprintf("the peak needs %s reserved environments, more than the account's %s less %d unreserved: ask AWS for a higher concurrency limit (-account-concurrency)", num(needEnvs), num(float64(a.AccountConcurrency)), unreservedFloor))
		default:
			pl.Notes = append(pl.Notes, fmt.Sprintf("the peak needs %s proxy connections, more than the %s the proxy may open at %g ACUs: raise AuroraMaxCapacity or lower DB_MAX_CONNS", num(needConns), num(float64(pl.ProxyBudget)), pl.MaxACU))
		}
	}

	// The cache: every Redis round trip is a pipeline of -redis-commands-per-trip commands, each
	// one ECPU (a command moving up to 1 KB). Cluster mode from the seed's 10K–100K band, or
	// sooner when one node could not keep up.
	pl.CacheCmdsPeak = l.PeakRPS * p.RedisTrips * a.CommandsPerTrip
	pl.CacheGB = l.Users * a.CacheKBPerUser / 1e6
	switch {
	case l.Band >= 2:
		pl.Cluster, pl.ClusterWhy = true, "the seed's band"
	case pl.CacheCmdsPeak > a.NodeOps:
		pl.Cluster, pl.ClusterWhy = true, "commands/s over one node's"
	default:
		pl.ClusterWhy = "one node suffices"
	}
	if pl.CacheCmdsPeak > stack.CacheMaxECPUPerSecond {
		pl.Notes = append(pl.Notes, fmt.Sprintf("the cache needs %s ECPUs/s at the peak, above the template's CacheMaxECPUPerSecond (%s): raise it", num(pl.CacheCmdsPeak), num(stack.CacheMaxECPUPerSecond)))
	}
	if pl.CacheGB > stack.CacheMaxStorageGB {
		pl.Notes = append(pl.Notes, fmt.Sprintf("the cache holds about %.1f GB, above the template's CacheMaxStorageGB (%.0f): raise it", pl.CacheGB, stack.CacheMaxStorageGB))
	}
	if pl.MaxACU > stack.AuroraMaxACU {
		pl.Notes = append(pl.Notes, fmt.Sprintf("set AuroraMaxCapacity to %g (the template's default is %g)", pl.MaxACU, stack.AuroraMaxACU))
	}

	// The month, at the steady (average) load.
	requests := l.AvgRPS * secondsPerMonth
	var onDemandGBs, pcGBs, pcDurationGBs float64
	for _, fp := range pl.Functions {
		gb := float64(fp.MemoryMB) / 1024
		gbs := requests * fp.Weight * fp.BilledMs / 1000 * gb
		if a.Provisioned {
			// The steady level is held all month and the invocations run on it; the hours
			// target tracking adds above it at the peaks are left out.
			pcGBs += float64(fp.ProvisionedMin) * gb * secondsPerMonth
			pcDurationGBs += gbs
		} else {
			onDemandGBs += gbs
		}
	}
	pl.Cost = []CostLine{
		{"Lambda requests", requests / 1e6 * prices.Lambda.RequestsPerMillion},
		{"Lambda duration (arm64)", tiered(onDemandGBs, prices.Lambda.GBSecond, 1) + pcDurationGBs*prices.Lambda.ProvisionedDurationGBSecond},
		{"Lambda provisioned concurrency", pcGBs * prices.Lambda.ProvisionedGBSecond},
		{"API Gateway REST requests", tiered(requests, prices.APIGateway.RequestsPerMillion, 1e6)},
		{"Aurora Serverless v2 ACU-hours", pl.ACUHours * prices.Aurora.ACUHour},
		{"Aurora storage", l.Users * a.DBKBPerUser / 1e6 * prices.Aurora.StorageGBMonth},
		{"RDS Proxy", math.Max(prices.Proxy.MinimumACUs*prices.HoursPerMonth*shards, pl.ACUHours) * prices.Proxy.ACUHour},
		{"ElastiCache Serverless ECPUs", l.AvgRPS * p.RedisTrips * a.CommandsPerTrip * secondsPerMonth / 1e6 * prices.Cache.ECPUsPerMillion},
		{"ElastiCache Serverless storage", math.Max(prices.Cache.MinimumGB, pl.CacheGB) * prices.Cache.GBHour * prices.HoursPerMonth},
		{"Secrets Manager", float64(stack.Secrets) * prices.Secrets.SecretMonth},
		{"VPC interface endpoints", float64(stack.EndpointAZs) * prices.Endpoint.AZHour * prices.HoursPerMonth},
	}
	if pl.Shards > 1 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("tenants sharded over %d Aurora clusters, each with its RDS Proxy (DATABASE_SHARDS; cmd/shards moves an organization): the database figures are each shard's, the costs all of them", pl.Shards))
	}
	return pl
}
