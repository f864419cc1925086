package emf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testdata/local.log holds lines cmd/local wrote during a run: function request lines (prefixed
// with the function name and instance) of the projects and reports functions, and the gateway's
// per-invocation lines.
func consume(t *testing.T, extra string, windows ...*Window) (*Collector, string) {
	t.Helper()
	b, err := os.ReadFile("testdata/local.log")
	if err != nil {
		t.Fatal(err)
	}
	var diag bytes.Buffer
	c := NewCollector(&diag)
	c.windows = append(c.windows, windows...)
	if err := c.Consume(strings.NewReader(string(b)+extra), nil); err != nil {
		t.Fatal(err)
	}
	return c, diag.String()
}

func TestCollectorSumsRequestLines(t *testing.T) {
	all := &Window{Name: "all", Start: time.Unix(0, 0), Functions: map[string]*Function{}}
	c, diag := consume(t, "", all)
	w := c.Snapshot(all)

	p := w.Functions["local-projects"]
	if p == nil {
		t.Fatalf("no local-projects in %v", w.Functions)
	}
	if p.Requests != 4 || p.ColdStarts != 1 {
		t.Errorf("projects: %d requests, %d cold starts; want 4 and 1", p.Requests, p.ColdStarts)
	}
	if len(p.Instances) != 2 || !p.Instances[1] || !p.Instances[2] {
		t.Errorf("projects instances = %v, want 1 and 2", p.Instances)
	}
	if p.QueryN["Primary"] < 2 || p.QueryMs["Primary"] < 2.192+2.575-1e-9 {
		t.Errorf("projects primary queries: %d, %.3f ms; want at least the cold request's 2 (4.767 ms)", p.QueryN["Primary"], p.QueryMs["Primary"])
	}
	if r := p.Routes["GET /projects/{id}"]; r == nil || r.Requests != 4 || r.Status[200] != 4 || r.Duration.TotalCount() != 4 {
		t.Errorf("route GET /projects/{id} = %+v", r)
	}
	if p.CacheMisses < 2 {
		t.Errorf("projects cache misses = %d, want at least the cold request's 2", p.CacheMisses)
	}

	r := w.Functions["local-reports"]
	if r == nil || r.QueryN["Replica"] != 1 || r.QueryMs["Replica"] != 41.906 || r.CacheHits != 1 || r.CacheMisses != 1 {
		t.Errorf("reports = %+v", r)
	}

	g := w.Functions["gateway:AuthFunction"]
	if g == nil || len(g.InitMs) != 1 || g.InitMs[0] != 6.81 || !g.Instances[1] {
		t.Errorf("gateway cold start of AuthFunction = %+v", g)
	}
	if diag != "" {
		t.Errorf("diagnostics for ordinary lines: %q", diag)
	}
}

func TestCollectorMatchesLinesToWindowsByRequestTime(t *testing.T) {
	// The testdata's first line is a request at 19:23:39.598; a window that ended before it and
	// one that starts after the last line get nothing.
	before := &Window{Name: "before", Start: time.Unix(0, 0), End: time.Date(2026, 11, 26, 19, 23, 0, 0, time.UTC), Functions: map[string]*Function{}}
	after := &Window{Name: "after", Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Functions: map[string]*Function{}}
	c, _ := consume(t, "", before, after)
	for _, w := range []*Window{before, after} {
		if s := c.Snapshot(w); len(s.Functions) != 0 {
			t.Errorf("window %s got %v", w.Name, s.Functions)
		}
	}
}

func TestCollectorPassesErrorsToDiagnostics(t *testing.T) {
	errLine := `local-projects[3] {"CacheHits":0,"_aws":{},"duration_ms":1.5,"error":"find project: boom","level":"ERROR","msg":"request","route":"GET /projects/{id}","status":500,"time":"2026-11-26T19:23:40Z"}`
	warn := `{"time":"2026-11-26T19:23:40Z","level":"WARN","msg":"route defined twice"}`
	slogLine := `local-projects[3] {"time":"2026-11-26T19:23:40Z","level":"WARN","msg":"redis slow"}`
	all := &Window{Name: "all", Start: time.Unix(0, 0), Functions: map[string]*Function{}}
	c, diag := consume(t, errLine+"\n"+warn+"\n"+slogLine+"\nnot json at all", all)
	for _, want := range []string{"boom", "route defined twice", "redis slow", "not json at all"} {
		if !strings.Contains(diag, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, diag)
		}
	}
	if r := c.Snapshot(all).Functions["local-projects"].Routes["GET /projects/{id}"]; r.Status[500] != 1 {
		t.Errorf("the 500 was not counted: %v", r.Status)
	}
}

func TestPrefixed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fn   string
		inst int
		ok   bool
	}{
		{`local-projects[3] {"a":1}`, "local-projects", 3, true},
		{`my-stack-auth[12] x`, "my-stack-auth", 12, true},
		{`{"time":"2026"}`, "", 0, false},
		{`local-projects[x] {}`, "", 0, false},
		{`[1] {}`, "", 0, false},
		{`built AuthFunction ./functions/auth (1s)`, "", 0, false},
	} {
		fn, inst, _, ok := prefixed([]byte(tc.in))
		if string(fn) != tc.fn || inst != tc.inst || ok != tc.ok {
			t.Errorf("prefixed(%q) = %q, %d, %v; want %q, %d, %v", tc.in, fn, inst, ok, tc.fn, tc.inst, tc.ok)
		}
	}
}

func TestInstancesFindsChildBootstraps(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("sleep is needed to stand in for a function process: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "ProjectsFunction")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var found *Instance
	for range 50 { // the exec may not have happened yet
		for _, in := range Instances(os.Getpid()) {
			if in.PID == cmd.Process.Pid {
				found = &in
			}
		}
		if found != nil && found.RSSKiB > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if found == nil || found.Function != "ProjectsFunction" || found.RSSKiB <= 0 || found.HWMKiB < found.RSSKiB {
		t.Fatalf("Instances(%d) found %+v for pid %d", os.Getpid(), found, cmd.Process.Pid)
	}
}

func TestCPUCountsThisProcess(t *testing.T) {
	a := ReadCPU(0, true)
	if a == nil {
		t.Fatal("no /proc")
	}
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		// spin: this process's time must show in the loadgen group
	}
	u := ReadCPU(0, true).Since(a, 2)
	if u == nil || u.ByGroup[GroupLoadgen] < 0.3 || u.Busy < u.ByGroup[GroupLoadgen]-0.05 {
		t.Fatalf("usage while spinning one core: %+v", u)
	}
}
