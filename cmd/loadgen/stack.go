package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"scaleapi/cmd/loadgen/internal/emf"
	"scaleapi/cmd/loadgen/internal/load"
	"scaleapi/cmd/loadgen/internal/report"
	"scaleapi/cmd/loadgen/internal/seed"
	"scaleapi/internal/bootstrap"
	"scaleapi/internal/samtemplate"
	"scaleapi/shared/devservices"
	"scaleapi/shared/migrations"
)

// rateLimit is what the functions' per-user limit is raised to for the benchmark: the limiter
// still runs (its Redis round trip is part of every request's cost), but a few hundred users
// sending thousands of requests a second must not be throttled by a guard against abuse.
const rateLimit = "100000000"

// bench runs the harness phase, then the defaults and shards phases, and writes one report of
// them all. A failed later phase still gets the report written, with its scenarios marked
// skipped, and fails the run: the defaults phase exists to catch a `make run` that no longer
// serves, the shards phase a sharded deployment that no longer does.
func bench(ctx context.Context, o *options) error {
	begun := time.Now()
	if o.budget > 0 {
		o.finishBy = begun.Add(o.budget)
	}
	// Before the set-up: a -scenarios that matches nothing fails at once.
	p, err := plan(o)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.template); err != nil {
		return fmt.Errorf("%w (run from the repository root)", err)
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
	rep, localBin, err := benchHarness(ctx, o, tpl, buildDir, begun, p)
	if err != nil {
		return err
	}
	var phaseErrs []error
	for _, ph := range []struct {
		name      string
		scenarios []*load.Scenario
		run       func() error
	}{
		{"defaults", p.defaults, func() error { return benchDefaults(ctx, o, localBin, buildDir, rep, p.defaults, laterShards(p)) }},
		{"shards", p.shards, func() error { return benchShards(ctx, o, localBin, buildDir, rep, p.shards) }},
	} {
		if len(ph.scenarios) == 0 || ctx.Err() != nil {
			continue
		}
		if err := ph.run(); err != nil {
			err = fmt.Errorf("%s phase: %w", ph.name, err)
			progress(err.Error())
			phaseErrs = append(phaseErrs, err)
			// drive fails only before its first scenario, so none of them ran.
			for _, sc := range ph.scenarios {
				rep.Scenarios = append(rep.Scenarios, skipped(sc, err.Error()))
			}
		}
	}
	phaseErr := errors.Join(phaseErrs...)
	if err := finish(o, rep); err != nil {
		return err
	}
	progress(fmt.Sprintf("make bench took %s", time.Since(begun).Round(time.Second)))
	return phaseErr
}

// benchHarness is the harness phase: it starts everything `make run` would with a real stack
// behind it (PostgreSQL primary and replica, PgBouncer, Redis from shared/devservices), on free
// ports and in its own directories, builds the functions and cmd/local, runs p's harness
// scenarios and stops it all again, so that the defaults phase has the machine to itself. It
// returns the report so far and the cmd/local binary it built.
func benchHarness(ctx context.Context, o *options, tpl *samtemplate.Template, buildDir string, begun time.Time, p phases) (*report.Report, string, error) {
	stackDir := filepath.Join(buildDir, "stack")
	_ = os.RemoveAll(stackDir) // devservices wants a directory without an earlier stack's servers
	if err := os.MkdirAll(stackDir, 0o755); err != nil {
		return nil, "", err
	}
	if !o.keepStack {
		defer os.RemoveAll(stackDir)
	}

	// The services and the build are independent: start the services while the go command
	// builds (both mostly wait on disk and processes, and the build cache usually makes the
	// build short).
	var stack *devservices.Stack
	var localBin string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		start := time.Now()
		slog, err := os.Create(filepath.Join(o.out, "services.log"))
		if err != nil {
			return err
		}
		s, err := devservices.Start(ctx, devservices.Options{Dir: stackDir, Replica: true, PgBouncer: true, Redis: true, Log: slog})
		if err != nil {
			return fmt.Errorf("start services: %w", err)
		}
		stack = s
		progress(fmt.Sprintf("PostgreSQL primary + replica, PgBouncer, Redis up in %s", time.Since(start).Round(time.Millisecond)))
		start = time.Now()
		if err := migrations.Up(gctx, s.PrimaryURL); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		progress(fmt.Sprintf("migrated in %s", time.Since(start).Round(time.Millisecond)))
		return nil
	})
	g.Go(func() error {
		start := time.Now()
		bin, err := build(gctx, o, tpl, buildDir)
		if err != nil {
			return err
		}
		localBin = bin
		progress(fmt.Sprintf("built cmd/local and %d functions in %s", len(tpl.Functions), time.Since(start).Round(time.Millisecond)))
		return nil
	})
	err := g.Wait()
	if stack != nil {
		defer func() {
			if err := stack.Stop(); err != nil {
				progress("stop services: " + err.Error())
			}
		}()
	}
	if err != nil {
		return nil, "", err
	}

	data, err := seed.Seed(ctx, stack.PrimaryURL, o.sizes, progress)
	if err != nil {
		return nil, "", err
	}
	// Reports read the replica: wait until it has the data set.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = devservices.WaitReplay(wctx, stack.PrimaryURL, stack.ReplicaURL)
	cancel()
	if err != nil {
		return nil, "", fmt.Errorf("replica: %w", err)
	}

	t := &target{data: data, redisURL: stack.RedisURL, fresh: true, ownStack: true}
	if !declares(tpl, "RATE_LIMIT_PER_MINUTE") {
		// Only the variables a template declares reach a function (as in sam local).
		note := o.template + " does not declare RATE_LIMIT_PER_MINUTE, so the functions keep their default per-user limit (600/min): expect 429s once the users' bursts are spent"
		t.notes = append(t.notes, note)
		progress("note: " + note)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	local, err := startLocal(ctx, o, localSpec{bin: localBin, buildDir: buildDir, log: "local.log", env: append(os.Environ(),
		"DATABASE_URL="+stack.PoolerURL,
		"DATABASE_READER_URL="+stack.ReplicaURL,
		"DATABASE_IAM_AUTH=false",
		"REDIS_URL="+stack.RedisURL,
		"REDIS_CLUSTER=false",
		"JWT_SECRET="+hex.EncodeToString(secret),
	)})
	if err != nil {
		return nil, "", err
	}
	defer local.stop()
	t.base, t.localPID, t.collector = local.base, local.cmd.Process.Pid, local.collector
	progress(fmt.Sprintf("cmd/local serving %s (pid %d), setup took %s", t.base, t.localPID, time.Since(begun).Round(time.Millisecond)))

	rep := newReport(o, t)
	next := laterShards(p)
	next.scenarios = append(next.scenarios, p.defaults...)
	if len(p.defaults) > 0 {
		next.setup += defaultsSetup
	}
	if err := drive(ctx, o, t, rep, p.harness, next); err != nil {
		return nil, "", err
	}
	rep.Memory = report.MemoryOf(emf.Instances(t.localPID))
	return rep, localBin, nil
}

// defaultsSetup is what the defaults phase is expected to take before its first scenario, at
// the default sizes on a 2-core machine: cmd/local's initdb, start and migrations (about 1 s),
// seeding (5-15 s), 200 logins (about 4 s) and the priming (about 12 s). The harness phase keeps
// it from the budget it fits its scenarios in.
const defaultsSetup = 35 * time.Second

// makeRunConfig are the variables that, set, make cmd/local use something other than its
// embedded defaults (cmd/local/services.go). The defaults phase runs it without them, whatever
// the shell make bench runs in holds.
var makeRunConfig = []string{"DATABASE_URL", "DATABASE_READER_URL", "DATABASE_IAM_AUTH", "REDIS_URL", "REDIS_CLUSTER", "JWT_SECRET"}

// benchDefaults is the defaults phase (issue 9): cmd/local as `make run` runs it with nothing
// configured, on its own PostgreSQL from the machine's binaries under a fresh -data-dir
// (migrated by cmd/local) and its embedded Redis. It is seeded like the harness stack, through
// the database URL cmd/local's banner shows, and scenarios are driven into rep.
func benchDefaults(ctx context.Context, o *options, bin, buildDir string, rep *report.Report, scenarios []*load.Scenario, next later) error {
	begun := time.Now()
	dataDir, err := os.MkdirTemp(buildDir, "defaults-")
	if err != nil {
		return err
	}
	if !o.keepStack {
		defer os.RemoveAll(dataDir)
	}
	// As root, the embedded PostgreSQL runs as the postgres user, who must reach its pgdata in
	// here; MkdirTemp makes it 0700.
	if err := os.Chmod(dataDir, 0o755); err != nil {
		return err
	}
	local, err := startLocal(ctx, o, localSpec{bin: bin, buildDir: buildDir, log: "local-defaults.log",
		env: without(os.Environ(), makeRunConfig...), args: []string{"-data-dir", dataDir}})
	if err != nil {
		return err
	}
	defer local.stop()
	dbURL, err := embeddedDatabaseURL(local.banner)
	if err != nil {
		return err
	}
	redisLine, _ := bannerValue(local.banner, "Redis:")
	progress(fmt.Sprintf("defaults: cmd/local serving %s (pid %d) on its embedded PostgreSQL %s and %s, up in %s",
		local.base, local.cmd.Process.Pid, dbURL, redisLine, time.Since(begun).Round(time.Millisecond)))
	data, err := seed.Seed(ctx, dbURL, o.sizes, progress)
	if err != nil {
		return err
	}
	t := &target{base: local.base, data: data, collector: local.collector, localPID: local.cmd.Process.Pid, ownStack: true,
		notes: []string{fmt.Sprintf("%s* ran through cmd/local on make run's embedded defaults (none of %s in its environment) at %s: PostgreSQL %s, Redis %s; no replica and no PgBouncer, the functions talk to the embedded server directly",
			defaultsPrefix, strings.Join(makeRunConfig, ", "), local.base, dbURL, redisLine)}}
	return drive(ctx, o, t, rep, scenarios, next)
}

// laterShards is what the shards phase, the last, needs of the budget of the phases before it.
func laterShards(p phases) later {
	if len(p.shards) == 0 {
		return later{}
	}
	return later{scenarios: slices.Clone(p.shards), setup: shardsSetup}
}

// runAgainst drives a stack someone else started.
func runAgainst(ctx context.Context, o *options) error {
	p, err := plan(o)
	if err != nil {
		return err
	}
	base, err := load.CheckLoopback(o.baseURL)
	if err != nil {
		return err
	}
	if o.databaseURL == "" {
		return errors.New("run: -database-url (the primary) is required, to seed or to find the seeded ids")
	}
	data, err := seed.Seed(ctx, o.databaseURL, o.sizes, progress)
	if err != nil {
		return err
	}
	t := &target{base: strings.TrimRight(base.String(), "/"), data: data, redisURL: o.redisURL, localPID: o.localPID}
	if o.functionLog != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		diag, err := os.Create(filepath.Join(o.out, "local.log"))
		if err != nil {
			return err
		}
		defer diag.Close()
		f, err := os.Open(o.functionLog)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return err
		}
		t.collector = emf.NewCollector(diag)
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = t.collector.Consume(&follower{ctx: fctx, f: f}, nil) }()
	} else {
		t.notes = append(t.notes, "no -function-log: cache hit rates, query times, cold starts and instances are not reported")
	}
	rep := newReport(o, t)
	if err := drive(ctx, o, t, rep, p.harness, later{}); err != nil {
		return err
	}
	if t.localPID > 0 {
		rep.Memory = report.MemoryOf(emf.Instances(t.localPID))
	}
	return finish(o, rep)
}

// follower reads a file that another process keeps appending to, like tail -f, until ctx ends.
type follower struct {
	ctx context.Context
	f   *os.File
}

func (r *follower) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		select {
		case <-r.ctx.Done():
			return 0, io.EOF
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// build builds cmd/local and every function's bootstrap, as `make build` does but for this
// machine, into dir/local and dir/<LogicalId>/bootstrap, where cmd/local -skip-build finds them.
// One go command builds them all, so it can share and parallelise the work.
func build(ctx context.Context, o *options, tpl *samtemplate.Template, dir string) (string, error) {
	pkgs := map[string]string{} // package dir -> logical id
	for _, fn := range tpl.Functions {
		// cmd/local finds the package as sam build would (CodeUri, or the Makefile's
		// build-<LogicalId> recipe); functions/<name> is the project's layout if that fails.
		pkg, err := bootstrap.Package(fn)
		if err != nil {
			pkg = filepath.Join("functions", strings.ToLower(strings.TrimSuffix(fn.LogicalID, "Function")))
			if _, serr := os.Stat(filepath.Join(pkg, "main.go")); serr != nil {
				return "", fmt.Errorf("%s: %w", fn.LogicalID, err)
			}
		}
		if wd, err := os.Getwd(); err == nil && filepath.IsAbs(pkg) {
			if rel, err := filepath.Rel(wd, pkg); err == nil && !strings.HasPrefix(rel, "..") {
				pkg = rel
			}
		}
		for p, other := range pkgs { // go build -o dir/ names each binary after its directory
			if filepath.Base(p) == filepath.Base(pkg) {
				return "", fmt.Errorf("%s (%s) and %s (%s): two packages named %s", other, p, fn.LogicalID, pkg, filepath.Base(pkg))
			}
		}
		pkgs[pkg] = fn.LogicalID
	}
	out := filepath.Join(dir, "bin")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	args := []string{"build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w", "-o", out + string(filepath.Separator)}
	for p := range pkgs {
		args = append(args, "./"+p)
	}
	if err := goCmd(ctx, o.goCmd, args...); err != nil {
		return "", err
	}
	for p, id := range pkgs {
		dst := filepath.Join(dir, id)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(filepath.Join(out, filepath.Base(p)), filepath.Join(dst, "bootstrap")); err != nil {
			return "", err
		}
	}
	local := filepath.Join(dir, "local")
	if err := goCmd(ctx, o.goCmd, "build", "-o", local, "./cmd/local"); err != nil {
		return "", err
	}
	return local, nil
}

func goCmd(ctx context.Context, goBin string, args ...string) error {
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", goBin, strings.Join(args, " "), err, out)
	}
	return nil
}

func declares(tpl *samtemplate.Template, name string) bool {
	for _, fn := range tpl.Functions {
		if _, ok := fn.Environment[name]; !ok {
			return false
		}
	}
	return len(tpl.Functions) > 0
}

// localSpec is what one phase's cmd/local runs with beyond what every phase's gets (the
// template, a free loopback port, -skip-build, -max-instances, the raised rate limit).
type localSpec struct {
	bin, buildDir string
	env           []string // the whole environment: it selects the backing services
	args          []string
	log           string // the file in -out its diagnostic lines go to
}

// localProcess is a running cmd/local.
type localProcess struct {
	cmd       *exec.Cmd
	base      string
	banner    []string       // its stdout up to the "Listening on" line
	collector *emf.Collector // its stderr: the functions' lines and its own
	diag      *os.File
	done      chan struct{}
}

// localStartWait bounds cmd/local's start: with no DATABASE_URL it runs initdb and the
// migrations before it listens.
const localStartWait = time.Minute

// startLocal runs cmd/local on a free loopback port, its stderr into a collector whose
// diagnostic lines go to spec.log, and waits until it listens.
func startLocal(ctx context.Context, o *options, spec localSpec) (*localProcess, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.bin, append([]string{"-template", o.template, "-addr", addr, "-build-dir", spec.buildDir, "-skip-build",
		"-max-instances", fmt.Sprint(o.maxInstances)}, spec.args...)...)
	cmd.Env = append(slices.Clip(spec.env), "RATE_LIMIT_PER_MINUTE="+rateLimit, "LOG_LEVEL=info")
	// cmd/local and its functions die with loadgen even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(o.out, spec.log)
	diag, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = diag.Close()
		return nil, err
	}
	p := &localProcess{cmd: cmd, base: "http://" + addr, collector: emf.NewCollector(diag), diag: diag, done: make(chan struct{})}
	go func() { _ = p.collector.Consume(stderr, nil) }()
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() { // to the end: a full pipe would block cmd/local's writes
			if found {
				continue
			}
			p.banner = append(p.banner, sc.Text())
			if found = strings.Contains(sc.Text(), "Listening on"); found {
				close(listening)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	fail := func(err error) (*localProcess, error) {
		p.stop()
		return nil, err
	}
	exited := func() error { return fmt.Errorf("cmd/local exited: %v (see %s)", cmd.ProcessState, logPath) }
	select {
	case <-listening:
	case <-p.done:
		return fail(exited())
	case <-time.After(localStartWait):
		return fail(fmt.Errorf("cmd/local did not start listening within %s (see %s)", localStartWait, logPath))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	select {
	case <-p.done:
		return fail(exited())
	default:
	}
	return p, nil
}

// stop asks cmd/local to stop its functions (and its embedded services) and exit, and kills it
// if it does not in time.
func (p *localProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = p.diag.Close()
}

// without returns env without the variables named.
func without(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, k)
	})
}

// bannerValue returns what follows label ("Redis:") on the first line of a cmd/local banner that
// starts with it.
func bannerValue(banner []string, label string) (string, bool) {
	for _, l := range banner {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), label); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// embeddedDatabaseURL returns the URL of cmd/local's embedded database from its banner line
// "Database: embedded PostgreSQL postgres://scaleapi@127.0.0.1:PORT/scaleapi?sslmode=disable
// (data in …)": cmd/local tells nowhere else where the server it started listens. It fails when
// there is no such line, when another database is in use (a DATABASE_URL got through), and when
// the URL is not a loopback one or shows a password (the banner redacts passwords).
func embeddedDatabaseURL(banner []string) (string, error) {
	const label, embedded = "Database:", "embedded PostgreSQL "
	v, ok := bannerValue(banner, label)
	if !ok {
		return "", fmt.Errorf("cmd/local's banner has no %q line (has its format changed?)", label)
	}
	rest, ok := strings.CutPrefix(v, embedded)
	if !ok {
		return "", fmt.Errorf("cmd/local is not on its embedded PostgreSQL: %q", label+" "+v)
	}
	raw, _, _ := strings.Cut(rest, " ")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" || u.Host == "" {
		return "", fmt.Errorf("cmd/local's banner: no database URL in %q", label+" "+v)
	}
	if h := u.Hostname(); h != "localhost" && !net.ParseIP(h).IsLoopback() {
		return "", fmt.Errorf("cmd/local's banner: %s is not on the loopback", u.Redacted())
	}
	if _, set := u.User.Password(); set {
		return "", fmt.Errorf("cmd/local's banner: %s has its password redacted", u.Redacted())
	}
	return raw, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
