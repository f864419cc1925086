package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"strings"
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

// decodeCases are payloads the fast decoders must decode exactly as encoding/json does (or
// reject as it does): the fixtures, and text-level edits of them that exercise the decoder's
// edges.
func decodeCases(t testing.TB) []string {
	v1 := string(fixture(t, "aws-proxy.json", nil))
	v2 := string(fixture(t, "http-api-proxy.json", nil))
	raw1, _ := readFixture("aws-proxy.json")
	raw2, _ := readFixture("http-api-proxy.json")
	cases := []string{v1, v2, gatewayEvent, string(raw1), string(raw2)}
	for _, r := range []struct{ old, new string }{
		{`"httpMethod":"GET"`, `"httpMethod":null`},
		{`"httpMethod":"GET"`, `"httpMethod":"G\u0045T"`},
		{`"httpMethod":"GET"`, `"HTTPMethod":"GET"`},                    // matched case-insensitively
		{`"httpMethod":"GET"`, `"httpMethod":"GET","httpMethod":"PUT"`}, // repeated
		{`"httpMethod":"GET"`, `"httpMethod":7`},
		{`"httpMethod":"GET"`, `"httpMethod":"GET","extra":{"a":[1,2.5e-3,true,false,null,"x\"y"]}`},
		{`"body":""`, `"body":"{\"name\":\"caf\u00e9 \ud83d\ude00 \ud800 <&> \/\b\f\n\r\t\"}"`},
		{`"body":""`, "\"body\":\"caf\xc3\xa9 \xff\xfe bad utf-8\""},
		{`"body":""`, `"body":"tab	inside"`},
		{`"body":""`, `"body":"bad \x escape"`},
		{`"body":""`, `"body":"", "isBase64Encoded": true`},
		{`"body":""`, `"body":"", "isBase64Encoded": null`},
		{`"body":""`, `"body":"", "isBase64Encoded": tru`},
		{`"requestTimeEpoch":1795722724055`, `"requestTimeEpoch":-1`},
		{`"requestTimeEpoch":1795722724055`, `"requestTimeEpoch":1.5`},
		{`"requestTimeEpoch":1795722724055`, `"requestTimeEpoch":1e3`},
		{`"requestTimeEpoch":1795722724055`, `"requestTimeEpoch":012`},
		{`"requestTimeEpoch":1795722724055`, `"requestTimeEpoch":99999999999999999999`},
		{`"requestTimeEpoch":1795722724055`, `"requestTimeEpoch":"12"`},
		{`"authorizer":null`, `"authorizer":{"principalId":"u1","claims":{"sub":"x"},"n":3}`},
		{`"authorizer":null`, `"authorizer":"nope"`},
		{`"pathParameters":{`, `"pathParameters":{"nil":null,`},
		{`"multiValueHeaders":{`, `"multiValueHeaders":{"Empty":[],"Nil":null,"NullInside":[null,"a"],`},
		{`"identity":{`, `"identity":{"principalOrgId":null,"clientCert":{"clientCertPem":"pem","validity":{"notBefore":"a"}},`},
		{`"stageVariables":null`, `"stageVariables":[]`},
		{`"queryStringParameters":null`, `"queryStringParameters":{"a":"1"}`},
		{`"requestContext":{`, `"requestContext":{"REQUESTID":"shadow",`},
		{`{"resource"`, ` {"resource"`},
		{`"apiId":"e516b0b1c5"}`, `"apiId":"e516b0b1c5"} `},
		{`"apiId":"e516b0b1c5"}`, `"apiId":"e516b0b1c5"},`},
		{`"body":""}`, `"body":""}}`},
		{`"body":""}`, `"body":""`},
		{`{"resource"`, `[{"resource"`},
	} {
		if strings.Contains(gatewayEvent, r.old) {
			cases = append(cases, strings.Replace(gatewayEvent, r.old, r.new, 1))
		}
	}
	cases = append(cases,
		edited(t, v2, func(m map[string]any) { m["cookies"] = []any{"a=1", "b=2"} }),
		edited(t, v2, func(m map[string]any) { m["cookies"] = nil }),
		edited(t, v2, func(m map[string]any) { m["cookies"] = "a=1" }),
		edited(t, v2, func(m map[string]any) { m["requestContext"].(map[string]any)["authorizer"] = nil }),
		edited(t, v2, func(m map[string]any) {
			m["requestContext"].(map[string]any)["authentication"] = map[string]any{"clientCert": map[string]any{"serialNumber": "1"}}
		}),
		edited(t, v2, func(m map[string]any) { m["requestContext"].(map[string]any)["http"] = nil }),
		edited(t, v2, func(m map[string]any) { m["requestContext"].(map[string]any)["timeEpoch"] = 1.5 }),
		`{}`, `null`, ``, `{"version":"2.0"}`, `{"a":`, `{"a":1}x`, `{"a":[1,]}`, `{"a":{"b":}}`,
		`{"a":-}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":nul}`, `{"a":"\u12"}`,
		"{\"a\":\"\x01\"}", `{"a" 1}`, `{1:2}`, `{"a":[[[[[[[[[[]]]]]]]]]]}`,
	)
	return cases
}

func readFixture(name string) ([]byte, error) {
	return os.ReadFile("testdata/" + name)
}

// equalDecode reports how the fast decoders and encoding/json differ on payload, or "".
func equalDecode(payload []byte) string {
	var fast1, slow1 events.APIGatewayProxyRequest
	ferr := decodeV1(payload, &fast1)
	serr := json.Unmarshal(payload, &slow1)
	if (ferr == nil) != (serr == nil) {
		return "v1: error " + errString(ferr) + ", encoding/json: " + errString(serr)
	}
	if serr == nil && !reflect.DeepEqual(fast1, slow1) {
		return "v1: decoded differently"
	}
	var fast2, slow2 events.APIGatewayV2HTTPRequest
	ferr = decodeV2(payload, &fast2)
	serr = json.Unmarshal(payload, &slow2)
	if (ferr == nil) != (serr == nil) {
		return "v2: error " + errString(ferr) + ", encoding/json: " + errString(serr)
	}
	if serr == nil && !reflect.DeepEqual(fast2, slow2) {
		return "v2: decoded differently"
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for i, c := range decodeCases(t) {
		if d := equalDecode([]byte(c)); d != "" {
			t.Errorf("case %d %.120q: %s", i, c, d)
		}
	}
}

// TestDecodeFastPath checks that the events API Gateway and cmd/local send are decoded without
// falling back to encoding/json: the fast path is what the function runs on.
func TestDecodeFastPath(t *testing.T) {
	for name, payload := range map[string]string{
		"gateway":        gatewayEvent,
		"aws-proxy":      string(fixture(t, "aws-proxy.json", nil)),
		"http-api-proxy": string(fixture(t, "http-api-proxy.json", nil)),
	} {
		r := newReader([]byte(payload))
		var ok bool
		if payloadVersion([]byte(payload)) == "2.0" {
			var ev events.APIGatewayV2HTTPRequest
			ok = r.v2(&ev) && r.end()
		} else {
			var ev events.APIGatewayProxyRequest
			ok = r.v1(&ev) && r.end()
		}
		if !ok {
			t.Errorf("%s: the fast decoder gave up at byte %d", name, r.i)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases(f) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if d := equalDecode(payload); d != "" {
			t.Fatalf("%q: %s", payload, d)
		}
	})
}

func TestUnquoteRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "é", "\\n", "\\u00e9", "\\ud83d", "\\ude00", "\\ud83d\\ude00", "\\\"", "\\/",
		"\xff", "\xed\xa0\x80", "<", "\\u0000", "\\uD834\\uDD1E", "\\uDD1E\\uD834", "\\u002"}
	for range 5000 {
		var sb strings.Builder
		sb.WriteByte('"')
		for range rng.IntN(8) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		sb.WriteByte('"')
		doc := `{"body":` + sb.String() + `,"httpMethod":"GET"}`
		if d := equalDecode([]byte(doc)); d != "" {
			t.Fatalf("%q: %s", doc, d)
		}
	}
}

func TestEncodeMatchesMarshal(t *testing.T) {
	strs := []string{"", "plain", `q"uote\back`, "<a href='x'>&amp;</a>", "line\nbreak\ttab\r\b\f\x01\x1f\x7f",
		"café 😀", "\u2028\u2029", "\xff\xfebad", "\xed\xa0\x80", strings.Repeat("x", 300)}
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func() string { return strs[rng.IntN(len(strs))] }
	for i := range 500 {
		v1 := events.APIGatewayProxyResponse{StatusCode: 100 + rng.IntN(500), Body: pick(), IsBase64Encoded: i%3 == 0}
		v2 := events.APIGatewayV2HTTPResponse{StatusCode: v1.StatusCode, Body: pick(), IsBase64Encoded: i%2 == 0}
		if i%4 != 0 {
			v1.Headers, v2.Headers = map[string]string{}, map[string]string{}
			v1.MultiValueHeaders = map[string][]string{}
			for range rng.IntN(5) {
				v1.Headers[pick()] = pick()
				v2.Headers[pick()] = pick()
				v1.MultiValueHeaders[pick()] = []string{pick(), pick()}
			}
			v1.MultiValueHeaders["Empty"] = []string{}
			v1.MultiValueHeaders["Nil"] = nil
			v2.Cookies = []string{}
			for range rng.IntN(3) {
				v2.Cookies = append(v2.Cookies, pick())
			}
		}
		want1, _ := json.Marshal(v1)
		if got := appendResponseV1(nil, &v1); !bytes.Equal(got, want1) {
			t.Fatalf("v1:\n got %s\nwant %s", got, want1)
		}
		want2, _ := json.Marshal(v2)
		if got := appendResponseV2(nil, &v2); !bytes.Equal(got, want2) {
			t.Fatalf("v2:\n got %s\nwant %s", got, want2)
		}
	}
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

// BenchmarkDecode compares the fast decoder with encoding/json on the gateway's event.
func BenchmarkDecode(b *testing.B) {
	payload := []byte(gatewayEvent)
	b.Run("Fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev events.APIGatewayProxyRequest
			if err := decodeV1(payload, &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncodingJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev events.APIGatewayProxyRequest
			if err := json.Unmarshal(payload, &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
