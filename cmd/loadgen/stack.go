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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"scaleapi/cmd/loadgen/internal/emf"
	"scaleapi/cmd/loadgen/internal/load"
	"scaleapi/cmd/loadgen/internal/seed"
	"scaleapi/cmd/local/bootstrap"
	"scaleapi/cmd/local/samtemplate"
	"scaleapi/shared/devservices"
	"scaleapi/shared/migrations"
)

// rateLimit is what the functions' per-user limit is raised to for the benchmark: the limiter
// still runs (its Redis round trip is part of every request's cost), but a few hundred users
// sending thousands of requests a second must not be throttled by a guard against abuse.
const rateLimit = "100000000"

// bench starts everything `make run` would, on free ports and in its own directories, runs the
// scenarios and stops it all again.
func bench(ctx context.Context, o *options) error {
	begun := time.Now()
	if o.budget > 0 {
		o.finishBy = begun.Add(o.budget)
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
	stackDir := filepath.Join(buildDir, "stack")
	_ = os.RemoveAll(stackDir) // devservices wants a directory without an earlier stack's servers
	if err := os.MkdirAll(stackDir, 0o755); err != nil {
		return err
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

	data, err := seed.Seed(ctx, stack.PrimaryURL, o.sizes, progress)
	if err != nil {
		return err
	}
	// Reports read the replica: wait until it has the data set.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = devservices.WaitReplay(wctx, stack.PrimaryURL, stack.ReplicaURL)
	cancel()
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}

	t := &target{data: data, redisURL: stack.RedisURL, fresh: true, ownStack: true}
	if !declares(tpl, "RATE_LIMIT_PER_MINUTE") {
		// Only the variables a template declares reach a function (as in sam local).
		note := o.template + " does not declare RATE_LIMIT_PER_MINUTE, so the functions keep their default per-user limit (600/min): expect 429s once the users' bursts are spent"
		t.notes = append(t.notes, note)
		progress("note: " + note)
	}
	diag, err := os.Create(filepath.Join(o.out, "local.log"))
	if err != nil {
		return err
	}
	defer diag.Close()
	t.collector = emf.NewCollector(diag)

	local, err := startLocal(ctx, o, o.template, localBin, buildDir, stack, t.collector)
	if err != nil {
		return err
	}
	defer local.stop()
	t.base, t.localPID = local.base, local.cmd.Process.Pid
	progress(fmt.Sprintf("cmd/local serving %s (pid %d), setup took %s", t.base, t.localPID, time.Since(begun).Round(time.Millisecond)))

	if _, err := drive(ctx, o, t); err != nil {
		return err
	}
	progress(fmt.Sprintf("make bench took %s", time.Since(begun).Round(time.Second)))
	return nil
}

// runAgainst drives a stack someone else started.
func runAgainst(ctx context.Context, o *options) error {
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
	_, err = drive(ctx, o, t)
	return err
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

// localProcess is a running cmd/local.
type localProcess struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

// startLocal runs cmd/local on a free loopback port against the stack, its stderr (the
// functions' lines and its own) into the collector, and waits until it listens.
func startLocal(ctx context.Context, o *options, template, bin, buildDir string, stack *devservices.Stack, c *emf.Collector) (*localProcess, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cmd := exec.Command(bin, "-template", template, "-addr", addr, "-build-dir", buildDir, "-skip-build",
		"-max-instances", fmt.Sprint(o.maxInstances))
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+stack.PoolerURL,
		"DATABASE_READER_URL="+stack.ReplicaURL,
		"DATABASE_IAM_AUTH=false",
		"REDIS_URL="+stack.RedisURL,
		"REDIS_CLUSTER=false",
		"JWT_SECRET="+hex.EncodeToString(secret),
		"RATE_LIMIT_PER_MINUTE="+rateLimit,
		"LOG_LEVEL=info",
	)
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
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &localProcess{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() { _ = c.Consume(stderr, nil) }()
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "Listening on") {
				once = true
				close(listening)
			}
		}
		if !once {
			close(listening)
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case <-listening:
	case <-p.done:
		return nil, fmt.Errorf("cmd/local exited: %v (see %s/local.log)", cmd.ProcessState, o.out)
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("cmd/local did not start listening within 30 s")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	select {
	case <-p.done:
		return nil, fmt.Errorf("cmd/local exited: %v (see %s/local.log)", cmd.ProcessState, o.out)
	default:
	}
	return p, nil
}

// stop asks cmd/local to stop its functions and exit, and kills it if it does not in time.
func (p *localProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
