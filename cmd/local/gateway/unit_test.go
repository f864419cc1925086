package gateway

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"scaleapi/internal/samtemplate"
)

func TestRouter(t *testing.T) {
	var rt router
	for _, r := range []*Route{
		{Method: "GET", Path: "/projects", Function: "list"},
		{Method: "POST", Path: "/projects", Function: "create"},
		{Method: "GET", Path: "/projects/{id}", Function: "get"},
		{Method: "ANY", Path: "/projects/{id}", Function: "anyProject"},
		{Method: "GET", Path: "/projects/export", Function: "export"},
		{Method: "GET", Path: "/projects/{id}/tasks", Function: "tasks"},
		{Method: "ANY", Path: "/projects/{proxy+}", Function: "greedy"},
		{Method: "GET", Path: "/", Function: "root"},
		{Method: "ANY", Path: "/{proxy+}", Function: "catchAll"},
	} {
		if dup, err := rt.add(r); err != nil || dup != nil {
			t.Fatalf("add %s: %v %v", r.Key(), dup, err)
		}
	}
	for _, tc := range []struct {
		method, path, want string
		params             map[string]string
	}{
		{"GET", "/projects", "list", map[string]string{}},
		{"GET", "/projects/", "list", map[string]string{}},
		{"POST", "/projects", "create", map[string]string{}},
		{"GET", "/projects/export", "export", map[string]string{}},    // literal beats {id}
		{"GET", "/projects/42", "get", map[string]string{"id": "42"}}, // method beats ANY
		{"DELETE", "/projects/42", "anyProject", map[string]string{"id": "42"}},
		{"DELETE", "/projects/export", "anyProject", map[string]string{"id": "export"}}, // export has no DELETE
		{"GET", "/projects/a%20b/tasks", "tasks", map[string]string{"id": "a b"}},
		{"GET", "/projects/42/tasks/7", "greedy", map[string]string{"proxy": "42/tasks/7"}}, // {param} beats greedy, greedy catches deeper
		{"GET", "/", "root", map[string]string{}},
		{"PUT", "/", "", nil}, // /{proxy+} needs a segment
		{"GET", "/x/y", "catchAll", map[string]string{"proxy": "x/y"}},
	} {
		r, params := rt.match(tc.method, tc.path)
		got := ""
		if r != nil {
			got = r.Function
		}
		if got != tc.want || (r != nil && !reflect.DeepEqual(params, tc.params)) {
			t.Errorf("%s %s → %q %v, want %q %v", tc.method, tc.path, got, params, tc.want, tc.params)
		}
	}

	t.Run("DefaultRoute", func(t *testing.T) {
		var rt router
		_, _ = rt.add(&Route{Method: "GET", Path: "/health", Function: "health"})
		_, _ = rt.add(&Route{Method: "ANY", Path: samtemplate.DefaultRoute, Function: "default"})
		if r, _ := rt.match("POST", "/anything/else"); r == nil || r.Function != "default" {
			t.Errorf("unmatched request → %v, want the $default route", r)
		}
	})
	t.Run("Conflicts", func(t *testing.T) {
		var rt router
		_, _ = rt.add(&Route{Method: "GET", Path: "/a/{id}"})
		if _, err := rt.add(&Route{Method: "GET", Path: "/a/{name}/b"}); err == nil {
			t.Error("sibling path variables with different names were accepted")
		}
		if _, err := rt.add(&Route{Method: "GET", Path: "/a/{p+}/b"}); err == nil {
			t.Error("a greedy variable before the last segment was accepted")
		}
		if dup, _ := rt.add(&Route{Method: "GET", Path: "/a/{id}", Function: "second"}); dup == nil {
			t.Error("a duplicate route was not reported")
		}
	})
}

func newRequest(t *testing.T, method, target, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = "127.0.0.1:3000"
	r.RemoteAddr = "127.0.0.1:50000"
	addr, _ := net.ResolveTCPAddr("tcp", "127.0.0.1:3000")
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
}

func TestV1Event(t *testing.T) {
	r := newRequest(t, "PATCH", "/projects/a%20b?tag=x&tag=y&limit=5", `{"name":"n"}`)
	r.Header.Add("X-Multi", "1")
	r.Header.Add("X-Multi", "2")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "test-agent")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	q := &request{
		r: r, route: &Route{Method: "ANY", Path: "/projects/{id}", Kind: samtemplate.RESTAPI, PayloadVersion: "1.0", Stage: "Prod"},
		params: map[string]string{"id": "a b"}, body: []byte(`{"name":"n"}`), id: "req-1", at: at, accountID: "123456789012",
	}
	b, err := q.v1Event()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.Unmarshal(b, &raw)
	if _, ok := raw["version"]; ok {
		t.Error("a REST API event has a version field")
	}
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("resource", ev.Resource, "/projects/{id}")
	check("path", ev.Path, "/projects/a%20b")
	check("httpMethod", ev.HTTPMethod, "PATCH")
	check("pathParameters", ev.PathParameters, map[string]string{"id": "a b"})
	check("queryStringParameters", ev.QueryStringParameters, map[string]string{"tag": "y", "limit": "5"})
	check("multiValueQueryStringParameters", ev.MultiValueQueryStringParameters, map[string][]string{"tag": {"x", "y"}, "limit": {"5"}})
	check("headers[X-Multi]", ev.Headers["X-Multi"], "2")
	check("multiValueHeaders[X-Multi]", ev.MultiValueHeaders["X-Multi"], []string{"1", "2"})
	check("headers[Host]", ev.Headers["Host"], "127.0.0.1:3000")
	check("headers[X-Forwarded-For]", ev.Headers["X-Forwarded-For"], "127.0.0.1")
	check("headers[X-Forwarded-Port]", ev.Headers["X-Forwarded-Port"], "3000")
	check("headers[X-Forwarded-Proto]", ev.Headers["X-Forwarded-Proto"], "http")
	check("body", ev.Body, `{"name":"n"}`)
	check("isBase64Encoded", ev.IsBase64Encoded, false)
	rc := ev.RequestContext
	check("requestId", rc.RequestID, "req-1")
	check("stage", rc.Stage, "Prod")
	check("sourceIp", rc.Identity.SourceIP, "127.0.0.1")
	check("userAgent", rc.Identity.UserAgent, "test-agent")
	check("requestTime", rc.RequestTime, "02/Jan/2026:03:04:05 +0000")
	check("requestTimeEpoch", rc.RequestTimeEpoch, at.UnixMilli())
	check("resourcePath", rc.ResourcePath, "/projects/{id}")
	check("context path", rc.Path, "/Prod/projects/a%20b")
	check("context httpMethod", rc.HTTPMethod, "PATCH")
	check("accountId", rc.AccountID, "123456789012")
	if rc.APIID == "" || rc.ResourceID == "" || rc.DomainName != "127.0.0.1:3000" {
		t.Errorf("requestContext ids: %+v", rc)
	}

	t.Run("NoQueryNoParams", func(t *testing.T) {
		q.r, q.params, q.body = newRequest(t, "GET", "/projects", ""), nil, nil
		b, _ := q.v1Event()
		var raw map[string]any
		_ = json.Unmarshal(b, &raw)
		for _, k := range []string{"queryStringParameters", "multiValueQueryStringParameters", "pathParameters"} {
			if v, ok := raw[k]; !ok || v != nil {
				t.Errorf("%s = %v, want null as API Gateway sends", k, v)
			}
		}
	})
	t.Run("HTTPAPIPayload1", func(t *testing.T) {
		q.route = &Route{Method: "GET", Path: "/projects", Kind: samtemplate.HTTPAPI, PayloadVersion: "1.0", Stage: "$default"}
		b, _ := q.v1Event()
		var raw map[string]any
		_ = json.Unmarshal(b, &raw)
		if raw["version"] != "1.0" {
			t.Errorf("version = %v, want 1.0", raw["version"])
		}
	})
}

func TestV2Event(t *testing.T) {
	r := newRequest(t, "POST", "/files/a%20b?x=1&x=2&y=", "\x89PNG\r\n\x1a\n\x00")
	r.Header.Set("Content-Type", "image/png")
	r.Header.Add("Accept", "a")
	r.Header.Add("Accept", "b")
	r.Header.Set("Cookie", "s=1; t=2")
	q := &request{
		r: r, route: &Route{Method: "POST", Path: "/files/{name}", Kind: samtemplate.HTTPAPI, PayloadVersion: "2.0", Stage: "$default"},
		params: map[string]string{"name": "a b"}, body: []byte("\x89PNG\r\n\x1a\n\x00"), id: "req-2", at: time.Now(),
	}
	b, err := q.v2Event()
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"version":     ev.Version == "2.0",
		"routeKey":    ev.RouteKey == "POST /files/{name}",
		"rawPath":     ev.RawPath == "/files/a b",
		"rawQuery":    ev.RawQueryString == "x=1&x=2&y=",
		"query":       reflect.DeepEqual(ev.QueryStringParameters, map[string]string{"x": "1,2", "y": ""}),
		"accept":      ev.Headers["accept"] == "a,b",
		"noCookieHdr": ev.Headers["cookie"] == "",
		"cookies":     reflect.DeepEqual(ev.Cookies, []string{"s=1", "t=2"}),
		"params":      reflect.DeepEqual(ev.PathParameters, map[string]string{"name": "a b"}),
		"base64":      ev.IsBase64Encoded && ev.Body == "iVBORw0KGgoA",
		"http":        ev.RequestContext.HTTP.Method == "POST" && ev.RequestContext.HTTP.Path == "/files/a b" && ev.RequestContext.HTTP.SourceIP == "127.0.0.1",
		"ctx":         ev.RequestContext.RequestID == "req-2" && ev.RequestContext.RouteKey == "POST /files/{name}" && ev.RequestContext.Stage == "$default" && ev.RequestContext.TimeEpoch > 0 && ev.RequestContext.Time != "",
	}
	for k, ok := range want {
		if ok != true {
			t.Errorf("%s wrong in %s", k, b)
		}
	}
}

func TestIsText(t *testing.T) {
	for ct, want := range map[string]bool{
		"": true, "application/json": true, "application/problem+json": true, "text/html; charset=utf-8": true,
		"application/x-www-form-urlencoded": true, "image/png": false, "application/octet-stream": false,
		"multipart/form-data; boundary=x": false, "application/pdf": false, ";;": false,
	} {
		if got := isText(ct); got != want {
			t.Errorf("isText(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestResponse(t *testing.T) {
	write := func(payload, version string) (*httptest.ResponseRecorder, error) {
		w := httptest.NewRecorder()
		resp, err := decodeResponse([]byte(payload), version)
		if err == nil {
			err = resp.write(w)
		}
		return w, err
	}
	t.Run("V1HeadersMerge", func(t *testing.T) {
		w, err := write(`{"statusCode":201,"headers":{"X-A":"single","X-B":"only-single","Content-Length":"999"},
			"multiValueHeaders":{"X-A":["m1","m2"],"Set-Cookie":["a=1","b=2"]},"body":"made"}`, "1.0")
		if err != nil {
			t.Fatal(err)
		}
		h := w.Result().Header
		if w.Code != 201 || w.Body.String() != "made" || !reflect.DeepEqual(h["X-A"], []string{"m1", "m2"}) ||
			h.Get("X-B") != "only-single" || !reflect.DeepEqual(h["Set-Cookie"], []string{"a=1", "b=2"}) ||
			h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != "4" {
			t.Errorf("got %d %q %v", w.Code, w.Body.String(), h)
		}
	})
	t.Run("V2CookiesAndBase64", func(t *testing.T) {
		w, err := write(`{"statusCode":200,"headers":{"content-type":"image/png"},"cookies":["a=1","b=2"],"body":"iVBORw==","isBase64Encoded":true}`, "2.0")
		if err != nil {
			t.Fatal(err)
		}
		if w.Body.String() != "\x89PNG" || !reflect.DeepEqual(w.Result().Header["Set-Cookie"], []string{"a=1", "b=2"}) ||
			w.Result().Header.Get("Content-Type") != "image/png" {
			t.Errorf("got %q %v", w.Body.String(), w.Result().Header)
		}
	})
	t.Run("V2BareJSON", func(t *testing.T) {
		w, err := write(`{"hello":"world"}`, "2.0")
		if err != nil || w.Code != 200 || w.Body.String() != `{"hello":"world"}` {
			t.Errorf("got %d %q %v", w.Code, w.Body.String(), err)
		}
	})
	for name, payload := range map[string]string{
		"NoStatus": `{"body":"x"}`, "NotJSON": `nope`, "BadStatus": `{"statusCode":42}`,
		"BodyNotString": `{"statusCode":200,"body":{"a":1}}`, "BadBase64": `{"statusCode":200,"body":"%%","isBase64Encoded":true}`,
	} {
		t.Run("Malformed"+name, func(t *testing.T) {
			if _, err := write(payload, "1.0"); err == nil {
				t.Errorf("%s accepted", payload)
			}
		})
	}
}

func TestFunctionEnv(t *testing.T) {
	fn := &samtemplate.Function{LogicalID: "F", Name: "custom-name", Environment: map[string]string{
		"A": "template", "B": "template", "C": "template", "D": "template", "E": "",
	}}
	host := map[string]string{"B": "host", "C": "host", "D": "host", "E": "", "UNDECLARED": "host", "AWS_ACCESS_KEY_ID": "AKID"}
	file := EnvFile{
		"Parameters":  {"C": "parameters", "D": "parameters", "OTHER": "x"},
		"F":           {"D": "function", "NOPE": "x"},
		"custom-name": {"A": "by-name"},
	}
	env, ignored := FunctionEnv(fn, host, file)
	want := map[string]string{"A": "by-name", "B": "host", "C": "parameters", "D": "function", "E": "", "AWS_ACCESS_KEY_ID": "AKID"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}
	if !reflect.DeepEqual(ignored, []string{"NOPE"}) {
		t.Errorf("ignored = %v, want [NOPE]", ignored)
	}
}
