package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzInvoke feeds Invoke arbitrary payloads and checks that it never panics, that it answers
// only a JSON value with a proxy response of the payload's version (the handler's status and
// body), and errs for everything else; and that payloadVersion, which scans instead of decoding,
// agrees with encoding/json about the top-level "version" of every JSON object that names it
// once, without escapes.
//
// Run it with: go test ./shared/lambdahttp -run '^$' -fuzz FuzzInvoke
func FuzzInvoke(f *testing.F) {
	for _, name := range []string{"aws-proxy.json", "http-api-proxy.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"httpMethod":"GET","path":"/a b?c#d%zz","multiValueQueryStringParameters":{"q":["1","2"]}}`,
		`{"version":"2.0","rawPath":"/x","requestContext":{"http":{"method":"PATCH"}},"cookies":["a=1"],"body":"AA==","isBase64Encoded":true}`,
		`{"httpMethod":"GET ","path":"/"}`,
		`{"httpMethod":"POST","body":"not base64","isBase64Encoded":true}`,
		`{"version":"1.0","httpMethod":"get","headers":{"version":"2.0"}}`,
		`{"a":[{"version":"2.0"}],"version":"2.0","requestContext":{"http":{"method":"GET"}}}`,
		`{"httpMethod": "GET", `,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("ok"))
	}))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if n, v, plain := topLevelVersion(payload); n == 1 && plain {
			if got := payloadVersion(payload); got != v {
				t.Fatalf("payloadVersion(%s) = %q, encoding/json reads %q", payload, got, v)
			}
		}
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			if out != nil {
				t.Fatalf("Invoke(%s) = %s and error %v", payload, out, err)
			}
			return
		}
		if !json.Valid(payload) {
			t.Fatalf("Invoke answered %s for a payload that is not JSON: %q", out, payload)
		}
		var resp struct {
			StatusCode        int                 `json:"statusCode"`
			Body              string              `json:"body"`
			IsBase64Encoded   bool                `json:"isBase64Encoded"`
			MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
			Headers           map[string]string   `json:"headers"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("Invoke(%s) answered %s, not a proxy response: %v", payload, out, err)
		}
		if resp.StatusCode != http.StatusAccepted || resp.Body != "ok" || resp.IsBase64Encoded {
			t.Fatalf("Invoke(%s) answered %s, not the handler's answer", payload, out)
		}
		v2 := payloadVersion(payload) == "2.0"
		if ct := resp.Headers["Content-Type"]; v2 && ct != "text/plain" {
			t.Fatalf("payload 2.0 %s answered %s, without its headers", payload, out)
		}
		if ct := resp.MultiValueHeaders["Content-Type"]; !v2 && !slices.Equal(ct, []string{"text/plain"}) {
			t.Fatalf("payload 1.0 %s answered %s, without its multi-value headers", payload, out)
		}
	})
}

// topLevelVersion reads b as encoding/json does: how many top-level members of the object b are
// named "version", the last one's value if it is a string, and whether b is UTF-8 without a
// backslash (an escaped key or value, or one that is not UTF-8, is spelled differently from
// what it decodes to).
func topLevelVersion(b []byte) (n int, version string, plain bool) {
	plain = utf8.Valid(b) && !bytes.Contains(b, []byte{'\\'})
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil {
		return 0, "", plain
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return 0, "", plain
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0, "", plain
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return 0, "", plain
		}
		if k == "version" {
			n++
			version = ""
			_ = json.Unmarshal(raw, &version)
		}
	}
	return n, version, plain
}

// FuzzRoundTripV1 builds REST API (payload 1.0) events from arbitrary parts, as API Gateway can
// send them (through JSON), serves them with a handler that records the request it gets and
// answers its body back, and checks both directions:
//
//   - the request: the method, the path (percent-decoded as a REST API delivers it encoded,
//     a '%' that starts no escape being literal), the query parameter, the header and the body
//     bytes (base64 or not) are exactly what the event holds; an event is refused only when its
//     method is not an HTTP token, which API Gateway never sends;
//   - the response: well-formed, with the handler's status and headers, and a body that decodes
//     (base64 when it is not UTF-8) to exactly the bytes the handler wrote.
//
// Run it with: go test ./shared/lambdahttp -run '^$' -fuzz FuzzRoundTripV1
func FuzzRoundTripV1(f *testing.F) {
	f.Add("POST", "/projects/42", "filter", "name||$eq||a b", "X-Trace", "1", []byte(`{"a":1}`), false, uint16(201))
	f.Add("get", "/files/a%20b%3Fc", "s", `{"$or":[]}`, "accept", "*/*", []byte{}, false, uint16(200))
	f.Add("PATCH", "/a b?c#d/é/%zz/100%", "", "", "Cookie", "a=1; b=2", []byte{0xff, 0xfe, 0}, true, uint16(204))
	f.Add("DELETE", "no-slash//x", "q;x", "a&b=c", "X-Empty", "", []byte("plain"), true, uint16(599))
	f.Add("BAD METHOD", "/", "a", "b", "c", "d", []byte("x"), false, uint16(400))
	base, err := os.ReadFile("testdata/aws-proxy.json")
	if err != nil {
		f.Fatal(err)
	}
	var seen *http.Request
	var seenBody []byte
	var status int
	h := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		seenBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Add("X-Echo", "1")
		w.Header().Add("X-Echo", "2")
		w.WriteHeader(status)
		if status != http.StatusNoContent && status != http.StatusNotModified {
			_, _ = w.Write(seenBody)
		}
	}))
	f.Fuzz(func(t *testing.T, method, path, qk, qv, hk, hv string, body []byte, b64 bool, code uint16) {
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(base, &ev); err != nil {
			t.Fatal(err)
		}
		ev.HTTPMethod, ev.Path = method, path
		ev.QueryStringParameters = map[string]string{qk: qv}
		ev.MultiValueQueryStringParameters = map[string][]string{qk: {qv}}
		ev.MultiValueHeaders[hk] = append(ev.MultiValueHeaders[hk], hv)
		ev.Body, ev.IsBase64Encoded = string(body), b64
		if b64 {
			ev.Body = base64.StdEncoding.EncodeToString(body)
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		// What API Gateway can send is what survives JSON: invalid UTF-8 becomes U+FFFD.
		var sent events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &sent); err != nil {
			t.Fatal(err)
		}
		wantBody := []byte(sent.Body)
		if b64 {
			wantBody = body
		}
		status = 200 + int(code)%400
		seen, seenBody = nil, nil

		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			if isToken(sent.HTTPMethod) {
				t.Fatalf("event %s: %v", payload, err)
			}
			return
		}
		if seen == nil || !isToken(seen.Method) {
			t.Fatalf("method %q: answered %s without serving a valid method", sent.HTTPMethod, out)
		}
		wantPath := sent.Path
		if len(wantPath) == 0 || wantPath[0] != '/' {
			wantPath = "/" + wantPath
		}
		sentHK := viaJSON(hk)
		switch {
		case isToken(sent.HTTPMethod) && seen.Method != strings.ToUpper(sent.HTTPMethod):
			t.Fatalf("method %q arrived as %q", sent.HTTPMethod, seen.Method)
		case seen.URL.Path != percentDecode(wantPath):
			t.Fatalf("path %q arrived as %q, want %q", sent.Path, seen.URL.Path, percentDecode(wantPath))
		case !reflect.DeepEqual(map[string][]string(seen.URL.Query()), sent.MultiValueQueryStringParameters):
			t.Fatalf("query %v arrived as %v", sent.MultiValueQueryStringParameters, seen.URL.Query())
		case !containsAll(seen.Header.Values(sentHK), sent.MultiValueHeaders[sentHK]):
			t.Fatalf("header %q: %q arrived as %q", sentHK, sent.MultiValueHeaders[sentHK], seen.Header.Values(sentHK))
		case !bytes.Equal(seenBody, wantBody):
			t.Fatalf("body %q arrived as %q", wantBody, seenBody)
		}
		var resp events.APIGatewayProxyResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("response %s: %v", out, err)
		}
		got := []byte(resp.Body)
		if resp.IsBase64Encoded {
			if got, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
				t.Fatalf("response body %q is not base64: %v", resp.Body, err)
			}
		}
		if status == http.StatusNoContent || status == http.StatusNotModified {
			wantBody = nil
		}
		switch {
		case resp.StatusCode != status:
			t.Fatalf("status %d, want %d", resp.StatusCode, status)
		case !bytes.Equal(got, wantBody):
			t.Fatalf("response body %q (base64 %v), want %q", got, resp.IsBase64Encoded, wantBody)
		case !slices.Equal(resp.MultiValueHeaders["X-Echo"], []string{"1", "2"}):
			t.Fatalf("response headers %v", resp.MultiValueHeaders)
		}
	})
}

// viaJSON is s as it arrives after a trip through JSON: invalid UTF-8 becomes U+FFFD.
func viaJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// isToken reports whether m is an HTTP token (RFC 9110 §5.6.2), what a method must be.
func isToken(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// percentDecode decodes a path as a REST API delivers it: %XY escapes are bytes, and a '%' that
// starts no escape stands for itself.
func percentDecode(p string) string {
	var b []byte
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			v, _ := strconv.ParseUint(p[i+1:i+3], 16, 8)
			b = append(b, byte(v))
			i += 2
			continue
		}
		b = append(b, p[i])
	}
	return string(b)
}

// containsAll reports whether every value of want is among got.
func containsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
