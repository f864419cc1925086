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
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// echo is what the echo handler reports about the request it received.
type echo struct {
	Method          string              `json:"method"`
	Path            string              `json:"path"`
	RawQuery        string              `json:"rawQuery"`
	Query           map[string][]string `json:"query"`
	Header          map[string][]string `json:"header"`
	Cookies         []string            `json:"cookies"`
	Body            string              `json:"body"`
	Host            string              `json:"host"`
	RemoteAddr      string              `json:"remoteAddr"`
	RequestID       string              `json:"requestId"`
	SourceIP        string              `json:"sourceIp"`
	Stage           string              `json:"stage"`
	LambdaRequestID string              `json:"lambdaRequestId"`
	ColdStart       bool                `json:"coldStart"`
	Deadline        time.Time           `json:"deadline"`
	HasDeadline     bool                `json:"hasDeadline"`
}

func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var cookies []string
		for _, c := range r.Cookies() {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		ctx := r.Context()
		dl, ok := ctx.Deadline()
		e := echo{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Query: r.URL.Query(),
			Header: r.Header, Cookies: cookies, Body: string(body), Host: r.Host, RemoteAddr: r.RemoteAddr,
			RequestID: RequestID(ctx), SourceIP: SourceIP(ctx), Stage: Stage(ctx),
			LambdaRequestID: LambdaRequestID(ctx), ColdStart: ColdStart(ctx), Deadline: dl, HasDeadline: ok,
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	})
}

// fixture reads a SAM-generated event from testdata and applies edit to its decoded form.
func fixture(t testing.TB, name string, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("read fixture (regenerate with testdata/generate.sh): %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lambdaCtx(t testing.TB, deadline time.Time) context.Context {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "lambda-req-1"})
}

// invoke runs payload through a fresh Handler around h and decodes the response into resp.
func invoke(t *testing.T, h http.Handler, payload []byte, resp any) {
	t.Helper()
	out, err := New(h).Invoke(lambdaCtx(t, time.Now().Add(time.Minute)), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("decode response %s: %v", out, err)
	}
}

func echoV1(t *testing.T, payload []byte) (events.APIGatewayProxyResponse, echo) {
	t.Helper()
	var resp events.APIGatewayProxyResponse
	invoke(t, echoHandler(), payload, &resp)
	var e echo
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
		t.Fatalf("decode echo %q: %v", resp.Body, err)
	}
	return resp, e
}

func echoV2(t *testing.T, payload []byte) (events.APIGatewayV2HTTPResponse, echo) {
	t.Helper()
	var resp events.APIGatewayV2HTTPResponse
	invoke(t, echoHandler(), payload, &resp)
	var e echo
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
		t.Fatalf("decode echo %q: %v", resp.Body, err)
	}
	return resp, e
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestV1(t *testing.T) {
	t.Run("SAMEvent", func(t *testing.T) {
		resp, e := echoV1(t, fixture(t, "aws-proxy.json", nil))
		equal(t, "status", resp.StatusCode, 200)
		equal(t, "method", e.Method, "POST")
		equal(t, "path", e.Path, "/path/to/resource")
		equal(t, "query", e.Query, map[string][]string{"foo": {"bar"}})
		equal(t, "body", e.Body, `{"test":"body"}`) // isBase64Encoded: decoded for the handler
		equal(t, "User-Agent", e.Header["User-Agent"], []string{"Custom User Agent String"})
		equal(t, "X-Forwarded-For", e.Header["X-Forwarded-For"], []string{"127.0.0.1, 127.0.0.2"})
		equal(t, "RequestID", e.RequestID, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
		equal(t, "SourceIP", e.SourceIP, "127.0.0.1")
		equal(t, "RemoteAddr", e.RemoteAddr, "127.0.0.1")
		equal(t, "Stage", e.Stage, "prod")
		equal(t, "LambdaRequestID", e.LambdaRequestID, "lambda-req-1")
		equal(t, "ColdStart", e.ColdStart, true)
	})
	t.Run("PlainBodyAndMultiValues", func(t *testing.T) {
		_, e := echoV1(t, fixture(t, "aws-proxy.json", func(m map[string]any) {
			m["httpMethod"] = "PUT"
			m["body"] = "plain text, not base64"
			m["isBase64Encoded"] = false
			m["queryStringParameters"] = map[string]any{"tag": "b", "q": "x y"}
			m["multiValueQueryStringParameters"] = map[string]any{"tag": []any{"a", "b"}, "q": []any{"x y"}}
			m["headers"] = map[string]any{"Accept": "text/plain", "X-Multi": "2"}
			m["multiValueHeaders"] = map[string]any{"Accept": []any{"text/plain"}, "X-Multi": []any{"1", "2"}}
		}))
		equal(t, "method", e.Method, "PUT")
		equal(t, "body", e.Body, "plain text, not base64")
		equal(t, "query", e.Query, map[string][]string{"tag": {"a", "b"}, "q": {"x y"}})
		equal(t, "X-Multi", e.Header["X-Multi"], []string{"1", "2"})
	})
	t.Run("SingleValueQueryOnly", func(t *testing.T) {
		_, e := echoV1(t, fixture(t, "aws-proxy.json", func(m map[string]any) {
			m["multiValueQueryStringParameters"] = nil
			m["multiValueHeaders"] = nil
			m["queryStringParameters"] = map[string]any{"limit": "10"}
			m["headers"] = map[string]any{"X-One": "1"}
		}))
		equal(t, "query", e.Query, map[string][]string{"limit": {"10"}})
		equal(t, "X-One", e.Header["X-One"], []string{"1"})
	})
	t.Run("EncodedPath", func(t *testing.T) {
		// REST APIs deliver the path as the client sent it, percent-encoded.
		_, e := echoV1(t, fixture(t, "aws-proxy.json", func(m map[string]any) { m["path"] = "/files/a%20b%3Fc" }))
		equal(t, "path", e.Path, "/files/a b?c")
		equal(t, "query", e.Query, map[string][]string{"foo": {"bar"}})
	})
	t.Run("HTTPAPIPayload1", func(t *testing.T) {
		_, e := echoV1(t, fixture(t, "aws-proxy.json", func(m map[string]any) { m["version"] = "1.0" }))
		equal(t, "path", e.Path, "/path/to/resource")
	})
}

func TestV2(t *testing.T) {
	t.Run("SAMEvent", func(t *testing.T) {
		resp, e := echoV2(t, fixture(t, "http-api-proxy.json", nil))
		equal(t, "status", resp.StatusCode, 200)
		equal(t, "method", e.Method, "POST")
		equal(t, "path", e.Path, "/path/to/resource")
		equal(t, "query", e.Query, map[string][]string{"parameter1": {"value1", "value2"}, "parameter2": {"value"}})
		equal(t, "body", e.Body, `{"test":"body"}`)
		equal(t, "Header1", e.Header["Header1"], []string{"value1"})
		equal(t, "Header2", e.Header["Header2"], []string{"value1", "value2"}) // comma-joined by API Gateway
		equal(t, "RequestID", e.RequestID, "id")
		equal(t, "SourceIP", e.SourceIP, "192.168.0.1")
		equal(t, "Stage", e.Stage, "$default")
		equal(t, "Host", e.Host, "id.execute-api.us-east-1.amazonaws.com")
		equal(t, "ColdStart", e.ColdStart, true)
	})
	t.Run("Cookies", func(t *testing.T) {
		_, e := echoV2(t, fixture(t, "http-api-proxy.json", func(m map[string]any) {
			m["cookies"] = []any{"session=abc", "theme=dark"}
		}))
		equal(t, "cookies", e.Cookies, []string{"session=abc", "theme=dark"})
	})
	t.Run("PlainBodyAndQueryWithoutRaw", func(t *testing.T) {
		_, e := echoV2(t, fixture(t, "http-api-proxy.json", func(m map[string]any) {
			m["body"] = "héllo"
			m["isBase64Encoded"] = false
			m["rawQueryString"] = ""
			m["queryStringParameters"] = map[string]any{"limit": "10"}
		}))
		equal(t, "body", e.Body, "héllo")
		equal(t, "query", e.Query, map[string][]string{"limit": {"10"}})
	})
	t.Run("DecodedPathWithQuestionMark", func(t *testing.T) {
		// HTTP APIs deliver rawPath decoded, so a %3F the client sent arrives as '?'.
		_, e := echoV2(t, fixture(t, "http-api-proxy.json", func(m map[string]any) {
			m["rawPath"] = "/files/a b?c"
			m["rawQueryString"] = "x=1"
		}))
		equal(t, "path", e.Path, "/files/a b?c")
		equal(t, "rawQuery", e.RawQuery, "x=1")
	})
}

func TestResponse(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0x0d, 0xff, 0xfe}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/created":
			w.Header().Set("Location", "/things/1")
			w.Header().Add("Vary", "Accept")
			w.Header().Add("Vary", "Origin")
			http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
			http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusTeapot) // ignored, as net/http ignores it
			w.Header().Set("X-Late", "ignored")
			_, _ = w.Write([]byte(`{"id":1}`))
		case "/binary":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(png)
		case "/empty":
			w.Header().Set("X-Empty", "yes")
		}
	})
	v1 := func(path string) events.APIGatewayProxyResponse {
		var resp events.APIGatewayProxyResponse
		invoke(t, h, fixture(t, "aws-proxy.json", func(m map[string]any) { m["path"] = path }), &resp)
		return resp
	}
	v2 := func(path string) events.APIGatewayV2HTTPResponse {
		var resp events.APIGatewayV2HTTPResponse
		invoke(t, h, fixture(t, "http-api-proxy.json", func(m map[string]any) { m["rawPath"] = path }), &resp)
		return resp
	}
	t.Run("StatusHeadersCookiesV1", func(t *testing.T) {
		r := v1("/created")
		equal(t, "status", r.StatusCode, http.StatusCreated)
		equal(t, "body", r.Body, `{"id":1}`)
		equal(t, "base64", r.IsBase64Encoded, false)
		equal(t, "Location", r.MultiValueHeaders["Location"], []string{"/things/1"})
		equal(t, "Vary", r.MultiValueHeaders["Vary"], []string{"Accept", "Origin"})
		equal(t, "Set-Cookie", r.MultiValueHeaders["Set-Cookie"], []string{"a=1", "b=2"})
		equal(t, "X-Late", r.MultiValueHeaders["X-Late"], []string(nil))
	})
	t.Run("StatusHeadersCookiesV2", func(t *testing.T) {
		r := v2("/created")
		equal(t, "status", r.StatusCode, http.StatusCreated)
		equal(t, "body", r.Body, `{"id":1}`)
		equal(t, "Location", r.Headers["Location"], "/things/1")
		equal(t, "Vary", r.Headers["Vary"], "Accept,Origin")
		equal(t, "cookies", r.Cookies, []string{"a=1", "b=2"})
		if _, ok := r.Headers["Set-Cookie"]; ok {
			t.Error("Set-Cookie is in headers; payload 2.0 carries cookies in the cookies field")
		}
	})
	t.Run("BinaryBase64", func(t *testing.T) {
		r1, r2 := v1("/binary"), v2("/binary")
		for name, r := range map[string]struct {
			body   string
			base64 bool
		}{
			"V1": {r1.Body, r1.IsBase64Encoded},
			"V2": {r2.Body, r2.IsBase64Encoded},
		} {
			if !r.base64 {
				t.Errorf("%s: isBase64Encoded = false for a PNG", name)
			}
			got, err := base64.StdEncoding.DecodeString(r.body)
			if err != nil || !bytes.Equal(got, png) {
				t.Errorf("%s: body decodes to %x (%v), want %x", name, got, err, png)
			}
		}
	})
	t.Run("NothingWrittenIs200", func(t *testing.T) {
		r := v1("/empty")
		equal(t, "status", r.StatusCode, http.StatusOK)
		equal(t, "X-Empty", r.MultiValueHeaders["X-Empty"], []string{"yes"})
		equal(t, "status v2", v2("/empty").StatusCode, http.StatusOK)
	})
}

func TestLambdaContext(t *testing.T) {
	deadline := time.Now().Add(3 * time.Second).Truncate(time.Millisecond)
	h := New(echoHandler())
	for i, payload := range [][]byte{fixture(t, "aws-proxy.json", nil), fixture(t, "http-api-proxy.json", nil)} {
		out, err := h.Invoke(lambdaCtx(t, deadline), payload)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct{ Body string }
		_ = json.Unmarshal(out, &resp)
		var e echo
		if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
			t.Fatal(err)
		}
		if want := deadline.Add(-AnswerMargin); !e.HasDeadline || !e.Deadline.Equal(want) {
			t.Errorf("r.Context().Deadline() = %v, %v; want the invocation's %v less AnswerMargin, %v", e.Deadline, e.HasDeadline, deadline, want)
		}
		equal(t, "LambdaRequestID", e.LambdaRequestID, "lambda-req-1")
		equal(t, "ColdStart", e.ColdStart, i == 0) // only the Handler's first invocation
	}
}

func TestInvokeRejects(t *testing.T) {
	h := New(echoHandler())
	for name, payload := range map[string]string{
		"NotJSON":     `{"httpMethod": "GET", `,
		"NotAnEvent":  `{"key": "value"}`,
		"V2NoMethod":  `{"version": "2.0", "rawPath": "/"}`,
		"WrongTypeV1": `{"httpMethod": "GET", "headers": []}`,
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := h.Invoke(context.Background(), []byte(payload)); err == nil {
				t.Errorf("Invoke(%s) = %s, nil; want an error", payload, out)
			}
		})
	}
}

func TestPayloadVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"version":"2.0","routeKey":"$default"}`, "2.0"},
		{"{\n  \"rawPath\": \"/\",\n  \"version\" : \"2.0\"\n}", "2.0"},
		{`{"version":"1.0","httpMethod":"GET"}`, "1.0"},
		{`{"httpMethod":"GET","headers":{"version":"2.0"}}`, ""},
		{`{"queryStringParameters":{"version":"2.0"},"multiValueQueryStringParameters":{"version":["2.0"]}}`, ""},
		{`{"body":"{\"version\":\"2.0\"}","path":"/"}`, ""},
		{`{"a":[1,{"version":"2.0"}],"b":null,"c":true,"d":-1.5e3,"version":"2.0"}`, "2.0"},
		{`{"a\"version":"x","version":"2.0"}`, "2.0"},
		{`[]`, ""},
		{``, ""},
		{`{"version":2}`, ""},
		{`{"version"`, ""},
	} {
		if got := payloadVersion([]byte(tc.in)); got != tc.want {
			t.Errorf("payloadVersion(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEscapePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/projects/42", "/projects/42"},
		{"/a%20b/%2F", "/a%20b/%2F"}, // already encoded: unchanged
		{"/a b?c#d", "/a%20b%3Fc%23d"},
		{"/100%", "/100%25"},
		{"/%zz", "/%25zz"},
		{"/é", "/%C3%A9"},
		{"", ""},
	} {
		if got := escapePath(tc.in); got != tc.want {
			t.Errorf("escapePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestColdStartOutsideLambda(t *testing.T) {
	ctx := context.Background()
	if ColdStart(ctx) || RequestID(ctx) != "" || SourceIP(ctx) != "" || Stage(ctx) != "" || LambdaRequestID(ctx) != "" {
		t.Error("accessors report values for a context that is not from an invocation")
	}
}
