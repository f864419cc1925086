package lambdahttp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// The Runtime API client against a scripted HTTP/1.1 server on loopback, for the protocol's
// corners; cmd/local/lambdaenv's TestLambdahttpRuntime runs it against the emulated Runtime API.

// scripted is a loopback server that parses requests with net/http and answers each with the
// raw bytes reply returns; reply may return close to end the connection after writing.
type scripted struct {
	ln    net.Listener
	mu    sync.Mutex
	conns int
	reqs  []*recorded
}

type recorded struct {
	method, path string
	header       http.Header
	body         string
	conn         int
}

func newScripted(t *testing.T, reply func(n int, r *recorded) (raw string, close bool)) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			id := s.conns
			s.mu.Unlock()
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					rec := &recorded{method: req.Method, path: req.URL.Path, header: req.Header, body: string(body), conn: id}
					s.mu.Lock()
					s.reqs = append(s.reqs, rec)
					n := len(s.reqs)
					s.mu.Unlock()
					raw, closeAfter := reply(n, rec)
					if _, err := io.WriteString(c, raw); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return s
}

func (s *scripted) addr() string { return s.ln.Addr().String() }

func (s *scripted) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *scripted) requests() []*recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*recorded(nil), s.reqs...)
}

const accepted = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"

func TestRuntimeClientKeepAlive(t *testing.T) {
	s := newScripted(t, func(n int, r *recorded) (string, bool) { return accepted, false })
	c := newRuntimeClient(s.addr())
	for i := range 3 {
		if err := c.post(runtimeAPIVersion+"id/response", []header{{"Content-Type", "application/octet-stream"}}, []byte("body")); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	reqs := s.requests()
	if len(reqs) != 3 || s.connections() != 1 {
		t.Fatalf("%d requests over %d connections, want 3 over 1", len(reqs), s.connections())
	}
	r := reqs[0]
	if r.method != "POST" || r.path != runtimeAPIVersion+"id/response" || r.body != "body" ||
		r.header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(r.header.Get("User-Agent"), "aws-lambda-go/") {
		t.Fatalf("request %+v", r)
	}
}

func TestRuntimeClientReplies(t *testing.T) {
	for name, tc := range map[string]struct {
		raw      string
		body     string
		reconnct bool // the reply ends the connection
	}{
		"ContentLength":   {raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", body: "hello"},
		"Chunked":         {raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n", body: "hello"},
		"ConnectionClose": {raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", body: "hello", reconnct: true},
		"LowerCaseNames":  {raw: "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nlambda-runtime-aws-request-id: abc\r\n\r\nhello", body: "hello"},
	} {
		t.Run(name, func(t *testing.T) {
			s := newScripted(t, func(n int, r *recorded) (string, bool) { return tc.raw, tc.reconnct })
			c := newRuntimeClient(s.addr())
			for i := range 2 {
				rep, err := c.next()
				if err != nil || string(rep.body) != tc.body {
					t.Fatalf("next %d: %v, body %q", i, err, rep.body)
				}
			}
			want := 1
			if tc.reconnct {
				want = 2
			}
			if n := s.connections(); n != want {
				t.Fatalf("%d connections, want %d", n, want)
			}
		})
	}
}

func TestRuntimeClientRetriesAClosedIdleConnection(t *testing.T) {
	// The server answers and then drops the connection without saying so: the next request
	// on it fails before any reply, and is sent again on a new connection.
	s := newScripted(t, func(n int, r *recorded) (string, bool) {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true
	})
	c := newRuntimeClient(s.addr())
	for i := range 3 {
		if rep, err := c.next(); err != nil || string(rep.body) != "ok" {
			t.Fatalf("next %d: %v", i, err)
		}
		time.Sleep(10 * time.Millisecond) // let the close arrive
	}
	if n := s.connections(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

func TestRuntimeClientErrors(t *testing.T) {
	t.Run("Status", func(t *testing.T) {
		s := newScripted(t, func(int, *recorded) (string, bool) {
			return "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}", false
		})
		c := newRuntimeClient(s.addr())
		if err := c.post(runtimeAPIVersion+"x/response", nil, nil); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("post = %v, want the 400", err)
		}
		if _, err := c.next(); err == nil {
			t.Fatal("next with a 400 reply succeeded")
		}
	})
	t.Run("TruncatedReplyIsNotRetried", func(t *testing.T) {
		s := newScripted(t, func(int, *recorded) (string, bool) { return "HTTP/1.1 200 OK\r\nContent-Len", true })
		c := newRuntimeClient(s.addr())
		if _, err := c.next(); err == nil {
			t.Fatal("a truncated reply was accepted")
		}
		if n := len(s.requests()); n != 1 {
			t.Fatalf("%d requests, want 1: a reply that started is not retried", n)
		}
	})
	t.Run("NoServer", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		_ = ln.Close()
		if _, err := newRuntimeClient(addr).next(); err == nil {
			t.Fatal("next without a server succeeded")
		}
	})
}

// TestServeLoop runs two invocations through serve: one that succeeds and one whose handler
// returns an error, then ends the loop with a panic.
func TestServeLoop(t *testing.T) {
	deadline := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	s := newScripted(t, func(n int, r *recorded) (string, bool) {
		if r.method == "GET" {
			id := []string{"", "req-1", "", "req-2", "", "req-3"}[n]
			return "HTTP/1.1 200 OK\r\n" +
				"Lambda-Runtime-Aws-Request-Id: " + id + "\r\n" +
				"Lambda-Runtime-Deadline-Ms: " + itoa(deadline.UnixMilli()) + "\r\n" +
				"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:1:function:f\r\n" +
				"Lambda-Runtime-Trace-Id: Root=1-2-3\r\n" +
				"Lambda-Runtime-Client-Context: {\"custom\":{\"k\":\"v\"}}\r\n" +
				"Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"cid\"}\r\n" +
				"Content-Length: 8\r\n\r\n" + `{"op":` + itoa(int64(n)) + "}", false
		}
		return accepted, false
	})
	var seen []lambdacontext.LambdaContext
	var deadlines []time.Time
	invoke := func(ctx context.Context, payload []byte) ([]byte, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		seen = append(seen, *lc)
		dl, _ := ctx.Deadline()
		deadlines = append(deadlines, dl)
		switch lc.AwsRequestID {
		case "req-1":
			return append([]byte("done:"), payload...), nil
		case "req-2":
			return nil, errors.New("boom")
		}
		panic("kaboom")
	}
	err := serve(newRuntimeClient(s.addr()), invoke)
	if err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("serve = %v, want the panic's error", err)
	}
	reqs := s.requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6 (3 x next and an answer)", len(reqs))
	}
	if r := reqs[1]; r.path != runtimeAPIVersion+"req-1/response" || r.body != `done:{"op":1}` {
		t.Errorf("response %+v", r)
	}
	for i, want := range map[int]struct{ id, typ, msg string }{3: {"req-2", "errorString", "boom"}, 5: {"req-3", "string", "kaboom"}} {
		r := reqs[i]
		var doc struct {
			Message    string `json:"errorMessage"`
			Type       string `json:"errorType"`
			StackTrace []any  `json:"stackTrace"`
		}
		_ = json.Unmarshal([]byte(r.body), &doc)
		if r.path != runtimeAPIVersion+want.id+"/error" || doc.Type != want.typ || doc.Message != want.msg ||
			r.header.Get("Lambda-Runtime-Function-Error-Type") != want.typ || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("error report %d: %+v, document %+v", i, r, doc)
		}
		if want.id == "req-3" && len(doc.StackTrace) == 0 {
			t.Error("the panic's report has no stack trace")
		}
	}
	lc := seen[0]
	if lc.InvokedFunctionArn != "arn:aws:lambda:us-east-1:1:function:f" || lc.ClientContext.Custom["k"] != "v" ||
		lc.Identity.CognitoIdentityID != "cid" || !deadlines[0].Equal(deadline) {
		t.Errorf("lambda context %+v, deadline %v", lc, deadlines[0])
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
