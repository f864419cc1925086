package lambdaenv

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// instance is one execution environment: a function process and the Runtime API it talks to.
type instance struct {
	pool    *Pool
	id      int
	cmd     *exec.Cmd
	srv     *http.Server
	started time.Time

	next      chan *invocation // handed to the runtime's pending GET .../invocation/next
	ready     chan struct{}    // closed at the runtime's first GET .../next: init is done
	readyAt   time.Time        // written before ready is closed
	readyOnce sync.Once
	exited    chan struct{} // closed when the process has exited
	exitErr   error         // written before exited is closed

	mu      sync.Mutex
	current *invocation    // the invocation the runtime is working on
	initErr *FunctionError // posted to /runtime/init/error

	removed bool // guarded by pool.mu
}

// invocation is one event on its way through an instance.
type invocation struct {
	id       string
	traceID  string
	payload  []byte
	deadline time.Time

	once   sync.Once
	done   chan struct{} // closed once result or err is set
	result []byte
	err    *FunctionError
}

// complete records the invocation's outcome; only the first call counts.
func (inv *invocation) complete(result []byte, err *FunctionError) bool {
	first := false
	inv.once.Do(func() {
		inv.result, inv.err, first = result, err, true
		close(inv.done)
	})
	return first
}

func (p *Pool) startInstance() (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API listener: %w", err)
	}
	p.mu.Lock()
	p.seq++
	in := &instance{
		pool: p, id: p.seq,
		next: make(chan *invocation), ready: make(chan struct{}), exited: make(chan struct{}),
	}
	p.mu.Unlock()
	in.srv = &http.Server{Handler: in.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = in.srv.Serve(ln) }()

	out := newLineWriter(p.opts.Output, fmt.Sprintf("%s[%d]", p.spec.Name, in.id))
	cmd := exec.Command(p.spec.Binary) // #nosec G204 -- the function's bootstrap, built by cmd/local from the developer's template
	cmd.Dir = filepath.Dir(p.spec.Binary)
	cmd.Env = p.environ(ln.Addr().String())
	cmd.Stdout, cmd.Stderr = out, out // one writer: exec then uses one pipe and keeps the order
	cmd.WaitDelay = time.Second       // a grandchild holding the pipe must not hang Wait
	setProcAttr(cmd)
	in.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = in.srv.Close()
		return nil, fmt.Errorf("start %s: %w", p.spec.Binary, err)
	}
	in.cmd = cmd

	p.mu.Lock()
	closed := p.closed
	if !closed {
		p.all[in] = true
		p.stats.Started++
	}
	p.mu.Unlock()
	go in.wait(out)
	if closed {
		in.kill()
		return nil, ErrClosed
	}
	return in, nil
}

func (in *instance) wait(out *lineWriter) {
	err := in.cmd.Wait()
	out.Flush()
	in.exitErr = err
	close(in.exited)
	_ = in.srv.Close()
	in.pool.remove(in)
}

// environ is the process environment: Lambda's defaults, the function's variables, then the
// variables Lambda reserves, which a function cannot override.
func (p *Pool) environ(runtimeAPI string) []string {
	env := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG": "en_US.UTF-8",
		"TZ":   ":UTC",
		// Lambda has no instance metadata service; without this an AWS SDK that finds no
		// credentials in the environment probes 169.254.169.254 from the developer's machine.
		"AWS_EC2_METADATA_DISABLED": "true",
		// The CPU share Lambda gives the function's memory size (see gomaxprocs); a function's
		// own GOMAXPROCS wins.
		"GOMAXPROCS": strconv.Itoa(gomaxprocs(p.spec.MemoryMB, runtime.NumCPU())),
	}
	maps.Copy(env, p.spec.Env)
	var stream [16]byte
	_, _ = rand.Read(stream[:])
	dir := filepath.Dir(p.spec.Binary)
	maps.Copy(env, map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME":        p.spec.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(p.spec.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + p.spec.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(stream[:]),
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      p.spec.Region,
		"AWS_DEFAULT_REGION":              p.spec.Region,
		"_HANDLER":                        p.spec.Handler,
		"LAMBDA_TASK_ROOT":                dir,
		"LAMBDA_RUNTIME_DIR":              dir,
	})
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	slices.Sort(list)
	return list
}

// vCPUMemoryMB is the memory size at which Lambda allocates one full vCPU; CPU grows in
// proportion to memory, up to 6 vCPUs at 10,240 MB.
const vCPUMemoryMB = 1769

// gomaxprocs is the GOMAXPROCS an instance runs with: the vCPUs Lambda allocates to memoryMB,
// rounded up, at least 1 and at most the host's CPUs.
//
// The Go runtime sizes itself to the CPUs it sees. In Lambda a function of 256 MB sees two vCPUs
// but gets about 0.15 of one, and under cmd/local a dozen instances share a laptop's few cores;
// either way one P per instance is what there is to use. More Ps only add work that is not the
// function's: idle Ps spinning in the scheduler between the Runtime API's round trips, wake-ups
// handed across OS threads, GC workers per P. On the 2-core bench machine GOMAXPROCS=1 for the
// 256 MB functions cut the functions' CPU per cached GET from about 570 to 395 µs and raised
// cached GETs at 32 concurrent from 1,700 to 2,300/s (make bench -scenarios get-project).
func gomaxprocs(memoryMB, cpus int) int {
	n := (memoryMB + vCPUMemoryMB - 1) / vCPUMemoryMB
	return max(1, min(n, cpus))
}

// invoke runs one invocation on the instance, which the caller has acquired. retry reports that
// the instance had exited before the invocation reached it, so another instance can take it.
func (in *instance) invoke(payload []byte, cold bool) (res *Result, retry bool) {
	p := in.pool
	res = &Result{RequestID: newUUID(), ColdStart: cold, Instance: in.id}
	if cold {
		timer := time.NewTimer(p.opts.InitTimeout)
		defer timer.Stop()
		select {
		case <-in.ready:
			res.InitDuration = in.readyAt.Sub(in.started)
		case <-in.exited:
			res.Err = in.initFailure(res.RequestID)
			return res, false
		case <-timer.C:
			in.kill()
			res.Err = &FunctionError{Type: errTimeout, init: true, Message: fmt.Sprintf(
				"RequestId: %s Error: the init phase did not finish within %s", res.RequestID, p.opts.InitTimeout)}
			return res, false
		}
	}

	start := time.Now()
	inv := &invocation{
		id: res.RequestID, traceID: traceID(start), payload: payload,
		deadline: start.Add(p.spec.Timeout), done: make(chan struct{}),
	}
	timer := getTimer(p.spec.Timeout)
	defer putTimer(timer)
	select {
	case in.next <- inv:
	case <-in.exited:
		if !cold {
			return nil, true
		}
		res.Err = exitError(res.RequestID, in.exitErr)
		return res, false
	case <-timer.C:
		// The runtime never asked for the event: to the caller that is a function past its timeout.
		in.kill()
		res.Err, res.Duration = timeoutError(res.RequestID, p.spec.Timeout), time.Since(start)
		return res, false
	}

	select {
	case <-inv.done:
	case <-in.exited:
		// A Go panic posts its error and then exits: the error, if it came, is the outcome.
		select {
		case <-inv.done:
		default:
			inv.complete(nil, exitError(res.RequestID, in.exitErr))
		}
	case <-timer.C:
		in.kill()
		inv.complete(nil, timeoutError(res.RequestID, p.spec.Timeout))
	}
	res.Duration = time.Since(start)
	res.Payload, res.Err = inv.result, inv.err
	if p.opts.ReportMemory {
		res.MaxMemoryUsed = peakRSS(in.cmd.Process.Pid)
	}
	select {
	case <-in.exited:
	default:
		if res.Outcome() != OutcomeTimeout {
			p.release(in)
		}
	}
	return res, false
}

func (in *instance) initFailure(id string) *FunctionError {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.initErr != nil {
		return in.initErr
	}
	fe := exitError(id, in.exitErr)
	fe.init = true
	return fe
}

// kill ends the process group at once and waits for the process to be reaped.
func (in *instance) kill() {
	_ = signalGroup(in.cmd.Process, sigKill)
	select {
	case <-in.exited:
	case <-time.After(5 * time.Second):
	}
}

// terminate asks the process to stop (SIGTERM), then kills it after grace.
func (in *instance) terminate(grace time.Duration) {
	_ = signalGroup(in.cmd.Process, sigTerm)
	select {
	case <-in.exited:
		return
	case <-time.After(grace):
	}
	in.kill()
}

// traceID is an X-Ray trace header in the format Lambda passes in Lambda-Runtime-Trace-Id:
// "Root=1-%08x-%s;Parent=%s;Sampled=0" of the Unix time and 12 and 8 random bytes in hex,
// assembled in place rather than through fmt for the one allocation of the string.
func traceID(t time.Time) string {
	var b [24]byte
	randomBytes(b[:])
	var out [64]byte
	s := append(out[:0], "Root=1-"...)
	sec := t.Unix()
	for d := int64(0x10000000); d > 1 && sec < d; d >>= 4 {
		s = append(s, '0') // %08x's padding; the time is never negative
	}
	s = strconv.AppendInt(s, sec, 16)
	s = append(s, '-')
	s = hex.AppendEncode(s, b[:12])
	s = append(s, ";Parent="...)
	s = hex.AppendEncode(s, b[12:20])
	s = append(s, ";Sampled=0"...)
	return string(s)
}

// timers holds stopped timers for the invocations' timeouts, one per invocation otherwise. (A
// stopped timer delivers no stale tick after Reset.)
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}

// newUUID returns a random (version 4) UUID in the form uuid.NewString gives.
func newUUID() string {
	var u uuid.UUID
	randomBytes(u[:])
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

// randomBytes fills b, whose length is a multiple of 8, from math/rand/v2's generator: ChaCha8
// per thread, seeded by the operating system, which needs no system call per read as
// crypto/rand does. The ids need to be unique, not secret.
func randomBytes(b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], mrand.Uint64()) // #nosec G404 -- trace ids: unique, not secret (above)
	}
}
