package gateway

import (
	"context"
	"sync"
	"time"

	"scaleapi/cmd/local/lambdaenv"
)

// outcome is what Pool.Invoke returned.
type outcome struct {
	res *lambdaenv.Result
	err error
}

// invocation is an invoker's job: one Pool.Invoke, whose outcome goes to done.
type invocation struct {
	ctx     context.Context
	pool    *lambdaenv.Pool
	payload []byte
	done    chan<- outcome // buffered, so an invocation past the integration timeout finishes alone
}

// invokers run the invocations ServeHTTP waits for up to the integration timeout. Each runs
// one at a time and then waits a while for the next, rather than each request starting a
// goroutine of its own: a new goroutine starts on a small stack, which an invocation's calls
// outgrow, so every request paid for a stack copy besides the goroutine's start.
type invokers struct {
	work chan invocation // unbuffered: a send succeeds only when an invoker is waiting
	quit chan struct{}   // closed by stop
	once sync.Once
}

// invokerIdle is how long an invoker waits for work before it ends.
const invokerIdle = 10 * time.Second

func newInvokers() *invokers {
	return &invokers{work: make(chan invocation), quit: make(chan struct{})}
}

// start runs inv on a waiting invoker, or on a new one when all are busy.
func (iv *invokers) start(inv invocation) {
	select {
	case iv.work <- inv:
	default:
		go iv.run(inv)
	}
}

func (iv *invokers) run(inv invocation) {
	idle := time.NewTimer(invokerIdle)
	defer idle.Stop()
	for {
		res, err := inv.pool.Invoke(inv.ctx, inv.payload)
		inv.done <- outcome{res, err}
		inv = invocation{} // hold on to nothing of the request while waiting
		idle.Reset(invokerIdle)
		select {
		case inv = <-iv.work:
		case <-idle.C:
			return
		case <-iv.quit:
			return
		}
	}
}

// stop ends the waiting invokers; busy ones end when their invocation does.
func (iv *invokers) stop() { iv.once.Do(func() { close(iv.quit) }) }

// timers holds stopped timers for the integration timeout, one per request otherwise. (A
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
