package lambdabench

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// The API the events come from: an edge-optimised REST API (template.yaml's AWS::Serverless::Api,
// whose default endpoint is EDGE) on stage Prod, so requests arrive through CloudFront and
// carry its headers, as they do in AWS.
const (
	apiID     = "k3x9q2w7ze"
	accountID = "123456789012"
	stage     = "Prod"
	apiHost   = apiID + ".execute-api.us-east-1.amazonaws.com"
	clientIP  = "198.51.100.23"
	// edgeIP is the CloudFront edge that forwarded the request: API Gateway's source IP is the
	// client's, and X-Forwarded-For lists the client then the edge.
	edgeIP    = "130.176.98.141"
	userAgent = "scaleapi-client/2.3 (+https://example.com) Go-http-client/2.0"
)

// request is one client request, as the benchmark sends it through API Gateway.
type request struct {
	method   string
	resource string // the API Gateway resource, as template.yaml declares it: /projects/{id}
	path     string // the concrete path, with its query string: /projects/0190…?join=tasks
	token    string // the Bearer token, if any
	body     string // JSON, if any
}

// event returns the payload 1.0 event API Gateway sends a Lambda proxy integration for r: the
// path and its parameters, single- and multi-value headers and query parameters (decoded, as
// API Gateway delivers them), and a request context with a fresh request id. Each call gives
// another request id, as every request through API Gateway has.
func event(tb testing.TB, r request) []byte {
	tb.Helper()
	path, rawQuery, _ := strings.Cut(r.path, "?")
	now := time.Now()
	id := uuid.NewString()

	hdr := map[string][]string{
		"Accept":                       {"application/json"},
		"Accept-Encoding":              {"gzip, deflate, br"},
		"CloudFront-Forwarded-Proto":   {"https"},
		"CloudFront-Is-Desktop-Viewer": {"true"},
		"CloudFront-Is-Mobile-Viewer":  {"false"},
		"CloudFront-Is-SmartTV-Viewer": {"false"},
		"CloudFront-Is-Tablet-Viewer":  {"false"},
		"CloudFront-Viewer-ASN":        {"64496"},
		"CloudFront-Viewer-Country":    {"DE"},
		"Host":                         {apiHost},
		"User-Agent":                   {userAgent},
		"Via":                          {"2.0 " + randomHex(16) + ".cloudfront.net (CloudFront)"},
		"X-Amz-Cf-Id":                  {randomHex(28) + "=="},
		"X-Amzn-Trace-Id":              {fmt.Sprintf("Root=1-%08x-%s", now.Unix(), randomHex(24))},
		"X-Forwarded-For":              {clientIP + ", " + edgeIP},
		"X-Forwarded-Port":             {"443"},
		"X-Forwarded-Proto":            {"https"},
	}
	if r.token != "" {
		hdr["Authorization"] = []string{"Bearer " + r.token}
	}
	if r.body != "" {
		hdr["Content-Type"] = []string{"application/json"}
	}
	single := make(map[string]string, len(hdr))
	for k, vs := range hdr {
		single[k] = vs[len(vs)-1] // API Gateway keeps the last value of a repeated header
	}

	ev := events.APIGatewayProxyRequest{
		Resource:          r.resource,
		Path:              path,
		HTTPMethod:        r.method,
		Headers:           single,
		MultiValueHeaders: hdr,
		PathParameters:    pathParameters(path, r.resource),
		Body:              r.body,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         accountID,
			ResourceID:        randomHex(3),
			Stage:             stage,
			DomainName:        apiHost,
			DomainPrefix:      apiID,
			RequestID:         id,
			ExtendedRequestID: randomHex(8) + "=",
			Protocol:          "HTTP/1.1",
			Identity:          events.APIGatewayRequestIdentity{SourceIP: clientIP, UserAgent: userAgent},
			ResourcePath:      r.resource,
			Path:              "/" + stage + path,
			HTTPMethod:        r.method,
			RequestTime:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch:  now.UnixMilli(),
			APIID:             apiID,
		},
	}
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			tb.Fatalf("query of %s: %v", r.path, err)
		}
		ev.MultiValueQueryStringParameters = q
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// events returns n events of r, each with its own request id: the recording a benchmark
// replays, cycling through it, so that no two neighbouring invocations carry the same id.
func eventsOf(tb testing.TB, r request, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = event(tb, r)
	}
	return out
}

// pathParameters are the values of resource's {name} segments in path.
func pathParameters(path, resource string) map[string]string {
	segs, rs := strings.Split(path, "/"), strings.Split(resource, "/")
	var ps map[string]string
	for i, s := range rs {
		if strings.HasPrefix(s, "{") && i < len(segs) {
			if ps == nil {
				ps = map[string]string{}
			}
			ps[strings.Trim(s, "{}+")] = segs[i]
		}
	}
	return ps // nil for a resource without parameters: API Gateway sends null
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
