package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEmbeddedDefaults is `make run` on a fresh clone, as a test: cmd/local on the project's own
// template.yaml, with no DATABASE_URL or REDIS_URL, so it starts the embedded PostgreSQL and
// Redis. It drives the real functions through register, login, create organization, create
// project (with an Idempotency-Key), get project and refresh, stops cmd/local with SIGINT and
// checks that no process is left: not a function, not PostgreSQL. A second run on the same data
// directory finds the data, the demo seed and the session of the first; one killed with SIGKILL
// leaves nothing behind and does not keep the next from starting. A last one, on Linux, runs
// under a parent that is killed, as `go run` is by a SIGTERM, and must stop all the same.
func TestEmbeddedDefaults(t *testing.T) {
	dir := reachableTempDir(t)
	bin := filepath.Join(dir, "local")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	first := startEmbedded(t, bin, dir, 5*time.Minute, "-seed")
	for _, want := range []string{"Database: embedded PostgreSQL postgres://scaleapi@127.0.0.1:", "Redis:    embedded redis-server redis://127.0.0.1:", "Demo data: loaded now", "POST    /projects "} {
		if !strings.Contains(first.banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, first.banner)
		}
	}
	api := client{t: t, url: first.url}

	// The first request is bounded too: it pays every cold start on the path.
	start := time.Now()
	email := fmt.Sprintf("user-%d@example.com", time.Now().UnixNano())
	api.call("POST", "/auth/register", "", map[string]any{"email": email, "password": "correct horse", "name": "Tester"}, nil).want(201)
	t.Logf("first register answered %v after the banner", time.Since(start).Round(time.Millisecond))
	var login struct{ AccessToken, RefreshToken string }
	api.call("POST", "/auth/login", "", map[string]any{"email": email, "password": "correct horse"}, nil).want(200).decode(&login)
	token := login.AccessToken

	var org struct{ ID string }
	api.call("POST", "/organizations", token, map[string]any{"name": "Test Org"}, nil).want(201).decode(&org)
	newProject := map[string]any{"organizationId": org.ID, "name": "Launch"}
	key := map[string]string{"Idempotency-Key": "create-launch"}
	var project struct{ ID, Name string }
	api.call("POST", "/projects", token, newProject, key).want(201).decode(&project)
	if replay := api.call("POST", "/projects", token, newProject, key).want(201); replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retried POST was not replayed: %v", replay.header)
	}
	var got struct{ ID, Name string }
	api.call("GET", "/projects/"+project.ID, token, nil, nil).want(200).decode(&got)
	if got.ID != project.ID || got.Name != "Launch" {
		t.Errorf("GET /projects/%s = %+v", project.ID, got)
	}
	if rl := api.call("GET", "/projects/"+project.ID, token, nil, nil).want(200).header.Get("RateLimit-Remaining"); rl == "" {
		t.Error("no RateLimit-Remaining header: the rate limiter did not run")
	}
	var pair struct{ AccessToken, RefreshToken string }
	api.call("POST", "/auth/refresh", "", map[string]any{"refreshToken": login.RefreshToken}, nil).want(200).decode(&pair)
	api.call("POST", "/auth/login", "", map[string]any{"email": demoEmail, "password": demoPassword}, nil).want(200)
	api.call("GET", "/health", "", nil, nil).want(200)

	first.stop(t)

	second := startEmbedded(t, bin, dir, time.Minute, "-seed", "-skip-build")
	for _, want := range []string{"Demo data: already there", "keys restored, cache epoch advanced"} {
		if !strings.Contains(second.banner, want) {
			t.Errorf("second banner lacks %q:\n%s", want, second.banner)
		}
	}
	api = client{t: t, url: second.url}
	// The key in data-dir/jwt-secret and the saved session keep the token valid across the restart.
	api.call("GET", "/auth/me", pair.AccessToken, nil, nil).want(200)
	api.call("GET", "/projects/"+project.ID, pair.AccessToken, nil, nil).want(200)
	second.stop(t)

	// kill -9 (or a second Ctrl-C): the kernel kills the server along, and the next run must
	// start on the directory at once, whether or not the dead postmaster has been reaped yet.
	killed := startEmbedded(t, bin, dir, time.Minute, "-skip-build")
	client{t: t, url: killed.url}.call("GET", "/health", "", nil, nil).want(200) // a function instance
	procs := killed.processes(t)
	_ = killed.cmd.Process.Kill()
	_ = killed.cmd.Wait()
	allGone(t, procs, 5*time.Second)
	after := startEmbedded(t, bin, dir, time.Minute, "-skip-build")
	client{t: t, url: after.url}.call("GET", "/auth/me", pair.AccessToken, nil, nil).want(200)
	after.stop(t)

	if runtime.GOOS == "linux" {
		// `make run` is cmd/local under `go run`, and a SIGTERM to go run alone kills go run
		// without passing it on. A shell stands in for go run here.
		third := startEmbedded(t, bin, dir, time.Minute, "-skip-build", "-via-parent")
		client{t: t, url: third.url}.call("GET", "/health", "", nil, nil).want(200)
		third.stopByParentExit(t)
	}
}

// reachableTempDir returns a directory the embedded PostgreSQL can use when the test runs as root
// and the server as the postgres user: t.TempDir's are mode 0700.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "scaleapi-local-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// localRun is one cmd/local process.
type localRun struct {
	cmd    *exec.Cmd // cmd/local, or with -via-parent the shell that started it
	pid    int       // cmd/local's
	url    string
	banner string
	stderr *lockedWriter
	dir    string
}

// startEmbedded starts bin on ../../template.yaml with dir as its data and build directory and an
// environment without the variables that would select external services, and waits up to wait
// for the banner. With "-via-parent" among args (not passed on), a shell starts cmd/local and
// waits for it, as `go run` does.
func startEmbedded(t *testing.T, bin, dir string, wait time.Duration, args ...string) *localRun {
	t.Helper()
	viaParent := slices.Contains(args, "-via-parent")
	args = slices.DeleteFunc(args, func(a string) bool { return a == "-via-parent" })
	args = append([]string{"-template", "../../template.yaml", "-addr", "127.0.0.1:0",
		"-data-dir", filepath.Join(dir, "data"), "-build-dir", filepath.Join(dir, "build"), "-shutdown-grace", "1s"}, args...)
	cmd := exec.Command(bin, args...)
	if viaParent {
		cmd = exec.Command("sh", append([]string{"-c", `"$0" "$@" & echo "pid $!"; wait`, bin}, args...)...)
	}
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "DATABASE_URL", "DATABASE_READER_URL", "DATABASE_IAM_AUTH", "REDIS_URL", "REDIS_CLUSTER", "JWT_SECRET":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &localRun{cmd: cmd, stderr: &lockedWriter{}, dir: dir}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	r.pid = cmd.Process.Pid
	type banner struct{ url, text string }
	found := make(chan banner, 1)
	ended := make(chan struct{}) // stdout closed: cmd/local exited
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`Listening on (http://\S+)`)
		var text strings.Builder
		if viaParent && sc.Scan() {
			pid, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "pid "))
			if err != nil {
				return // no banner: the wait below fails the test
			}
			r.pid = pid
		}
		for sc.Scan() {
			text.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- banner{m[1], text.String()}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case b := <-found: // after r.pid was set, on the same goroutine
		r.url, r.banner = b.url, b.text
		return r
	case <-ended:
		select {
		case b := <-found:
			r.url, r.banner = b.url, b.text
			return r
		default:
		}
		t.Fatalf("cmd/local exited before its banner; stderr:\n%s", r.stderr)
	case <-time.After(wait):
		t.Fatalf("no banner within %v; stderr:\n%s", wait, r.stderr)
	}
	return nil
}

// stop sends SIGINT, as Ctrl-C does, and checks that cmd/local exits with status 0 and leaves
// none of its processes behind: its function processes, the embedded PostgreSQL and its backends.
func (r *localRun) stop(t *testing.T) {
	t.Helper()
	procs := r.processes(t)
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cmd/local exited with %v after SIGINT, want status 0; stderr:\n%s", err, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("cmd/local did not stop within 30 s of SIGINT; stderr:\n%s", r.stderr)
	}
	allGone(t, procs, 5*time.Second)
}

// stopByParentExit kills the shell that started cmd/local (-via-parent) and checks that
// cmd/local notices, shuts down the normal way and leaves no process behind.
func (r *localRun) stopByParentExit(t *testing.T) {
	t.Helper()
	procs := r.processes(t)
	procs[r.pid] = "cmd/local"
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = r.cmd.Wait()
	allGone(t, procs, 30*time.Second)
	if !strings.Contains(r.stderr.String(), "local: stopping") {
		t.Errorf("cmd/local did not shut down the normal way when its parent died; stderr:\n%s", r.stderr)
	}
}

// processes returns cmd/local's descendants and checks that they include the embedded
// PostgreSQL and at least one function.
func (r *localRun) processes(t *testing.T) map[int]string {
	t.Helper()
	procs := descendants(t, r.pid)
	postmaster := postmasterPID(t, filepath.Join(r.dir, "data", "pgdata"))
	if _, ok := procs[postmaster]; !ok {
		t.Errorf("the embedded PostgreSQL (pid %d) is not a child of cmd/local: %v", postmaster, procs)
	}
	functions, redises := 0, 0
	for _, cmdline := range procs {
		f := strings.Fields(cmdline)
		switch {
		case len(f) == 0:
		case strings.HasSuffix(f[0], "/bootstrap"):
			functions++
		case strings.HasPrefix(filepath.Base(f[0]), "redis-server"):
			redises++
		}
	}
	if functions == 0 {
		t.Errorf("no function process among cmd/local's children: %v", procs)
	}
	if redises != 1 {
		t.Errorf("%d redis-server processes among cmd/local's children, want the embedded one: %v", redises, procs)
	}
	return procs
}

// allGone waits up to wait for every process in procs to end.
func allGone(t *testing.T, procs map[int]string, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for pid, cmdline := range procs {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d (%s) is still running after cmd/local stopped", pid, cmdline)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// alive reports whether pid runs. A zombie does not count: a process orphaned by its parent's
// death is reaped by init in its own time.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && !strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
}

// descendants returns every process below pid (children, their children ...) with its command
// line, from ps, which Linux and macOS both have.
func descendants(t *testing.T, pid int) map[int]string {
	t.Helper()
	out, err := exec.Command("ps", "-A", "-o", "pid=,ppid=,args=").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	children := map[int][]int{}
	args := map[int]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		p, err1 := strconv.Atoi(f[0])
		pp, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		children[pp] = append(children[pp], p)
		args[p] = strings.Join(f[2:], " ")
	}
	got := map[int]string{}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			got[c] = args[c]
			queue = append(queue, c)
		}
	}
	return got
}

// postmasterPID reads the server's pid from the data directory's postmaster.pid.
func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatalf("embedded PostgreSQL not running: %v", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// client calls the API on loopback.
type client struct {
	t   *testing.T
	url string
}

// answer is one response, read whole.
type answer struct {
	t      *testing.T
	what   string
	status int
	header http.Header
	body   []byte
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (c client) call(method, path, token string, body any, headers map[string]string) *answer {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return &answer{t: c.t, what: method + " " + path, status: resp.StatusCode, header: resp.Header, body: b}
}

func (a *answer) want(status int) *answer {
	a.t.Helper()
	if a.status != status {
		a.t.Fatalf("%s: %d %s, want %d", a.what, a.status, a.body, status)
	}
	return a
}

func (a *answer) decode(v any) {
	a.t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		a.t.Fatalf("%s: %v in %s", a.what, err, a.body)
	}
}
