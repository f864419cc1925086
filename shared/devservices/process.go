package devservices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errPortInUse marks a server that exited because its port was taken between picking and binding;
// the caller retries with another port.
var errPortInUse = errors.New("port in use")

// maxAttempts bounds the retries after a port race; losing it more than a few times in a row means
// something else is wrong.
const maxAttempts = 5

// stopGrace is how long a server gets to exit after its stop signal before its process group is
// killed.
const stopGrace = 10 * time.Second

// proc is one server process, the leader of its own process group.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFrom int64 // size of the log file at start: earlier runs' lines are not this process's
	stopSig syscall.Signal
	exited  chan struct{} // closed once the process has been reaped
	waitErr error         // valid after exited is closed
	stopped bool          // set before the stop signal, to tell an expected exit from a crash
	mu      sync.Mutex
}

// procSpec describes a process to start.
type procSpec struct {
	name    string // for messages and log prefixes: "postgres primary"
	path    string
	args    []string
	dir     string // working directory, reachable by acct
	logPath string // server output is appended here
	log     io.Writer
	acct    *account
	stopSig syscall.Signal
}

// serverEnv is this process's environment without the PG* variables, which would otherwise
// redirect initdb or pg_basebackup (PGDATA, PGHOST, PGPORT ...) to somewhere else, and with the C
// locale so that server messages, which readiness checks parse, are in English.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// startProc starts a process in its own process group, as acct, with its output going to its log
// file (and to spec.log when set).
func startProc(spec procSpec) (*proc, error) {
	f, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.name, err)
	}
	var logFrom int64
	if fi, err := f.Stat(); err == nil {
		logFrom = fi.Size()
	}
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = serverEnv()
	var out io.Writer = f
	if spec.log != nil {
		out = io.MultiWriter(f, &prefixWriter{w: spec.log, prefix: "[" + spec.name + "] "})
		// A pipe is copied by a goroutine that waits for every holder of the write end; a
		// grandchild that outlives the server must not hang Wait.
		cmd.WaitDelay = 2 * time.Second
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr(spec.acct.cred)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	p := &proc{name: spec.name, cmd: cmd, logPath: spec.logPath, logFrom: logFrom, stopSig: spec.stopSig, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// runTool runs a short-lived tool (initdb, pg_basebackup) to completion; the tool is killed when ctx
// is done. Its output goes to the log file and, on failure, into the error.
func runTool(ctx context.Context, spec procSpec) error {
	p, err := startProc(spec)
	if err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		p.kill()
		return fmt.Errorf("%s: %w", spec.name, ctx.Err())
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s: %v; end of %s:\n%s", spec.name, p.waitErr, spec.logPath, p.logTail())
	}
	return nil
}

// pid returns the process id, which is also the process group id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exitError explains an exit during startup, with the end of the server log, and marks a lost
// port race with errPortInUse.
func (p *proc) exitError() error {
	tail := p.logTail()
	if strings.Contains(tail, "Address already in use") {
		return fmt.Errorf("%s: %w", p.name, errPortInUse)
	}
	return fmt.Errorf("%s exited during startup (%v); end of %s:\n%s", p.name, p.waitErr, p.logPath, tail)
}

// stop sends the stop signal, waits up to stopGrace, then kills the process group. It returns an
// error if the process had already exited by itself, which means the server crashed.
func (p *proc) stop() error {
	p.mu.Lock()
	already := p.stopped
	p.stopped = true
	p.mu.Unlock()
	var crashed error
	select {
	case <-p.exited:
		if !already {
			crashed = fmt.Errorf("%s had exited unexpectedly (%v); see %s", p.name, p.waitErr, p.logPath)
		}
	default:
		_ = p.cmd.Process.Signal(p.stopSig)
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
			<-p.exited
		}
	}
	// Children that outlived their leader would otherwise be left running. The group id can't
	// have been reused yet: the kernel keeps it while any member lives, and if none does this
	// is a no-op.
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	return crashed
}

// kill ends the process group at once; for cleanup after a failed start.
func (p *proc) kill() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.exited
}

// waitReady polls check until it succeeds, the process exits, or ctx is done. Startup is bounded
// even under a context without deadline, because a server that hangs must fail the run, not block
// it.
func waitReady(ctx context.Context, p *proc, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.exited:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last error: %v); end of %s:\n%s", p.name, ctx.Err(), last, p.logPath, p.logTail())
		case <-tick.C:
		}
	}
}

// logTail returns the last lines this process wrote to its log file, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if p.logFrom <= int64(len(b)) {
		b = b[p.logFrom:]
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// prefixWriter writes whole lines, each with a prefix, under one lock shared by all servers, so
// that the output of concurrent servers on one Options.Log does not interleave mid-line.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

var logMu sync.Mutex

func (pw *prefixWriter) Write(b []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	pw.buf = append(pw.buf, b...)
	for {
		i := bytes.IndexByte(pw.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := pw.buf[:i+1]
		if _, err := io.WriteString(pw.w, pw.prefix); err != nil {
			return len(b), err
		}
		if _, err := pw.w.Write(line); err != nil {
			return len(b), err
		}
		pw.buf = pw.buf[i+1:]
	}
}
