// Package lambdaenv runs a Lambda function's execution environments as local processes that
// speak the Lambda Runtime API (2018-06-01), the way Lambda runs a provided.al2023 function: the
// real bootstrap binary, started with the Lambda environment variables, pulls its invocations
// from AWS_LAMBDA_RUNTIME_API with lambda.Start.
//
// Each process (an instance) gets a Runtime API listener of its own on 127.0.0.1, so it can only
// ever receive its own invocations. A Pool keeps a function's instances: one invocation at a time
// each; an idle (warm) instance is reused, most recently used first; a new one is started (a cold
// start) when none is idle, up to the function's limit; past it, invocations wait for one to free
// up. An instance that exceeds the function's timeout is killed, and one whose process exits —
// a Go panic does, after reporting the error — is dropped; the next invocation that needs one
// starts a replacement, as Lambda does after it resets an environment.
//
// Process hygiene: each instance runs in its own process group, so Ctrl-C in a terminal reaches
// the gateway and not the functions, and killing the group takes any child processes along. On
// Linux the kernel also kills instances when the gateway dies without cleaning up (Pdeathsig).
package lambdaenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// Spec describes a function.
type Spec struct {
	// Name is the function name: AWS_LAMBDA_FUNCTION_NAME, the log group and the ARN.
	Name string
	// Binary is the function's bootstrap executable; its directory is LAMBDA_TASK_ROOT and the
	// process's working directory, as /var/task is in Lambda.
	Binary   string
	Handler  string
	Timeout  time.Duration
	MemoryMB int
	// MaxInstances caps concurrent instances; 0 throttles every invocation, as a reserved
	// concurrency of 0 does in Lambda.
	MaxInstances int
	// Env is the function's environment variables. The variables Lambda reserves
	// (AWS_LAMBDA_*, AWS_REGION, _HANDLER, LAMBDA_TASK_ROOT, ...) are set by the Pool and
	// override same-named entries here. GOMAXPROCS defaults to the vCPUs Lambda allocates to
	// MemoryMB (one up to 1,769 MB); an entry here overrides it.
	Env       map[string]string
	Region    string
	AccountID string
}

// ARN returns the function's ARN, the one the Runtime API reports as the invoked function ARN.
func (s Spec) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.Region, s.AccountID, s.Name)
}

// Options tune a Pool.
type Options struct {
	// Output receives the instances' stdout and stderr, one line per Write, each prefixed with
	// the function name and instance number. It must be safe for concurrent use (os.Stderr is);
	// os.Stderr when nil.
	Output io.Writer
	// ShutdownGrace is how long Close waits after SIGTERM before it kills an instance; 2 s when
	// zero (Lambda gives 500 ms to a runtime with only internal extensions, 2 s with external
	// ones; the longer one leaves room for a laptop under load).
	ShutdownGrace time.Duration
	// InitTimeout bounds an instance's init phase, from process start to its first request for
	// an invocation; 10 s when zero, Lambda's init limit.
	InitTimeout time.Duration
	// ReportMemory fills each Result's MaxMemoryUsed, Lambda's "Max Memory Used": the
	// instance's peak resident set so far, read from /proc after the invocation (Linux only;
	// it costs a file read per invocation, so it is off unless asked for).
	ReportMemory bool
}

// Errors Invoke returns when it could not run the invocation at all.
var (
	ErrThrottled = errors.New("lambdaenv: no instance became free within the function's timeout")
	ErrClosed    = errors.New("lambdaenv: pool closed")
)

// maxRetries bounds how often Invoke moves an invocation to another instance when the one it
// picked turns out to have exited before the invocation reached it.
const maxRetries = 3

// Pool runs the instances of one function.
type Pool struct {
	spec Spec
	opts Options

	mu      sync.Mutex
	idle    []*instance        // warm and free; the last is the most recently used
	count   int                // instances running or starting, each holding a slot
	waiters []chan *instance   // FIFO; gets a free instance, or nil for a free slot
	all     map[*instance]bool // every started instance not yet removed
	closed  bool
	seq     int
	stats   Stats

	// arn is the Lambda-Runtime-Invoked-Function-Arn header's value, the same for every
	// invocation; net/http only reads a header's values, so one slice serves them all.
	arn []string
}

// Stats counts a Pool's activity.
type Stats struct {
	Instances   int   // running now (busy or idle)
	Idle        int   // warm and free now
	Started     int64 // processes started
	Invocations int64 // invocations run (delivered, or failed at init)
	ColdStarts  int64 // invocations that started their instance
	Errors      int64 // invocations that reported a function error
	Timeouts    int64 // invocations killed at the timeout
	Crashes     int64 // invocations whose process exited or failed to initialise
	Throttles   int64 // invocations that found no free instance
}

// NewPool returns a Pool for spec. No process starts until the first invocation.
func NewPool(spec Spec, opts Options) *Pool {
	if opts.Output == nil {
		opts.Output = os.Stderr
	}
	if opts.ShutdownGrace == 0 {
		opts.ShutdownGrace = 2 * time.Second
	}
	if opts.InitTimeout == 0 {
		opts.InitTimeout = 10 * time.Second
	}
	return &Pool{spec: spec, opts: opts, all: map[*instance]bool{}, arn: []string{spec.ARN()}}
}

// Spec returns the function the Pool runs.
func (p *Pool) Spec() Spec { return p.spec }

// Stats returns a snapshot of the Pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Instances, s.Idle = len(p.all), len(p.idle)
	return s
}

// Invoke runs one invocation and returns its Result; Result.Err reports a function error,
// timeout or crash. Invoke itself fails only when no instance could take the invocation:
// ErrThrottled when none became free within the function's timeout, ErrClosed, ctx's error, or
// an error starting a process. ctx bounds only that wait: once an instance has the invocation it
// runs to completion or to the timeout, as in Lambda, where a caller that goes away does not stop
// a running function.
func (p *Pool) Invoke(ctx context.Context, payload []byte) (*Result, error) {
	// The wait for an instance is bounded by the timeout from now, across retries. Its context
	// is made only by a call that has to wait: most find an idle instance.
	deadline := time.Now().Add(p.spec.Timeout)
	for attempt := 0; ; attempt++ {
		in, cold, err := p.acquire(ctx, deadline)
		if err != nil {
			if errors.Is(err, ErrThrottled) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				p.update(func(s *Stats) { s.Throttles++ })
				return nil, ErrThrottled
			}
			return nil, err
		}
		res, retry := in.invoke(payload, cold)
		if retry && attempt < maxRetries {
			continue
		}
		if res == nil {
			return nil, fmt.Errorf("lambdaenv: %s: instances keep exiting before taking an invocation", p.spec.Name)
		}
		p.update(func(s *Stats) {
			s.Invocations++
			if res.ColdStart {
				s.ColdStarts++
			}
			switch res.Outcome() {
			case OutcomeError:
				s.Errors++
			case OutcomeTimeout:
				s.Timeouts++
			case OutcomeCrash:
				s.Crashes++
			}
		})
		return res, nil
	}
}

func (p *Pool) update(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// acquire returns a free instance, and whether it was just started. A wait for one ends at
// deadline or when parent is done.
func (p *Pool) acquire(parent context.Context, deadline time.Time) (*instance, bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return in, false, nil
	}
	if p.count < p.spec.MaxInstances {
		p.count++
		p.mu.Unlock()
		return p.start()
	}
	if p.spec.MaxInstances <= 0 {
		p.mu.Unlock()
		return nil, false, ErrThrottled
	}
	ch := make(chan *instance, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	ctx, cancel := context.WithDeadline(parent, deadline)
	defer cancel()
	select {
	case in, ok := <-ch:
		switch {
		case !ok:
			return nil, false, ErrClosed
		case in == nil:
			return p.start() // a slot was handed over
		}
		return in, false, nil
	case <-ctx.Done():
		p.mu.Lock()
		if i := slices.Index(p.waiters, ch); i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
			p.mu.Unlock()
			return nil, false, ctx.Err()
		}
		p.mu.Unlock()
		// Something was handed over as the wait ended: pass it on.
		if in, ok := <-ch; ok {
			if in == nil {
				p.freeSlot()
			} else {
				p.release(in)
			}
		}
		return nil, false, ctx.Err()
	}
}

// start starts an instance in a slot the caller holds.
func (p *Pool) start() (*instance, bool, error) {
	in, err := p.startInstance()
	if err != nil {
		p.freeSlot()
		return nil, false, err
	}
	return in, true, nil
}

// release makes an instance that finished an invocation available again.
func (p *Pool) release(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.removed || p.closed {
		return
	}
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- in
		return
	}
	p.idle = append(p.idle, in)
}

// remove forgets an instance whose process has exited and frees its slot.
func (p *Pool) remove(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in.removed {
		return
	}
	in.removed = true
	delete(p.all, in)
	if i := slices.Index(p.idle, in); i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
	}
	p.freeSlotLocked()
}

func (p *Pool) freeSlot() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.freeSlotLocked()
}

func (p *Pool) freeSlotLocked() {
	if !p.closed && len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- nil // the slot passes to the waiter, which starts an instance in it
		return
	}
	p.count--
}

// Close stops every instance: SIGTERM (which lambda.WithEnableSIGTERM turns into the
// function's shutdown callbacks), then SIGKILL to the process group after the grace period.
// Invocations still running fail as crashes; Invoke returns ErrClosed from then on.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	for _, ch := range p.waiters {
		close(ch)
	}
	p.waiters = nil
	var all []*instance
	for in := range p.all {
		all = append(all, in)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Go(func() { in.terminate(p.opts.ShutdownGrace) })
	}
	wg.Wait()
}
