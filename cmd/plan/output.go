package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// writer prints the plan as aligned text tables, keeping the first write error.
type writer struct {
	w   io.Writer
	err error
}

func (w *writer) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}

// table prints rows of tab-separated cells, aligned.
func (w *writer) table(rows [][]string) {
	if w.err != nil {
		return
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush() // into a bytes.Buffer: cannot fail
	// tabwriter pads a row's empty last cells; the table is pasted into the README.
	for line := range strings.Lines(buf.String()) {
		w.printf("%s\n", strings.TrimRight(line, " \n"))
	}
}

func (w *writer) header(c *Costs, p *Prices, template string) {
	w.printf("Capacity plan for %s\n", template)
	w.printf("measured: %s (%s; median of %d runs per row)\n", c.Source, c.Machine, c.Runs)
	w.printf("prices:   %s list prices as of %s (cmd/plan/prices.json; check them against the AWS Price List)\n\n", p.Region, p.Date)
}

func (w *writer) assumptions(fs *flag.FlagSet, a *Assumptions) {
	w.printf("Assumptions (flags):\n")
	var rows [][]string
	fs.VisitAll(func(f *flag.Flag) {
		// The mix is the share column of the table below.
		if slices.Contains(pathFlags, f.Name) || f.Name == "mix" {
			return
		}
		v := f.Value.String()
		_, usage := flag.UnquoteUsage(f)
		if f.Name == "hit-rate" {
			v, usage = strconv.FormatFloat(a.HitRate, 'f', 3, 64), a.HitRateSource
		}
		if v == "" {
			v = `""`
		}
		rows = append(rows, []string{"  -" + f.Name, v, usage})
	})
	w.table(rows)
	w.printf("\n")
}

func (w *writer) measured(p *Profile, c *Costs, a *Assumptions) {
	w.printf("Per request, as measured (share: -mix, the cacheable classes split by -hit-rate; the Runtime API\n")
	w.printf("loop adds %.0f CPU µs to each invocation):\n", c.Loop.CPUUs)
	rows := [][]string{{"  class", "route", "share", "wall µs", "CPU µs", "PG", "Redis", "Lambda ms"}}
	for _, it := range p.Items {
		name := it.class.key
		if it.variant != "" {
			name += " (" + it.variant + ")"
		}
		mem := 0
		for _, f := range p.Functions {
			if f.Name == it.class.function {
				mem = f.MemoryMB
			}
		}
		rows = append(rows, []string{"  " + name, it.class.what, pct(it.weight),
			num(it.cost.WallUs), num(it.cost.CPUUs), dec(it.cost.PGTrips, 2), dec(it.cost.RedisTrips, 2),
			dec(durationMs(it, c.Loop, mem, a), 2)})
	}
	w.table(rows)
	w.printf("  Lambda ms = (CPU + loop) × -cpu-factor ÷ vCPU share (memory ÷ 1,769 MB) + (wall − CPU) + round trips × -rtt-ms;\n")
	w.printf("  a miss of join or list (not measured) is its hit plus what a miss adds to get.\n\n")

	w.printf("Per function (template.yaml):\n")
	rows = [][]string{{"  function", "memory MB", "vCPU", "requests", "Lambda ms", "billed ms", "DB_MAX_CONNS", "init ms", "max memory MiB"}}
	for _, f := range p.Functions {
		init, peak := "—", "—"
		if cs, ok := c.ColdStarts[f.Name]; ok {
			init, peak = dec(cs.InitMs, 1), dec(cs.MaxMemoryMiB, 1)
		}
		rows = append(rows, []string{"  " + f.Name, strconv.Itoa(f.MemoryMB), dec(vcpuShare(f.MemoryMB), 2), pct(f.Weight),
			dec(f.DurationMs, 2), dec(f.BilledMs, 2), strconv.Itoa(f.DBMaxConns), init, peak})
	}
	w.table(rows)
	w.printf("\n")
}

func (w *writer) plans(plans []*Plan) {
	head := []string{""}
	for _, p := range plans {
		head = append(head, p.Name)
	}
	rows := [][]string{head}
	row := func(label string, cell func(p *Plan) string) {
		r := []string{label}
		for _, p := range plans {
			r = append(r, cell(p))
		}
		rows = append(rows, r)
	}
	// A section's line has every column, empty: a line without tabs would end tabwriter's
	// alignment block.
	section := func(label string) { rows = append(rows, append([]string{label}, make([]string, len(plans))...)) }
	fnRow := func(label string, cell func(f *FunctionPlan) string) {
		for i, f := range plans[0].Functions {
			row("  "+label+f.Name, func(p *Plan) string { return cell(p.Functions[i]) })
		}
	}

	row("users (sized for)", func(p *Plan) string { return num(p.Users) })
	row("peak req/s", func(p *Plan) string { return num(p.PeakRPS) })
	row("steady req/s", func(p *Plan) string { return num(p.AvgRPS) })
	section("Lambda concurrency at the peak")
	fnRow("", func(f *FunctionPlan) string { return dec(f.Peak, 2) })
	section("provisioned concurrency, steady–peak")
	fnRow("", func(f *FunctionPlan) string { return fmt.Sprintf("%d–%d", f.ProvisionedMin, f.ProvisionedMax) })
	section("reserved concurrency")
	fnRow("", func(f *FunctionPlan) string {
		if f.Reserved == 0 {
			return "—"
		}
		return strconv.Itoa(f.Reserved)
	})
	section("RDS Proxy")
	row("  connections it may open", func(p *Plan) string { return num(float64(p.ProxyBudget)) })
	row("  client connections, reserved", func(p *Plan) string { return num(float64(p.ClientConns)) })
	row("  client connections at the peak", func(p *Plan) string { return dec(p.PeakClientConn, 1) })
	row("  Aurora connections busy", func(p *Plan) string { return dec(p.BusyConns, 2) })
	section("Aurora Serverless v2")
	row("  shards (clusters)", func(p *Plan) string { return strconv.Itoa(p.Shards) })
	row("  queries/s writer / reader", func(p *Plan) string { return num(p.WriterQPS) + " / " + num(p.ReaderQPS) })
	row("  writer ACUs at the peak, each shard", func(p *Plan) string { return dec(p.WriterACU, 1) + " (" + dec(p.WriterNeed, 2) + ")" })
	row("  AuroraMaxCapacity", func(p *Plan) string { return dec(p.MaxACU, 0) })
	row("  max_connections", func(p *Plan) string { return num(float64(p.MaxConnections)) })
	row("  readers", func(p *Plan) string { return strconv.Itoa(p.Readers) })
	section("ElastiCache Serverless (Valkey)")
	row("  mode", func(p *Plan) string {
		if p.Cluster {
			return "cluster"
		}
		return "standalone"
	})
	row("  ECPUs/s at the peak", func(p *Plan) string { return num(p.CacheCmdsPeak) })
	row("  storage GB", func(p *Plan) string { return dec(p.CacheGB, 2) })
	section("monthly cost, USD")
	for i, c := range plans[0].Cost {
		row("  "+c.What, func(p *Plan) string { return usd(p.Cost[i].USD) })
	}
	row("  total", func(p *Plan) string { return usd(p.Total()) })

	w.printf("The plan (users: each band's upper edge, 100K+ as 1M; Aurora ACUs in brackets: before MinCapacity):\n")
	w.table(rows)
	for _, p := range plans {
		for _, n := range p.Notes {
			w.printf("  [%s] %s\n", p.Name, n)
		}
	}
	w.printf("  Not counted: Aurora I/O, data transfer, endpoint data processing, CloudWatch logs and metrics,\n")
	w.printf("  X-Ray, backups beyond the free retention, Secrets Manager API calls (one per cold start),\n")
	w.printf("  and the provisioned hours target tracking adds above the steady level at the peaks.\n\n")
}

func (w *writer) seed(plans []*Plan) {
	w.printf("The seed's guideline table beside this plan:\n")
	rows := [][]string{{"  band", "seed: instances", "database", "cache", "here: environments", "Aurora", "cache"}}
	for i, b := range bands {
		p := plans[i]
		var envs int
		for _, f := range p.Functions {
			envs += int(math.Ceil(f.Peak))
		}
		db := fmt.Sprintf("%s ACU + %d reader", dec(p.WriterACU, 1), p.Readers)
		if p.Readers > 1 {
			db += "s"
		}
		if p.Shards > 1 {
			db = fmt.Sprintf("%d shards × (%s)", p.Shards, db)
		}
		cache := "standalone"
		if p.Cluster {
			cache = "cluster"
		}
		rows = append(rows, []string{"  " + b.Name, b.Instances, b.Database, b.Cache, strconv.Itoa(envs),
			db, fmt.Sprintf("%s (%s)", cache, p.ClusterWhy)})
	}
	w.table(rows)
	w.printf("  here: Lambda environments busy at the peak, each function's rounded up; the writer's ACUs at the\n")
	w.printf("  peak, each shard's when tenants are sharded over several clusters (the seed's 100K+).\n")
	w.printf("  ElastiCache Serverless always speaks cluster mode (REDIS_CLUSTER=true); \"standalone\" says one node\n")
	w.printf("  would do, as for an existing RedisUrl.\n")
}

// num formats a count or rate: thousands separated, decimals only below 10.
func num(x float64) string {
	if x < 10 {
		return dec(x, 1)
	}
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func dec(x float64, places int) string { return strconv.FormatFloat(x, 'f', places, 64) }

func pct(x float64) string { return dec(x*100, 1) + " %" }

func usd(x float64) string {
	if x < 100 {
		return dec(x, 2)
	}
	return num(x)
}
