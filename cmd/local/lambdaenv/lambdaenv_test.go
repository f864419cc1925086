package lambdaenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fixture is the bootstrap built from testdata/runtime by TestMain.
var fixture string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdaenv-test")
	if err != nil {
		panic(err)
	}
	fixture = filepath.Join(dir, "task", "bootstrap")
	out, err := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", fixture, "./testdata/runtime").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build the runtime fixture: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects the instances' output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newPool(t *testing.T, timeout time.Duration, maxInstances int, env map[string]string) (*Pool, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	p := NewPool(Spec{
		Name: "TestFunction", Binary: fixture, Handler: "bootstrap", Timeout: timeout, MemoryMB: 256,
		MaxInstances: maxInstances, Env: env, Region: "eu-west-1", AccountID: "123456789012",
	}, Options{Output: out, ShutdownGrace: 2 * time.Second})
	t.Cleanup(p.Close)
	return p, out
}

type report struct {
	Op         string            `json:"op"`
	PID        int               `json:"pid"`
	RequestID  string            `json:"requestId"`
	ARN        string            `json:"arn"`
	DeadlineMS int64             `json:"deadlineMs"`
	TraceID    string            `json:"traceId"`
	Env        map[string]string `json:"env"`
	Cwd        string            `json:"cwd"`
}

func invoke(t *testing.T, p *Pool, op string, ms int) *Result {
	t.Helper()
	res, err := p.Invoke(context.Background(), fmt.Appendf(nil, `{"op":%q,"ms":%d}`, op, ms))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", op, err)
	}
	return res
}

func echo(t *testing.T, p *Pool) (*Result, report) {
	t.Helper()
	res := invoke(t, p, "echo", 0)
	if res.Err != nil {
		t.Fatalf("echo failed: %v", res.Err)
	}
	var r report
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("decode %s: %v", res.Payload, err)
	}
	return res, r
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestRuntimeAPIConformance(t *testing.T) {
	const timeout = 3 * time.Second
	p, out := newPool(t, timeout, 1, map[string]string{"APP_SETTING": "on", "AWS_REGION": "ignored"})

	before := time.Now()
	res, r := echo(t, p)
	after := time.Now()

	t.Run("Headers", func(t *testing.T) {
		if r.RequestID != res.RequestID || r.RequestID == "" {
			t.Errorf("the function saw request id %q, the pool reports %q", r.RequestID, res.RequestID)
		}
		if want := "arn:aws:lambda:eu-west-1:123456789012:function:TestFunction"; r.ARN != want {
			t.Errorf("invoked function ARN = %q, want %q", r.ARN, want)
		}
		if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`).MatchString(r.TraceID) {
			t.Errorf("trace id %q is not an X-Ray trace header", r.TraceID)
		}
		if r.Env["_X_AMZN_TRACE_ID"] != r.TraceID {
			t.Errorf("_X_AMZN_TRACE_ID = %q, want the trace id %q", r.Env["_X_AMZN_TRACE_ID"], r.TraceID)
		}
	})
	t.Run("Deadline", func(t *testing.T) {
		dl := time.UnixMilli(r.DeadlineMS)
		if lo, hi := before.Add(timeout).Add(-time.Millisecond), after.Add(timeout); dl.Before(lo) || dl.After(hi) {
			t.Errorf("ctx.Deadline() = %v, want now+%v, within [%v, %v]", dl, timeout, lo, hi)
		}
	})
	t.Run("Environment", func(t *testing.T) {
		for k, want := range map[string]string{
			"AWS_LAMBDA_FUNCTION_NAME":        "TestFunction",
			"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
			"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/TestFunction",
			"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
			"AWS_REGION":                      "eu-west-1", // reserved: the function's "ignored" loses
			"AWS_DEFAULT_REGION":              "eu-west-1",
			"_HANDLER":                        "bootstrap",
			"LAMBDA_TASK_ROOT":                filepath.Dir(fixture),
			"TZ":                              ":UTC",
			"AWS_EC2_METADATA_DISABLED":       "true",
			"APP_SETTING":                     "on",
			"GOMAXPROCS":                      "1", // 256 MB: a fraction of a vCPU
		} {
			if got := r.Env[k]; got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if !regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`).MatchString(r.Env["AWS_LAMBDA_LOG_STREAM_NAME"]) {
			t.Errorf("AWS_LAMBDA_LOG_STREAM_NAME = %q", r.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
		}
		if r.Env["HOME"] != "" || r.Env["GOPATH"] != "" {
			t.Error("the host environment leaked into the function")
		}
		if r.Cwd != filepath.Dir(fixture) {
			t.Errorf("working directory = %q, want the task root", r.Cwd)
		}
	})
	t.Run("WarmReuse", func(t *testing.T) {
		if !res.ColdStart || res.InitDuration <= 0 {
			t.Errorf("first invocation: ColdStart=%v InitDuration=%v, want a cold start", res.ColdStart, res.InitDuration)
		}
		res2, r2 := echo(t, p)
		if res2.ColdStart || r2.PID != r.PID || res2.RequestID == res.RequestID {
			t.Errorf("second invocation: cold=%v pid %d (first %d), request id %s; want the warm instance and a new id",
				res2.ColdStart, r2.PID, r.PID, res2.RequestID)
		}
	})
	t.Run("OutputPrefixed", func(t *testing.T) {
		if want := fmt.Sprintf("TestFunction[1] init %d\n", r.PID); !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	})
}

func TestFunctionErrors(t *testing.T) {
	p, _ := newPool(t, 3*time.Second, 1, nil)
	_, first := echo(t, p)

	t.Run("ReturnedError", func(t *testing.T) {
		res := invoke(t, p, "error", 0)
		if res.Outcome() != OutcomeError || res.Err.Type != "errorString" || res.Err.Message != "boom" {
			t.Fatalf("result = %+v, err %+v; want errorString boom", res, res.Err)
		}
		var doc map[string]any
		if err := json.Unmarshal(res.Err.Payload, &doc); err != nil || doc["errorMessage"] != "boom" {
			t.Errorf("error document %s", res.Err.Payload)
		}
		if _, r := echo(t, p); r.PID != first.PID {
			t.Error("a returned error replaced the instance; Lambda keeps it")
		}
	})
	t.Run("PanicReplacesInstance", func(t *testing.T) {
		res := invoke(t, p, "panic", 0)
		if res.Outcome() != OutcomeError || res.Err.Type != "string" || res.Err.Message != "kaboom" {
			t.Fatalf("result err = %+v; want errorType string, message kaboom", res.Err)
		}
		var doc struct {
			StackTrace []any `json:"stackTrace"`
		}
		if err := json.Unmarshal(res.Err.Payload, &doc); err != nil || len(doc.StackTrace) == 0 {
			t.Errorf("panic error document has no stack trace: %s", res.Err.Payload)
		}
		res2, r := echo(t, p)
		if !res2.ColdStart || r.PID == first.PID {
			t.Errorf("after a panic: cold=%v pid=%d (was %d); want a new instance", res2.ColdStart, r.PID, first.PID)
		}
		if alive(first.PID) {
			t.Errorf("the panicked process %d is still alive", first.PID)
		}
	})
	t.Run("ExitIsCrash", func(t *testing.T) {
		_, before := echo(t, p)
		res := invoke(t, p, "exit", 0)
		if res.Outcome() != OutcomeCrash || res.Err.Type != "Runtime.ExitError" || !strings.Contains(res.Err.Message, "exit status 3") {
			t.Fatalf("result err = %+v; want Runtime.ExitError with exit status 3", res.Err)
		}
		if res2, r := echo(t, p); !res2.ColdStart || r.PID == before.PID {
			t.Error("the crashed instance was reused")
		}
	})
	t.Run("ResponseTooLarge", func(t *testing.T) {
		res := invoke(t, p, "big", 0)
		if res.Err == nil || res.Err.Type != "Function.ResponseSizeTooLarge" {
			t.Fatalf("result err = %+v; want Function.ResponseSizeTooLarge", res.Err)
		}
	})
	stats := p.Stats()
	if stats.Errors != 3 || stats.Crashes != 1 || stats.ColdStarts != 3 {
		t.Errorf("stats = %+v; want 3 errors, 1 crash, 3 cold starts", stats)
	}
}

func TestTimeout(t *testing.T) {
	p, _ := newPool(t, time.Second, 1, nil)
	_, first := echo(t, p)
	res := invoke(t, p, "sleep", 5000)
	if res.Outcome() != OutcomeTimeout || !strings.Contains(res.Err.Message, "Task timed out after 1.00 seconds") {
		t.Fatalf("result err = %+v; want a timeout", res.Err)
	}
	if res.Duration < time.Second || res.Duration > 3*time.Second {
		t.Errorf("timed-out invocation took %v, want about 1s", res.Duration)
	}
	if alive(first.PID) {
		t.Errorf("the timed-out process %d is still alive", first.PID)
	}
	if res2, r := echo(t, p); !res2.ColdStart || r.PID == first.PID {
		t.Error("the timed-out instance was reused")
	}
	if s := p.Stats(); s.Timeouts != 1 {
		t.Errorf("Timeouts = %d, want 1", s.Timeouts)
	}
}

func TestInitError(t *testing.T) {
	p, _ := newPool(t, 3*time.Second, 1, map[string]string{"FIXTURE_INIT": "fail"})
	res := invoke(t, p, "echo", 0)
	if res.Outcome() != OutcomeCrash || res.Err.Type != "InitConfigError" || res.Err.Message != "no config" {
		t.Fatalf("result err = %+v; want the init error the runtime posted", res.Err)
	}
}

func TestConcurrency(t *testing.T) {
	p, _ := newPool(t, 10*time.Second, 3, nil)
	var wg sync.WaitGroup
	pids := sync.Map{}
	for range 8 {
		wg.Go(func() {
			res, err := p.Invoke(context.Background(), []byte(`{"op":"sleep","ms":300}`))
			if err != nil || res.Err != nil {
				t.Errorf("Invoke: %v %v", err, res.Err)
				return
			}
			var r report
			_ = json.Unmarshal(res.Payload, &r)
			pids.Store(r.PID, true)
		})
	}
	wg.Wait()
	n := 0
	pids.Range(func(_, _ any) bool { n++; return true })
	s := p.Stats()
	if n != 3 || s.Started != 3 || s.ColdStarts != 3 || s.Invocations != 8 || s.Instances != 3 || s.Idle != 3 {
		t.Errorf("%d processes served; stats %+v; want 3 instances for 8 invocations", n, s)
	}
}

func TestThrottledAndCancelled(t *testing.T) {
	t.Run("ZeroConcurrency", func(t *testing.T) {
		p, _ := newPool(t, time.Second, 0, nil)
		if _, err := p.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, ErrThrottled) {
			t.Errorf("Invoke = %v, want ErrThrottled", err)
		}
	})
	t.Run("WaitEndsWithContext", func(t *testing.T) {
		p, _ := newPool(t, 10*time.Second, 1, nil)
		busy := make(chan struct{})
		go func() {
			defer close(busy)
			_, _ = p.Invoke(context.Background(), []byte(`{"op":"sleep","ms":1500}`))
		}()
		time.Sleep(200 * time.Millisecond) // let it take the one instance
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := p.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Invoke = %v, want the context's error", err)
		}
		<-busy
		if _, r := echo(t, p); r.PID == 0 {
			t.Error("the pool did not recover after a waiter gave up")
		}
	})
}

func TestClose(t *testing.T) {
	p, out := newPool(t, 3*time.Second, 2, nil)
	_, r := echo(t, p)
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Close took %v; the SIGTERM callback exits at once", d)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("sigterm %d", r.PID)) {
		t.Errorf("the function's SIGTERM callback did not run; output %q", out.String())
	}
	if alive(r.PID) {
		t.Errorf("process %d outlived Close", r.PID)
	}
	if _, err := p.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
}

func TestGOMAXPROCS(t *testing.T) {
	for _, tc := range []struct{ memoryMB, cpus, want int }{
		{128, 8, 1}, {256, 8, 1}, {1769, 8, 1}, {1770, 8, 2}, {3538, 8, 2}, {10240, 8, 6},
		{10240, 2, 2}, {256, 1, 1}, {0, 4, 1},
	} {
		if got := gomaxprocs(tc.memoryMB, tc.cpus); got != tc.want {
			t.Errorf("gomaxprocs(%d MB, %d CPUs) = %d, want %d", tc.memoryMB, tc.cpus, got, tc.want)
		}
	}
}

func TestGOMAXPROCSFromTheFunction(t *testing.T) {
	env := func(spec Spec) []string { return NewPool(spec, Options{}).environ("127.0.0.1:1") }
	if e := env(Spec{MemoryMB: 256}); !slices.Contains(e, "GOMAXPROCS=1") {
		t.Errorf("256 MB: environment %v lacks GOMAXPROCS=1", e)
	}
	if e := env(Spec{MemoryMB: 256, Env: map[string]string{"GOMAXPROCS": "3"}}); !slices.Contains(e, "GOMAXPROCS=3") {
		t.Errorf("the function's own GOMAXPROCS=3 lost: %v", e)
	}
}

// TestMaxMemoryUsed checks Lambda's Max Memory Used: the instance's peak resident set, which
// 16 MiB that the function touches and keeps raises by as much.
func TestMaxMemoryUsed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the peak resident set is read from /proc")
	}
	out := &syncBuffer{}
	p := NewPool(Spec{
		Name: "TestFunction", Binary: fixture, Handler: "bootstrap", Timeout: 5 * time.Second, MemoryMB: 256,
		MaxInstances: 1, Region: "eu-west-1", AccountID: "123456789012",
	}, Options{Output: out, ReportMemory: true})
	t.Cleanup(p.Close)
	first, _ := echo(t, p)
	if first.MaxMemoryUsed < 1<<20 || first.MaxMemoryUsed > 64<<20 {
		t.Fatalf("MaxMemoryUsed after a cold echo = %d bytes, want between 1 MiB and 64 MiB", first.MaxMemoryUsed)
	}
	res, err := p.Invoke(context.Background(), []byte(`{"op":"hold","mib":16}`))
	if err != nil || res.Err != nil {
		t.Fatalf("hold: %v %v", err, res.Err)
	}
	if res.Instance != first.Instance {
		t.Fatalf("hold ran on instance %d, echo on %d", res.Instance, first.Instance)
	}
	if grown := res.MaxMemoryUsed - first.MaxMemoryUsed; grown < 16<<20 {
		t.Fatalf("MaxMemoryUsed grew by %d bytes while the function held 16 MiB more", grown)
	}

	quiet, _ := newPool(t, 5*time.Second, 1, nil)
	if res, _ := echo(t, quiet); res.MaxMemoryUsed != 0 {
		t.Fatalf("MaxMemoryUsed = %d without Options.ReportMemory", res.MaxMemoryUsed)
	}
}
