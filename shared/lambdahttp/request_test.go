package lambdahttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// gatewayEvent is the payload 1.0 event cmd/local's gateway sends for an authenticated GET, the
// shape (and size) of every benchmarked request.
const gatewayEvent = `{"resource":"/projects/{id}","path":"/projects/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","httpMethod":"GET","headers":{"Accept-Encoding":"gzip","Authorization":"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTkwYTFiMi1jM2Q0LTdlNWYtOGE5Yi0wYzFkMmUzZjRhNWIiLCJzaWQiOiIwMTkwYTFiMi1jM2Q0LTdlNWYtOGE5Yi0wYzFkMmUzZjRhNWIiLCJleHAiOjE3MDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG","Host":"127.0.0.1:3000","User-Agent":"Go-http-client/1.1","X-Forwarded-For":"192.0.2.1","X-Forwarded-Proto":"http"},"multiValueHeaders":{"Accept-Encoding":["gzip"],"Authorization":["Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTkwYTFiMi1jM2Q0LTdlNWYtOGE5Yi0wYzFkMmUzZjRhNWIiLCJzaWQiOiIwMTkwYTFiMi1jM2Q0LTdlNWYtOGE5Yi0wYzFkMmUzZjRhNWIiLCJleHAiOjE3MDAwMDAwMDAsImlhdCI6MTcwMDAwMDAwMH0.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"],"Host":["127.0.0.1:3000"],"User-Agent":["Go-http-client/1.1"],"X-Forwarded-For":["192.0.2.1"],"X-Forwarded-Proto":["http"]},"queryStringParameters":null,"multiValueQueryStringParameters":null,"pathParameters":{"id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},"stageVariables":null,"requestContext":{"accountId":"123456789012","resourceId":"a57763","stage":"Prod","domainName":"127.0.0.1:3000","domainPrefix":"127","requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","extendedRequestId":"9fdf2a44db996d8d","protocol":"HTTP/1.1","identity":{"sourceIp":"192.0.2.1","userAgent":"Go-http-client/1.1"},"resourcePath":"/projects/{id}","path":"/Prod/projects/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","authorizer":null,"httpMethod":"GET","requestTime":"26/Nov/2026:19:52:04 +0000","requestTimeEpoch":1795722724055,"apiId":"e516b0b1c5"},"body":""}`

// edited returns base with edit applied to its decoded form.
func edited(t testing.TB, base string, edit func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRequestMatchesProxy compares the requests built here with the ones
// aws-lambda-go-api-proxy's RequestAccessor builds from the same events.
func TestRequestMatchesProxy(t *testing.T) {
	v1Events := []string{gatewayEvent, string(fixture(t, "aws-proxy.json", nil))}
	for _, edit := range []func(m map[string]any){
		func(m map[string]any) { m["path"] = "/files/a%20b%3Fc/%C3%A9" },
		func(m map[string]any) { m["path"] = "//double/slash" },
		func(m map[string]any) { m["path"] = "no/leading/slash" },
		func(m map[string]any) { m["httpMethod"] = "patch"; m["body"] = `{"a":1}`; m["isBase64Encoded"] = false },
		func(m map[string]any) {
			m["multiValueHeaders"] = nil
			m["headers"] = map[string]any{"x-lower": "1", "Accept": "a, b"}
		},
		func(m map[string]any) {
			m["multiValueQueryStringParameters"] = nil
			m["queryStringParameters"] = map[string]any{"filter": "status||$eq||active", "q": "a b&c"}
		},
		func(m map[string]any) {
			m["multiValueQueryStringParameters"] = map[string]any{"sort": []any{"name,ASC", "id,DESC"}, "é": []any{"ü"}}
		},
		func(m map[string]any) { m["requestContext"].(map[string]any)["domainName"] = "" },
	} {
		v1Events = append(v1Events, edited(t, string(fixture(t, "aws-proxy.json", nil)), edit))
	}
	var ra core.RequestAccessor
	for i, payload := range v1Events {
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatal(err)
		}
		ev.Path = escapePath(ev.Path)
		want, werr := ra.EventToRequestWithContext(context.Background(), ev)
		got, gerr := requestV1(context.Background(), &ev)
		compareRequests(t, "v1 case "+string(rune('0'+i)), got, gerr, want, werr)
	}

	v2Events := []string{string(fixture(t, "http-api-proxy.json", nil))}
	for _, edit := range []func(m map[string]any){
		func(m map[string]any) { m["rawPath"] = "/files/a b?c" },
		func(m map[string]any) { m["rawPath"] = "" },
		func(m map[string]any) {
			m["rawQueryString"] = ""
			m["queryStringParameters"] = map[string]any{"q": "a b", "n": "1"}
		},
		func(m map[string]any) { m["cookies"] = []any{"a=1", "b=2"} },
		func(m map[string]any) {
			m["headers"] = map[string]any{"user-agent": "x, y", "accept": "a, b", "authorization": "Bearer t", "content-type": "text/plain; charset=utf-8"}
		},
	} {
		v2Events = append(v2Events, edited(t, v2Events[0], edit))
	}
	var ra2 core.RequestAccessorV2
	for i, payload := range v2Events {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatal(err)
		}
		ev.RawPath = escapePath(ev.RawPath)
		ev.RequestContext.HTTP.Path = escapePath(ev.RequestContext.HTTP.Path)
		want, werr := ra2.EventToRequestWithContext(context.Background(), ev)
		got, gerr := requestV2(context.Background(), &ev)
		compareRequests(t, "v2 case "+string(rune('0'+i)), got, gerr, want, werr)
	}
}

func compareRequests(t *testing.T, name string, got *http.Request, gerr error, want *http.Request, werr error) {
	t.Helper()
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%s: error %v, proxy's %v", name, gerr, werr)
	}
	if gerr != nil {
		return
	}
	gb, _ := io.ReadAll(got.Body)
	wb, _ := io.ReadAll(want.Body)
	// The proxy builds a 1.0 query string in map order; compare the parsed values.
	gq, wq := got.URL.Query(), want.URL.Query()
	gu, wu := *got.URL, *want.URL
	gu.RawQuery, wu.RawQuery = "", ""
	for what, pair := range map[string][2]any{
		"method":        {got.Method, want.Method},
		"URL":           {gu.String(), wu.String()},
		"Path":          {got.URL.Path, want.URL.Path},
		"RawPath":       {got.URL.RawPath, want.URL.RawPath},
		"query":         {gq, wq},
		"Host":          {got.Host, want.Host},
		"Header":        {got.Header, want.Header},
		"body":          {string(gb), string(wb)},
		"ContentLength": {got.ContentLength, want.ContentLength},
		"RemoteAddr":    {got.RemoteAddr, want.RemoteAddr},
		"Proto":         {got.Proto, want.Proto},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: %s = %#v, proxy's %#v", name, what, pair[0], pair[1])
		}
	}
	if len(gq) == 0 && got.RequestURI != want.RequestURI {
		t.Errorf("%s: RequestURI = %q, proxy's %q", name, got.RequestURI, want.RequestURI)
	}
}
