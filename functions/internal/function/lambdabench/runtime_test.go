package lambdabench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// The Runtime API loop: what aws-lambda-go adds around a handler in a warm execution
// environment. lambda.StartWithOptions runs in this process, exactly as a function's main runs
// it, against a Runtime API served by a child process (this test binary run again with
// runtimeAPIChild set), so that the CPU and allocations measured here are the function's side
// of the exchange only: the GET .../invocation/next that hands it the event and its headers,
// the context aws-lambda-go builds from them, and the POST .../response, each over loopback
// HTTP/1.1 with keep-alive as in Lambda. The child's own CPU is reported apart (api-cpu-µs/op):
// in Lambda that side is AWS's, not billed to the function.
//
// lambda.StartWithOptions never returns and exits the process if the Runtime API goes away, so
// it is started once per test process, with a handler that calls whichever handler the
// running benchmark has set, and the child lives until this process ends (Pdeathsig).

// runtimeAPIChild, set in a child's environment, makes TestMain serve the Runtime API.
const runtimeAPIChild = "LAMBDABENCH_RUNTIME_API"

// runRequest is what the benchmark asks the child for: n invocations of event, one after the
// other as an execution environment takes them, each answer holding want.
type runRequest struct {
	N     int    `json:"n"`
	Event []byte `json:"event"`
	Want  string `json:"want"`
}

// runResult is the child's account of a run.
type runResult struct {
	Failures  int    `json:"failures"`
	LastError string `json:"lastError,omitempty"`
	CPUNanos  int64  `json:"cpuNanos"` // the child's CPU over the run
}

// serveRuntimeAPI is the child: it prints its address on stdout and serves the Runtime API's
// invocation routes and POST /bench/run until its parent ends.
func serveRuntimeAPI() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	api := &runtimeAPI{work: make(chan []byte), done: make(chan string)}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: api.routes(), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return 1
}

// runtimeAPI hands one event at a time to the runtime and collects its answers.
type runtimeAPI struct {
	run  sync.Mutex  // one run at a time
	work chan []byte // the next event, to a pending GET .../next
	done chan string // "" for an answer holding the run's want, else what went wrong
	want atomic.Pointer[string]
	seq  atomic.Int64
}

func (a *runtimeAPI) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", a.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", a.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", a.failed)
	mux.HandleFunc("POST /bench/run", a.runN)
	return mux
}

// next answers as Lambda's Runtime API does: the event, with the invocation's id, deadline,
// function ARN and trace id in headers.
func (a *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	select {
	case ev := <-a.work:
		n := a.seq.Add(1)
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", fmt.Sprintf("8f5c2a5e-0000-4000-9000-%012d", n))
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(invocationTimeout).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:"+accountID+":function:EntitiesFunction")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(ev)
	case <-r.Context().Done():
	}
}

func (a *runtimeAPI) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
	switch want := a.want.Load(); {
	case err != nil:
		a.done <- err.Error()
	case want == nil || !bytes.Contains(body[:min(len(body), 256)], []byte(*want)):
		a.done <- fmt.Sprintf("answer without %v: %.300s", want, body)
	default:
		a.done <- ""
	}
}

func (a *runtimeAPI) failed(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
	a.done <- fmt.Sprintf("function error: %.300s", body)
}

// runN runs a run: each event handed over only once the answer to the one before is in.
func (a *runtimeAPI) runN(w http.ResponseWriter, r *http.Request) {
	var req runRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.run.Lock()
	defer a.run.Unlock()
	a.want.Store(&req.Want)
	var res runResult
	c0 := cpuTime()
	for range req.N {
		a.work <- req.Event
		if msg := <-a.done; msg != "" {
			res.Failures++
			res.LastError = msg
		}
	}
	res.CPUNanos = int64(cpuTime() - c0)
	_ = json.NewEncoder(w).Encode(res)
}

// loop is the process's one aws-lambda-go loop, started on first use.
var loop struct {
	once    sync.Once
	api     string // the child's address
	err     error
	handler atomic.Pointer[lambda.Handler] // what the loop invokes now
}

// dispatch is the handler the loop runs: the one the running benchmark set.
type dispatch struct{}

func (dispatch) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return (*loop.handler.Load()).Invoke(ctx, payload)
}

// startLoop starts the child and, against it, lambda.StartWithOptions in a goroutine.
func startLoop() (string, error) {
	loop.once.Do(func() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), runtimeAPIChild+"=1")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.StdoutPipe()
		if err != nil {
			loop.err = err
			return
		}
		if err := cmd.Start(); err != nil {
			loop.err = err
			return
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			loop.err = fmt.Errorf("the Runtime API child printed no address: %w", err)
			return
		}
		loop.api = strings.TrimSpace(line)
		var h lambda.Handler = dispatch{}
		loop.handler.Store(&h)
		if err := os.Setenv("AWS_LAMBDA_RUNTIME_API", loop.api); err != nil {
			loop.err = err
			return
		}
		go lambda.StartWithOptions(dispatch{})
	})
	return loop.api, loop.err
}

// viaRuntimeAPI runs b.N invocations of ev through the loop into h, each answer holding want.
func viaRuntimeAPI(b *testing.B, h lambda.Handler, ev []byte, want string) {
	api, err := startLoop()
	if err != nil {
		b.Fatal(err)
	}
	loop.handler.Store(&h)
	run := func(n int) runResult {
		body, _ := json.Marshal(runRequest{N: n, Event: ev, Want: want})
		resp, err := http.Post("http://"+api+"/bench/run", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var res runResult
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			b.Fatal(err)
		}
		if res.Failures > 0 {
			b.Fatalf("%d of %d invocations failed; the last: %s", res.Failures, n, res.LastError)
		}
		return res
	}
	run(3) // warm: the loop's connection open, the handler's pools and caches filled
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	res := run(b.N)
	cpu := cpuTime() - c0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(res.CPUNanos)/1e3/float64(b.N), "api-cpu-µs/op")
}

// canned answers every invocation with the same bytes, the handler's cost taken out.
type canned []byte

func (c canned) Invoke(context.Context, []byte) ([]byte, error) { return c, nil }

// BenchmarkRuntimeAPI measures the Runtime API loop. loop is aws-lambda-go's exchange alone
// (the cached GET's event in, its recorded answer out, no handler work); the route rows are the
// same invocations through the real handler, so that each row minus BenchmarkInvoke's is the
// loop's share of the billed duration.
func BenchmarkRuntimeAPI(b *testing.B) {
	s := newStack(b)
	get := routes[0]
	for _, rt := range routes {
		if rt.name == "projects/get-cached" {
			get = rt
		}
	}
	e := s.envFor(get.req(s).resource)
	ev := event(b, get.req(s))
	answer, err := e.invokeRaw(b.Context(), ev)
	if err != nil {
		b.Fatal(err)
	}
	want := `"statusCode":200,`
	b.Run("loop", func(b *testing.B) { viaRuntimeAPI(b, canned(answer), ev, want) })
	b.Run(get.name, func(b *testing.B) { viaRuntimeAPI(b, e.handler, ev, want) })
}
