package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"scaleapi/internal/bootstrap"
	"scaleapi/internal/samtemplate"
)

// The end-to-end test serves ../testdata/template.yaml: real function processes built from
// ../testdata/functions/echo, which uses shared/lambdahttp, behind the gateway on loopback.

// syncBuffer collects log lines from concurrent writers.
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

type harness struct {
	t    *testing.T
	gw   *Gateway
	srv  *httptest.Server
	logs *syncBuffer
	out  *syncBuffer
}

func start(t *testing.T) *harness {
	t.Helper()
	tpl, err := samtemplate.Parse("../testdata/template.yaml", samtemplate.Options{Parameters: map[string]string{"Greeting": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	bins, err := bootstrap.Build(context.Background(), tpl.Functions, bootstrap.Options{OutDir: t.TempDir(), Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	envFile, err := ReadEnvFile("../testdata/env.json")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, logs: &syncBuffer{}, out: &syncBuffer{}}
	h.gw, err = New(Config{
		Template: tpl, Binaries: bins, EnvFile: envFile,
		HostEnv:      map[string]string{"FROM_HOST": "host", "FROM_FILE": "host"},
		MaxInstances: 4, ShutdownGrace: time.Second,
		Log: slog.New(slog.NewJSONHandler(h.logs, nil)), FunctionOutput: h.out,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.gw)
	t.Cleanup(func() {
		h.srv.Close()
		h.gw.Close()
	})
	return h
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (h *harness) do(method, path string, body io.Reader, header http.Header) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

type report struct {
	PID             int                 `json:"pid"`
	Method          string              `json:"method"`
	Path            string              `json:"path"`
	Query           map[string][]string `json:"query"`
	Header          map[string][]string `json:"header"`
	Cookies         []string            `json:"cookies"`
	RequestID       string              `json:"requestId"`
	LambdaRequestID string              `json:"lambdaRequestId"`
	SourceIP        string              `json:"sourceIp"`
	Stage           string              `json:"stage"`
	ColdStart       bool                `json:"coldStart"`
	DeadlineInMS    int64               `json:"deadlineInMs"`
	Env             map[string]string   `json:"env"`
}

func (h *harness) report(method, path string, header http.Header) (reply, report) {
	h.t.Helper()
	r := h.do(method, path, nil, header)
	var rep report
	if r.status != http.StatusOK || json.Unmarshal(r.body, &rep) != nil {
		h.t.Fatalf("%s %s = %d %s", method, path, r.status, r.body)
	}
	return r, rep
}

const internalError = `{"message":"Internal server error"}` + "\n"

func TestEndToEnd(t *testing.T) {
	h := start(t)

	t.Run("RESTRoute", func(t *testing.T) {
		r, rep := h.report("GET", "/items/42?tag=a&tag=b", http.Header{"X-Multi": {"1", "2"}, "Cookie": {"s=1"}})
		if rep.Method != "GET" || rep.Path != "/items/42" || !reflect.DeepEqual(rep.Query["tag"], []string{"a", "b"}) ||
			!reflect.DeepEqual(rep.Header["X-Multi"], []string{"1", "2"}) || !reflect.DeepEqual(rep.Cookies, []string{"s=1"}) {
			t.Errorf("the function saw %+v", rep)
		}
		if rep.RequestID == "" || rep.RequestID != r.header.Get("X-Amzn-Requestid") {
			t.Errorf("request id: function saw %q, client got %q", rep.RequestID, r.header.Get("X-Amzn-Requestid"))
		}
		if rep.LambdaRequestID == "" || rep.LambdaRequestID == rep.RequestID || rep.SourceIP != "127.0.0.1" || rep.Stage != "Prod" {
			t.Errorf("request context: %+v", rep)
		}
		if rep.DeadlineInMS <= 0 || rep.DeadlineInMS > 1000 {
			t.Errorf("r.Context() deadline is %d ms away, want within the 1 s Timeout", rep.DeadlineInMS)
		}
		if want := map[string]string{"GREETING": "hi", "FROM_HOST": "host", "FROM_FILE": "file-parameters"}; !reflect.DeepEqual(rep.Env, want) {
			t.Errorf("env = %v, want %v", rep.Env, want)
		}
	})
	t.Run("GreedyPath", func(t *testing.T) {
		if _, rep := h.report("GET", "/files/a/b%20c.txt", nil); rep.Path != "/files/a/b c.txt" {
			t.Errorf("path = %q", rep.Path)
		}
	})
	t.Run("BinaryBody", func(t *testing.T) {
		png := []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0xff, 0xfe}
		r := h.do("POST", "/echo", bytes.NewReader(png), http.Header{"Content-Type": {"image/png"}})
		if r.status != 200 || !bytes.Equal(r.body, png) || r.header.Get("Content-Type") != "image/png" {
			t.Errorf("POST /echo = %d %q %v; want the PNG back", r.status, r.body, r.header)
		}
		text := `{"plain":"text"}`
		if r := h.do("POST", "/echo", strings.NewReader(text), http.Header{"Content-Type": {"application/json"}}); string(r.body) != text {
			t.Errorf("POST /echo = %q, want %q", r.body, text)
		}
	})
	t.Run("Cookies", func(t *testing.T) {
		for _, path := range []string{"/cookies", "/v2/cookies"} {
			r := h.do("GET", path, nil, nil)
			if r.status != http.StatusNoContent || !reflect.DeepEqual(r.header["Set-Cookie"], []string{"a=1", "b=2"}) {
				t.Errorf("GET %s = %d %v", path, r.status, r.header)
			}
		}
	})
	t.Run("HTTPAPIRoute", func(t *testing.T) {
		r, rep := h.report("GET", "/v2/hello?x=1&x=2", http.Header{"X-Multi": {"1", "2"}})
		if rep.Path != "/v2/hello" || !reflect.DeepEqual(rep.Query["x"], []string{"1", "2"}) ||
			!reflect.DeepEqual(rep.Header["X-Multi"], []string{"1", "2"}) || rep.Stage != "$default" {
			t.Errorf("the function saw %+v", rep)
		}
		if rep.RequestID == "" || rep.RequestID != r.header.Get("Apigw-Requestid") {
			t.Errorf("request id: function saw %q, client got %q", rep.RequestID, r.header.Get("Apigw-Requestid"))
		}
		if rep.Env["FROM_FILE"] != "file-function" {
			t.Errorf("FROM_FILE = %q, want env.json's function section", rep.Env["FROM_FILE"])
		}
	})
	t.Run("NoRoute", func(t *testing.T) {
		if r := h.do("GET", "/nope", nil, nil); r.status != 403 || string(r.body) != `{"message":"Missing Authentication Token"}`+"\n" {
			t.Errorf("GET /nope = %d %s", r.status, r.body)
		}
	})
	t.Run("ReservedConcurrencyZero", func(t *testing.T) {
		if r := h.do("GET", "/disabled", nil, nil); r.status != http.StatusTooManyRequests {
			t.Errorf("GET /disabled = %d %s, want 429", r.status, r.body)
		}
	})

	t.Run("PanicIs502AndReplacesInstance", func(t *testing.T) {
		// The subtests so far ran one request at a time, so RestFunction has one warm instance.
		_, before := h.report("GET", "/hello", nil)
		if s := h.gw.Stats()["RestFunction"]; s.Instances != 1 {
			t.Fatalf("RestFunction has %d instances, want 1 before the panic", s.Instances)
		}
		r := h.do("GET", "/panic", nil, nil)
		if r.status != http.StatusBadGateway || string(r.body) != internalError {
			t.Fatalf("GET /panic = %d %s", r.status, r.body)
		}
		_, after := h.report("GET", "/hello", nil)
		if !after.ColdStart || after.PID == before.PID {
			t.Errorf("after the panic: cold start %v, pid %d (was %d); want a new instance", after.ColdStart, after.PID, before.PID)
		}
		if syscall.Kill(before.PID, 0) == nil {
			t.Errorf("the panicked process %d is still alive", before.PID)
		}
		if s := h.gw.Stats()["RestFunction"]; s.Errors != 1 || s.Instances != 1 || s.ColdStarts != 2 {
			t.Errorf("RestFunction stats %+v, want 1 error, 1 instance, 2 cold starts", s)
		}
		if !strings.Contains(h.logs.String(), `"outcome":"error","errorType":"string","errorMessage":"test panic"`) {
			t.Errorf("no log line for the panic in %s", h.logs.String())
		}
	})

	t.Run("TimeoutIs502", func(t *testing.T) {
		startedBefore := h.gw.Stats()["RestFunction"].Started
		begin := time.Now()
		r := h.do("GET", "/sleep?ms=5000", nil, nil)
		if took := time.Since(begin); r.status != http.StatusBadGateway || string(r.body) != internalError || took > 4*time.Second {
			t.Fatalf("GET /sleep = %d %s after %v; want 502 at the 1 s Timeout", r.status, r.body, took)
		}
		s := h.gw.Stats()["RestFunction"]
		if s.Timeouts != 1 {
			t.Errorf("stats %+v, want 1 timeout", s)
		}
		// The killed instance is gone; serving the next request may need a new one.
		if _, rep := h.report("GET", "/hello", nil); rep.PID == 0 {
			t.Error("no answer after a timeout")
		}
		if s := h.gw.Stats()["RestFunction"]; s.Instances > 4 || s.Started < startedBefore {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const n = 16
		var wg sync.WaitGroup
		pids := make(chan int, n)
		for range n {
			wg.Go(func() {
				r := h.do("GET", "/v2/sleep?ms=300", nil, nil)
				pid, err := strconv.Atoi(string(r.body))
				if r.status != 200 || err != nil {
					t.Errorf("GET /v2/sleep = %d %s", r.status, r.body)
					return
				}
				pids <- pid
			})
		}
		wg.Wait()
		close(pids)
		distinct := map[int]bool{}
		for pid := range pids {
			distinct[pid] = true
		}
		s := h.gw.Stats()["HttpFunction"]
		if len(distinct) < 2 || len(distinct) > 4 {
			t.Errorf("%d requests were served by %d instances, want several and at most -max-instances (4)", n, len(distinct))
		}
		if s.ColdStarts != s.Started || s.Started < int64(len(distinct)) || s.Instances > 4 {
			t.Errorf("HttpFunction stats %+v: cold starts must equal instances started", s)
		}
		if got := countLogs(h.logs.String(), "HttpFunction", true); int64(got) != s.ColdStarts {
			t.Errorf("%d cold-start log lines for HttpFunction, stats say %d", got, s.ColdStarts)
		}
	})

	t.Run("FunctionOutputPrefixed", func(t *testing.T) {
		if !strings.Contains(h.out.String(), "RestFunction[1] ") {
			t.Errorf("function output is not prefixed: %q", h.out.String())
		}
	})
}

// countLogs counts a function's invocation log lines with the given cold start flag.
func countLogs(logs, function string, cold bool) int {
	n := 0
	for line := range strings.Lines(logs) {
		var l struct {
			Msg       string `json:"msg"`
			Function  string `json:"function"`
			ColdStart bool   `json:"coldStart"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "invoke" && l.Function == function && l.ColdStart == cold {
			n++
		}
	}
	return n
}

func TestEndToEndShutdown(t *testing.T) {
	h := start(t)
	var pids []int
	for _, path := range []string{"/hello", "/v2/hello"} {
		_, rep := h.report("GET", path, nil)
		pids = append(pids, rep.PID)
	}
	h.srv.Close()
	begin := time.Now()
	h.gw.Close()
	if took := time.Since(begin); took > 900*time.Millisecond {
		t.Errorf("Close took %v; after WithShutdown's callbacks at SIGTERM, Start returns and the process ends", took)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("function process %d outlived Close", pid)
		}
	}
	if got := strings.Count(h.out.String(), "shutdown"); got != 2 {
		t.Errorf("%d shutdown callbacks ran, want 2: %q", got, h.out.String())
	}
}
