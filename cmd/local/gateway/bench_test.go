package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"scaleapi/internal/samtemplate"
)

// The benchmarks measure the gateway's own work per request, for the shape of request the load
// generator sends most (a cached GET of one project with a bearer token) and the response a
// function built on shared/lambdahttp answers it with.

const benchToken = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2YjFkN2E0Ni0zZjJkLTRiMmMtOWQ3OC0xYTJiM2M0ZDVlNmYiLCJvcmciOiI5YTk4NzY1NC0zMjEwLTRmZWQtYmNiYS0wOTg3NjU0MzIxMGYiLCJleHAiOjE3OTk5OTk5OTksImlhdCI6MTc5OTk5NjM5OX0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1oZXJlLXRvLWxvb2stcmVhbA"

func benchRequest(b *testing.B, target string) *http.Request {
	b.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "127.0.0.1:3000"
	r.RemoteAddr = "127.0.0.1:50000"
	addr, _ := net.ResolveTCPAddr("tcp", "127.0.0.1:3000")
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
	r.Body = http.NoBody // what net/http's server gives a request without a body
	r.Header.Set("Authorization", benchToken)
	r.Header.Set("User-Agent", "Go-http-client/1.1")
	r.Header.Set("Accept-Encoding", "gzip")
	return r
}

// benchResponse is a function's answer to GET /projects/{id}, as aws-lambda-go-api-proxy encodes
// it for payload 1.0 (multiValueHeaders only) or 2.0 (headers and cookies).
func benchResponse(b *testing.B, version string) []byte {
	b.Helper()
	body := `{"id":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","organizationId":"9a987654-3210-4fed-bcba-09876543210f",` +
		`"name":"Apollo","description":"The first project of the seed, with a description of a realistic length.",` +
		`"status":"active","createdAt":"2026-01-02T03:04:05.678Z","updatedAt":"2026-01-02T03:04:05.678Z"}`
	var v any
	if version == "2.0" {
		v = events.APIGatewayV2HTTPResponse{
			StatusCode: 200, Body: body,
			Headers: map[string]string{
				"Content-Type": "application/json", "Cache-Control": "private, no-cache", "X-Cache": "hit",
				"Etag": `"5d41402abc4b2a76b9719d911017c592"`, "Vary": "Authorization",
			},
		}
	} else {
		v = events.APIGatewayProxyResponse{
			StatusCode: 200, Body: body,
			MultiValueHeaders: map[string][]string{
				"Content-Type": {"application/json"}, "Cache-Control": {"private, no-cache"}, "X-Cache": {"hit"},
				"Etag": {`"5d41402abc4b2a76b9719d911017c592"`}, "Vary": {"Authorization"},
			},
		}
	}
	p, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// discardWriter is an http.ResponseWriter that keeps nothing, so the benchmarks count the
// gateway's allocations rather than a recorder's.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header               { return w.h }
func (w *discardWriter) WriteHeader(status int)            { w.status = status }
func (w *discardWriter) Write(b []byte) (int, error)       { return len(b), nil }
func (w *discardWriter) WriteString(s string) (int, error) { return len(s), nil } // as net/http's
func (w *discardWriter) reset()                            { clear(w.h); w.status = 0 }

func benchQuery(r *http.Request, rt *Route) *request {
	return &request{
		r: r, route: rt, params: map[string]string{"id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
		id: "c0ffee00-1234-4abc-8def-0123456789ab", at: time.Now(), accountID: "123456789012",
	}
}

func BenchmarkV1Event(b *testing.B) {
	r := benchRequest(b, "/projects/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	rt := &Route{Method: "GET", Path: "/projects/{id}", Function: "Projects", Kind: samtemplate.RESTAPI, PayloadVersion: "1.0", Stage: "Prod"}
	rt.prepare() // as New does
	q := benchQuery(r, rt)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.v1Event(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkV2Event(b *testing.B) {
	r := benchRequest(b, "/projects/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0?join=tasks")
	rt := &Route{Method: "GET", Path: "/projects/{id}", Function: "Projects", Kind: samtemplate.HTTPAPI, PayloadVersion: "2.0", Stage: "$default"}
	rt.prepare() // as New does
	q := benchQuery(r, rt)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.v2Event(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkResponse(b *testing.B, version string) {
	payload := benchResponse(b, version)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		resp, err := decodeResponse(payload, version)
		if err == nil {
			err = resp.write(w)
		}
		if err != nil || w.status != 200 {
			b.Fatal(err, w.status)
		}
	}
}

func BenchmarkResponseV1(b *testing.B) { benchmarkResponse(b, "1.0") }
func BenchmarkResponseV2(b *testing.B) { benchmarkResponse(b, "2.0") }

// fakeRuntime is the function side of BenchmarkServeHTTP: a shell script stands in for the
// bootstrap and only reports its AWS_LAMBDA_RUNTIME_API, and the benchmark itself then pulls the
// invocations from that Runtime API and answers each with a canned response. The function's own
// work is left out; what remains is the gateway's and lambdaenv's.
const fakeRuntime = `#!/bin/sh
printf '%s' "$AWS_LAMBDA_RUNTIME_API" > "$ADDR_FILE.tmp" && mv "$ADDR_FILE.tmp" "$ADDR_FILE"
exec sleep 3600
`

func BenchmarkServeHTTP(b *testing.B) {
	for _, version := range []string{"1.0", "2.0"} {
		b.Run("payload"+version, func(b *testing.B) { benchmarkServeHTTP(b, version) })
	}
}

func benchmarkServeHTTP(b *testing.B, version string) {
	dir := b.TempDir()
	bin, addrFile := filepath.Join(dir, "bootstrap"), filepath.Join(dir, "addr")
	if err := os.WriteFile(bin, []byte(fakeRuntime), 0o755); err != nil {
		b.Fatal(err)
	}
	kind, stage := samtemplate.RESTAPI, "Prod"
	if version == "2.0" {
		kind, stage = samtemplate.HTTPAPI, "$default"
	}
	tpl := &samtemplate.Template{Path: filepath.Join(dir, "template.yaml"), Functions: []*samtemplate.Function{{
		LogicalID: "Projects", Name: "Projects", Handler: "bootstrap", Timeout: 3 * time.Second, MemorySize: 256,
		Environment: map[string]string{"ADDR_FILE": addrFile},
		Events:      []samtemplate.Event{{Kind: kind, Method: "GET", Path: "/projects/{id}", PayloadVersion: version, Stage: stage}},
	}}}
	gw, err := New(Config{
		Template: tpl, Binaries: map[string]string{"Projects": bin}, MaxInstances: 1,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), FunctionOutput: io.Discard,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(gw.Close)

	r := benchRequest(b, "/projects/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	w := &discardWriter{h: http.Header{}}
	// The first request starts the instance; it is served once the fake runtime asks for it.
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() {
		for {
			if _, err := os.Stat(addrFile); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		addr, _ := os.ReadFile(addrFile)
		serveRuntime(ctx, string(addr), benchResponse(b, version))
	}()
	gw.ServeHTTP(w, r)
	if w.status != 200 {
		b.Fatalf("first request: status %d", w.status)
	}

	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		w.reset()
		gw.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
	// Wall time includes waiting for the other side of each round trip; the process's CPU time
	// (both sides run in it) is what the gateway costs the machine.
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveRuntime is a minimal Runtime API client over one keep-alive connection, written by hand
// so that its own allocations hardly count in the benchmark's.
func serveRuntime(ctx context.Context, addr string, response []byte) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	rd := bufio.NewReader(conn)
	bw := bufio.NewWriter(conn)
	for {
		if _, err := io.WriteString(bw, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"); err != nil || bw.Flush() != nil {
			return
		}
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			return
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_, _ = io.WriteString(bw, "POST /2018-06-01/runtime/invocation/"+id+"/response HTTP/1.1\r\nHost: runtime\r\nContent-Type: application/json\r\nContent-Length: ")
		_, _ = io.WriteString(bw, strconv.Itoa(len(response))+"\r\n\r\n")
		_, _ = bw.Write(response)
		if bw.Flush() != nil {
			return
		}
		resp, err = http.ReadResponse(rd, nil)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Status, "202") {
			return
		}
	}
}
