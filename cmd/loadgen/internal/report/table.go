package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable writes the report for a terminal: the scenarios with their endpoints, the server's
// own figures, cold starts, memory, then every check.
func (r *Report) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nscaleapi benchmark — %s, %d cores, %d MiB, %s, %s\n", m.CPU, m.Cores, m.MemoryMB, m.Kernel, m.Go)
	fmt.Fprintf(w, "data: %d organizations, %d users (%d logged in), %d projects, %d tasks; target %s\n\n",
		r.Data.Organizations, r.Data.Users, r.Data.LoggedIn, r.Data.Projects, r.Data.Tasks, r.BaseURL)

	g := &grid{left: 2}
	g.add("scenario", "load", "req/s", "ok/s", "p50", "p90", "p99", "p99.9", "max", "errors", "hit %", "db ms", "fn p50", "cold", "inst", "seed req/s (p99)")
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			g.add(s.Name, "skipped: "+s.Skipped)
			continue
		}
		g.add(s.Name, loadText(s), fmt.Sprintf("%.0f", s.RPS), fmt.Sprintf("%.0f", s.OKRPS),
			ms(s.Latency.P50), ms(s.Latency.P90), ms(s.Latency.P99), ms(s.Latency.P999), ms(s.Latency.Max),
			errText(s.Errors), hit(s.Server), dbms(s.Server), fnP50(s), cold(s.Server), inst(s.Server), seedText(s.Seed))
		if len(s.Endpoints) > 1 {
			for _, e := range s.Endpoints {
				g.add("  "+short(e.Name), "", fmt.Sprintf("%.0f", e.RPS), fmt.Sprintf("%.0f", float64(e.OK)/max(s.Seconds, 1e-9)),
					ms(e.Latency.P50), ms(e.Latency.P90), ms(e.Latency.P99), ms(e.Latency.P999), ms(e.Latency.Max), errText(e.Errors))
			}
		}
	}
	g.write(w)
	fmt.Fprintln(w, "  (latencies in ms at the client; hit % and db ms are the functions' own EMF figures for the window;")
	fmt.Fprintln(w, "   fn p50: median time inside the function; cold: cold starts in the window; inst: instances that served it)")

	if r.hasCPU() {
		fmt.Fprintln(w, "\nCPU per successful request (µs of CPU time, by process group; busy: the whole machine, cores busy on average):")
		groups := []string{"functions", "gateway", "redis", "postgres", "pgbouncer", "loadgen", "other", "busy"}
		g := &grid{left: 1, inset: "  "}
		g.add(append(append([]string{"scenario"}, groups...), "busy cores")...)
		for _, s := range r.Scenarios {
			if s.CPU == nil {
				continue
			}
			row := []string{s.Name}
			for _, k := range groups {
				row = append(row, fmt.Sprintf("%.0f", s.CPU.PerRequestUs[k]))
			}
			row = append(row, fmt.Sprintf("%.2f/%d", s.CPU.Busy, s.CPU.Cores))
			g.add(row...)
		}
		g.write(w)
	}
	if len(r.ColdStarts) > 0 {
		fmt.Fprintln(w, "\ncold starts (the first request each function served):")
		g := &grid{left: 2, inset: "  "}
		g.add("function", "route", "status", "client ms", "init ms")
		for _, c := range r.ColdStarts {
			g.add(c.Function, c.Route, fmt.Sprint(c.Status), fmt.Sprintf("%.1f", c.ClientMs), fmt.Sprintf("%.1f", c.InitMs))
		}
		g.write(w)
	}
	if len(r.Memory) > 0 {
		fmt.Fprintln(w, "\nmemory of the function instances after the runs (/proc VmRSS, VmHWM):")
		g := &grid{left: 1, inset: "  "}
		g.add("function", "instances", "max RSS MiB", "max peak MiB")
		for _, m := range r.Memory {
			g.add(m.Function, fmt.Sprint(m.Instances), fmt.Sprintf("%.1f", m.MaxRSSMiB), fmt.Sprintf("%.1f", m.MaxHWMMiB))
		}
		g.write(w)
	}

	fmt.Fprintln(w, "\ntargets:")
	g = &grid{left: 4, inset: "  "}
	g.add("source", "metric", "scenario", "target", "measured", "")
	pass, fail := 0, 0
	for _, c := range r.Checks {
		verdict := "ok"
		switch {
		case c.Missing:
			verdict = "n/a"
		case !c.Pass:
			verdict = "MISSED"
			fail++
		default:
			pass++
		}
		val := "—"
		if !c.Missing {
			val = fmt.Sprintf("%s %s", num(c.Value), c.Unit)
		}
		g.add(c.Source, c.Metric, c.Scenario, c.Target, val, verdict)
	}
	g.write(w)
	fmt.Fprintf(w, "  %d met, %d missed\n", pass, fail)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func loadText(s *Scenario) string {
	if s.Mode == "open" {
		return fmt.Sprintf("%.0f/s open", s.Rate)
	}
	return fmt.Sprintf("c=%d", s.Concurrency)
}

func ms(v float64) string {
	switch {
	case v == 0:
		return "—"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func errText(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func hit(s *Server) string {
	if s == nil || s.HitRate == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f", *s.HitRate*100)
}

func dbms(s *Server) string {
	if s == nil || s.QueryAvgMs == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f", *s.QueryAvgMs)
}

// fnP50 is the median in-function time of the scenario's busiest route.
func fnP50(s *Scenario) string {
	if s.Server == nil || len(s.Server.Routes) == 0 {
		return "—"
	}
	best := s.Server.Routes[0]
	for _, r := range s.Server.Routes[1:] {
		if r.Requests > best.Requests {
			best = r
		}
	}
	return ms(best.Latency.P50)
}

func cold(s *Server) string {
	if s == nil {
		return "—"
	}
	return fmt.Sprint(s.ColdStarts)
}

func inst(s *Server) string {
	if s == nil {
		return "—"
	}
	n := 0
	for _, v := range s.Instances {
		n += v
	}
	return fmt.Sprint(n)
}

func seedText(f *SeedFigure) string {
	if f == nil {
		return ""
	}
	if f.P99Ms > 0 {
		return fmt.Sprintf("%.0f (%.0f ms)", f.RPS, f.P99Ms)
	}
	return fmt.Sprintf("%.0f", f.RPS)
}

// short abbreviates an endpoint for the table.
func short(name string) string {
	if len(name) > 40 {
		return name[:37] + "…"
	}
	return name
}

func (r *Report) hasCPU() bool {
	for _, s := range r.Scenarios {
		if s.CPU != nil {
			return true
		}
	}
	return false
}
