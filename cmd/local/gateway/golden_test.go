package gateway

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scaleapi/internal/samtemplate"
)

// updateGolden rewrites testdata/*.golden.json from the current implementation instead of
// comparing with them: go test ./cmd/local/gateway -run Golden -update-golden. Review the diff.
var updateGolden = flag.Bool("update-golden", false, "rewrite the gateway's golden files")

// golden compares got, by name, with testdata/<file>, or records it there under -update-golden.
// The files were first written by the gateway's earlier implementation, so they pin the events
// and responses byte for byte across rewrites of the hot path.
type golden struct {
	t    *testing.T
	file string
	want map[string]string
	got  map[string]string
}

func newGolden(t *testing.T, file string) *golden {
	g := &golden{t: t, file: filepath.Join("testdata", file), want: map[string]string{}, got: map[string]string{}}
	if !*updateGolden {
		b, err := os.ReadFile(g.file)
		if err != nil {
			t.Fatalf("%v (write it with -update-golden)", err)
		}
		if err := json.Unmarshal(b, &g.want); err != nil {
			t.Fatalf("%s: %v", g.file, err)
		}
	}
	t.Cleanup(g.finish)
	return g
}

func (g *golden) check(name, got string) {
	g.t.Helper()
	if _, dup := g.got[name]; dup {
		g.t.Fatalf("golden case %q named twice", name)
	}
	g.got[name] = got
	if *updateGolden {
		return
	}
	want, ok := g.want[name]
	if !ok {
		g.t.Errorf("%s: no golden value (run with -update-golden)", name)
	} else if got != want {
		g.t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

func (g *golden) finish() {
	if !*updateGolden {
		for name := range g.want {
			if _, ok := g.got[name]; !ok && !g.t.Failed() {
				g.t.Errorf("%s: golden case no longer produced", name)
			}
		}
		return
	}
	b, err := json.MarshalIndent(g.got, "", "  ")
	if err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(g.file, append(b, '\n'), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// TestEventsGolden checks the events, byte for byte, over requests with the headers the gateway
// adds or replaces, against testdata/events.golden.json.
func TestEventsGolden(t *testing.T) {
	g := newGolden(t, "events.golden.json")
	routes := []*Route{
		{Method: "GET", Path: "/projects/{id}", Function: "F", Kind: samtemplate.RESTAPI, PayloadVersion: "1.0", Stage: "Prod"},
		{Method: "ANY", Path: "/{proxy+}", Function: "F", Kind: samtemplate.RESTAPI, PayloadVersion: "1.0", Stage: "Prod", API: "MyApi"},
		{Method: "GET", Path: "/projects/{id}", Function: "F", Kind: samtemplate.HTTPAPI, PayloadVersion: "1.0", Stage: "$default"},
		{Method: "POST", Path: "/projects/{id}", Function: "F", Kind: samtemplate.HTTPAPI, PayloadVersion: "2.0", Stage: "$default"},
		{Method: "ANY", Path: samtemplate.DefaultRoute, Function: "F", Kind: samtemplate.HTTPAPI, PayloadVersion: "2.0", Stage: "$default"},
	}
	type variant struct {
		name   string
		target string
		body   string
		header http.Header
		local  net.Addr // the listener's address in the request's context; nil for none
	}
	tcp := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3000}
	variants := []variant{
		{"Plain", "/projects/42", "", http.Header{"Authorization": {"Bearer x"}, "Accept-Encoding": {"gzip"}}, tcp},
		{"Query", "/projects/a%20b?tag=x&tag=y&empty=&q=%3Cb%3E", "", http.Header{"Accept": {"a", "b"}}, tcp},
		{"Forwarded", "/projects/42", "", http.Header{
			"X-Forwarded-For": {"10.0.0.1", "10.0.0.2"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Port": {"443"},
			"Host": {"spoofed"}, "Cookie": {"a=1; b=2", " c=3 ;"},
		}, tcp},
		{"ForwardedNoListener", "/projects/42", "", http.Header{"X-Forwarded-Port": {"443"}, "X-Forwarded-For": {""}}, nil},
		{"UnixListener", "/projects/42", "", http.Header{"X-Forwarded-Port": {"443"}}, &net.UnixAddr{Name: "/tmp/s", Net: "unix"}},
		{"IPv6Listener", "/projects/42", "", nil, &net.TCPAddr{IP: net.IPv6loopback, Port: 8080, Zone: ""}},
		{"NonCanonical", "/projects/42", "", http.Header{"x-lower": {"v"}, "host": {"h"}, "x-forwarded-for": {"raw"}}, tcp},
		{"TextBody", "/projects/42", `{"name":"<n>"}`, http.Header{"Content-Type": {"application/json"}}, tcp},
		{"BinaryBody", "/projects/42", "\x89PNG\x00", http.Header{"Content-Type": {"image/png"}}, tcp},
	}
	for _, rt := range routes {
		for _, prepared := range []bool{false, true} {
			rt := *rt
			if prepared {
				rt.prepare()
			}
			for _, v := range variants {
				if v.name == "NonCanonical" && rt.PayloadVersion == "2.0" {
					// Lower-cased, "host" and "Host" collide; which wins is not part of the
					// contract. (net/http's server canonicalizes every valid header name, so a
					// request it serves has no such pair.)
					continue
				}
				r := httptest.NewRequest("POST", v.target, strings.NewReader(v.body))
				r.Host, r.RemoteAddr = "api.example.com:3000", "192.0.2.7:50000"
				for k, vs := range v.header {
					r.Header[k] = vs
				}
				if v.local != nil {
					r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, v.local))
				}
				q := &request{r: r, route: &rt, params: map[string]string{"id": "a b"}, body: []byte(v.body),
					id: "c0ffee00-1234-4abc-8def-0123456789ab", at: time.Unix(1767323045, 678e6), accountID: "123456789012"}
				var got []byte
				var err error
				if rt.PayloadVersion == "2.0" {
					got, err = q.v2Event()
				} else {
					got, err = q.v1Event()
				}
				if err != nil {
					t.Fatalf("%s: %v", v.name, err)
				}
				g.check(fmt.Sprintf("%s %s %s %s prepared=%v %s", rt.Kind, rt.PayloadVersion, rt.Method, rt.Path, prepared, v.name), string(got))
			}
		}
	}
}

// TestResponsesGolden checks how function responses are decoded and written (status, headers
// and body, or the error) against testdata/responses.golden.json.
func TestResponsesGolden(t *testing.T) {
	g := newGolden(t, "responses.golden.json")
	payloads := []string{
		`{"statusCode":200,"headers":null,"multiValueHeaders":{"Content-Type":["application/json"],"Set-Cookie":["a=1","b=2"]},"body":"{\"id\":1}"}`,
		`{"statusCode":201,"headers":{"X-A":"single","x-b":"only-single","Content-Length":"999"},"multiValueHeaders":{"x-a":["m1","m2"],"X-Empty":[]},"body":"made"}`,
		`{"statusCode":200,"headers":{"content-type":"image/png"},"cookies":["a=1","b=2"],"body":"iVBORw==","isBase64Encoded":true}`,
		`{"statusCode":204,"multiValueHeaders":{"Connection":["close"],"Transfer-Encoding":["chunked"],"X-Null":null}}`,
		`{"statusCode":200,"body":"x"} {"trailing":"value"}`,
		`{"statusCode":200,"body":"x"} trailing garbage`,
		`  {"statusCode":200,"body":"leading space"}`,
		`{"statusCode":null,"body":"x"}`,
		`{"StatusCode":200,"body":"other case"}`,
		`{"statusCode":200,"StatusCode":302,"body":"duplicate"}`,
		`{"statusCode":42}`, `{"statusCode":600}`, `{"statusCode":"200"}`, `{"statusCode":200.5}`,
		`{"statusCode":200,"body":{"a":1}}`, `{"statusCode":200,"body":"%%","isBase64Encoded":true}`,
		`{"statusCode":200,"headers":{"A":1}}`, `{"statusCode":200`, `{"statusCode":}`,
		`{"body":"x"}`, `{"hello":"world"}`, `[1,2]`, `"just a string"`, `42`, `null`, `nope`, ``, `{}`,
	}
	for _, version := range []string{"1.0", "2.0"} {
		for _, p := range payloads {
			name := version + " " + p
			r, err := decodeResponse([]byte(p), version)
			if err != nil {
				g.check(name, "decode error: "+err.Error())
				continue
			}
			w := httptest.NewRecorder()
			w.Header().Set("X-Amzn-Requestid", "id")
			if err := r.write(w); err != nil {
				g.check(name, "write error: "+err.Error())
				continue
			}
			out, _ := json.Marshal(struct {
				Status int
				Header http.Header
				Body   string
			}{w.Code, w.Header(), w.Body.String()})
			g.check(name, string(out))
		}
	}
}
