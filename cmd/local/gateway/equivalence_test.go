package gateway

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"scaleapi/cmd/local/samtemplate"
)

// TestEventsUnchanged compares the events with those of the previous implementation
// (old_test.go), byte for byte, over requests with the headers the gateway adds or replaces.
func TestEventsUnchanged(t *testing.T) {
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
					// Lower-cased, "host" and "Host" collide, and the old value depended on the
					// order of a map's iteration. (net/http's server canonicalizes every valid
					// header name, so a request it serves has no such pair.)
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
				var got, want []byte
				var err1, err2 error
				if rt.PayloadVersion == "2.0" {
					got, err1 = q.v2Event()
					want, err2 = q.oldV2Event()
				} else {
					got, err1 = q.v1Event()
					want, err2 = q.oldV1Event()
				}
				if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
					t.Errorf("%s %s prepared=%v %s:\n got %s (%v)\nwant %s (%v)", rt.Kind, rt.PayloadVersion, prepared, v.name, got, err1, want, err2)
				}
			}
		}
	}
}

// TestResponsesUnchanged compares the decoding and writing of function responses with the
// previous implementation (old_test.go): the same status, headers and body, or the same error.
func TestResponsesUnchanged(t *testing.T) {
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
			got, err1 := decodeResponse([]byte(p), version)
			want, err2 := oldDecodeResponse([]byte(p), version)
			if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
				t.Errorf("%s %s: error %v, want %v", version, p, err1, err2)
				continue
			}
			if err1 != nil {
				continue
			}
			w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
			w1.Header().Set("X-Amzn-Requestid", "id")
			w2.Header().Set("X-Amzn-Requestid", "id")
			err1, err2 = got.write(w1), want.oldWrite(w2)
			if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() ||
				w1.Code != w2.Code || !reflect.DeepEqual(w1.Header(), w2.Header()) || w1.Body.String() != w2.Body.String() {
				t.Errorf("%s %s:\n got %d %v %q (%v)\nwant %d %v %q (%v)", version, p,
					w1.Code, w1.Header(), w1.Body, err1, w2.Code, w2.Header(), w2.Body, err2)
			}
		}
	}
}
