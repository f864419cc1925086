package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"scaleapi/internal/samtemplate"
)

// These tests run the cmd/local binary itself on testdata/template.yaml and stop it the way a
// developer does, then check that no function process is left behind.

// startLocal builds and starts cmd/local and returns the process, its URL and its stderr.
func startLocal(t *testing.T) (*exec.Cmd, string, *lockedWriter) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "local")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-template", "testdata/template.yaml", "-addr", "127.0.0.1:0",
		"-build-dir", filepath.Join(dir, "build"), "-shutdown-grace", "1s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedWriter{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`Listening on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-found:
		return cmd, url, stderr
	case <-time.After(3 * time.Minute):
		t.Fatalf("no banner; stderr:\n%s", stderr)
	}
	return nil, "", nil
}

// lockedWriter collects the output of cmd/local, which exec copies on its own goroutine.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pids starts a RestFunction and an HttpFunction instance and returns their process ids.
func pids(t *testing.T, url string) []int {
	t.Helper()
	var out []int
	for _, path := range []string{"/hello", "/v2/hello"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct{ PID int }
		err = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || rep.PID == 0 {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		out = append(out, rep.PID)
	}
	return out
}

func gone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Errorf("function process %d is still running", pid)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestInterruptStopsEverything(t *testing.T) {
	cmd, url, stderr := startLocal(t)
	running := pids(t, url)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cmd/local exited with %v after SIGINT, want status 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cmd/local did not stop within 10 s of SIGINT")
	}
	gone(t, running)
	if n := strings.Count(stderr.String(), "] shutdown"); n != 2 {
		t.Errorf("%d functions ran their shutdown callbacks, want 2", n)
	}
}

func TestKilledGatewayTakesFunctionsAlong(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux has Pdeathsig") // elsewhere a SIGKILLed gateway leaves its functions running
	}
	cmd, url, _ := startLocal(t)
	running := pids(t, url)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	gone(t, running)
}

// TestTracingOffLocally checks that the functions make run starts export no spans by default
// (template.yaml's Tracing=xray is for a deployment, whose collector is not here), and that
// asking for it gives them the template's tracing environment.
func TestTracingOffLocally(t *testing.T) {
	for _, c := range []struct{ params, endpoint string }{{"", ""}, {"Tracing=xray", "http://localhost:4318"}} {
		p, err := parseParameterOverrides(c.params)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := samtemplate.Parse("../../template.yaml", samtemplate.Options{Parameters: p, Defaults: localDefaults})
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range tpl.Functions {
			if got := fn.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; got != c.endpoint {
				t.Errorf("-parameter-overrides %q: %s exports spans to %q, want %q", c.params, fn.LogicalID, got, c.endpoint)
			}
		}
	}
}

// TestShardsFromTheEnvironment: DATABASE_SHARDS in the environment is the template's
// DatabaseShards, so every function gets the map and neither of the one database's URLs, and
// startServices starts no database of its own for it.
func TestShardsFromTheEnvironment(t *testing.T) {
	const shards = `[{"name":"a","writer":"postgres://app@127.0.0.1:1/app"},{"name":"b","writer":"postgres://app:pw@127.0.0.1:2/app"}]`
	env := map[string]string{"DATABASE_SHARDS": shards}
	tpl, err := samtemplate.Parse("../../template.yaml", samtemplate.Options{Defaults: parameterDefaults(func(k string) string { return env[k] })})
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range tpl.Functions {
		if e := fn.Environment; e["DATABASE_SHARDS"] != shards || e["DATABASE_URL"] != "" || e["DATABASE_READER_URL"] != "" {
			t.Errorf("%s: DATABASE_SHARDS %q, DATABASE_URL %q, DATABASE_READER_URL %q: want the map and no URLs",
				fn.LogicalID, e["DATABASE_SHARDS"], e["DATABASE_URL"], e["DATABASE_READER_URL"])
		}
	}

	declared := map[string]bool{"DATABASE_URL": true}
	start := func(host map[string]string, seed bool) (*services, error) {
		return startServices(t.Context(), host, serviceOptions{DataDir: t.TempDir(), Log: io.Discard, Declared: declared, Seed: seed})
	}
	s, err := start(map[string]string{"DATABASE_SHARDS": shards}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if want := "external, 2 shards (DATABASE_SHARDS): a postgres://app@127.0.0.1:1/app, b postgres://app:xxxxx@127.0.0.1:2/app"; s.Database != want {
		t.Errorf("banner %q, want %q", s.Database, want)
	}
	for _, c := range []struct {
		host map[string]string
		seed bool
		want string
	}{
		{map[string]string{"DATABASE_SHARDS": shards, "DATABASE_URL": "postgres://app@127.0.0.1:1/app"}, false, "replaces DATABASE_URL"},
		{map[string]string{"DATABASE_SHARDS": shards}, true, "-seed loads one database's demo data"},
		{map[string]string{"DATABASE_SHARDS": `[{"name":"a"}]`}, false, "DATABASE_SHARDS: "},
	} {
		if _, err := start(c.host, c.seed); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v (seed %v): %v, want %q", c.host, c.seed, err, c.want)
		}
	}
}
