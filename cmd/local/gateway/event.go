package gateway

import (
	"crypto/sha1" // #nosec G505 -- not for security: shortID below derives stable ids from names
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"scaleapi/internal/samtemplate"
)

// request is what the event builders need to know about one HTTP request.
type request struct {
	r         *http.Request
	route     *Route
	params    map[string]string
	body      []byte
	id        string // API Gateway request id
	at        time.Time
	accountID string
}

// requestTime is API Gateway's format for requestContext.requestTime and .time.
const requestTime = "02/Jan/2006:15:04:05 -0700"

// v1Request is payload 1.0; Version is set ("1.0") only for HTTP APIs, as they do.
type v1Request struct {
	Version string `json:"version,omitempty"`
	events.APIGatewayProxyRequest
}

// v1Event builds the payload 1.0 event a REST API sends to a Lambda proxy integration: the path
// as the client encoded it, path parameters decoded, the stage in requestContext.path, and
// single- and multi-value forms of headers and the query string.
func (q *request) v1Event() ([]byte, error) {
	r, rt := q.r, q.route
	path := r.URL.EscapedPath()
	ev := v1Request{APIGatewayProxyRequest: events.APIGatewayProxyRequest{
		Resource:   rt.Path,
		Path:       path,
		HTTPMethod: r.Method,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         q.accountID,
			ResourceID:        rt.resourceIDOf(),
			Stage:             rt.Stage,
			DomainName:        r.Host,
			DomainPrefix:      domainPrefix(r.Host),
			RequestID:         q.id,
			ExtendedRequestID: shortID(q.id, 16),
			Protocol:          r.Proto,
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
			ResourcePath:     rt.Path,
			Path:             "/" + rt.Stage + path,
			HTTPMethod:       r.Method,
			RequestTime:      q.at.UTC().Format(requestTime),
			RequestTimeEpoch: q.at.UnixMilli(),
			APIID:            apiID(rt),
		},
	}}
	if rt.Kind == samtemplate.HTTPAPI {
		ev.Version = "1.0"
		ev.RequestContext.Path = path // HTTP APIs' $default stage is not in the path
	}
	n := len(r.Header) + len(addedHeaders)
	ev.Headers, ev.MultiValueHeaders = make(map[string]string, n), make(map[string][]string, n)
	q.eachHeader(func(k string, vs []string) {
		ev.Headers[k], ev.MultiValueHeaders[k] = vs[len(vs)-1], vs // API Gateway keeps the last value
	})
	if qs := q.query(); len(qs) > 0 {
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = map[string]string{}, map[string][]string(qs)
		for k, vs := range qs {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	if len(q.params) > 0 {
		ev.PathParameters = q.params
	}
	ev.Body, ev.IsBase64Encoded = q.encodedBody()
	return json.Marshal(ev)
}

// v2Event builds the payload 2.0 event an HTTP API sends: lower-case header names with values
// comma-joined, cookies apart, query values comma-joined next to the raw query string, and
// rawPath decoded, as HTTP APIs deliver it.
func (q *request) v2Event() ([]byte, error) {
	r, rt := q.r, q.route
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       rt.Key(),
		RawPath:        r.URL.Path,
		RawQueryString: r.URL.RawQuery,
		Headers:        make(map[string]string, len(r.Header)+len(addedHeaders)),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.Key(),
			AccountID:    q.accountID,
			Stage:        rt.Stage,
			RequestID:    q.id,
			APIID:        apiID(rt),
			DomainName:   r.Host,
			DomainPrefix: domainPrefix(r.Host),
			Time:         q.at.UTC().Format(requestTime),
			TimeEpoch:    q.at.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
		},
	}
	q.eachHeader(func(k string, vs []string) {
		if k == "Cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			return
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	})
	if qs := q.query(); len(qs) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range qs {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(q.params) > 0 {
		ev.PathParameters = q.params
	}
	ev.Body, ev.IsBase64Encoded = q.encodedBody()
	return json.Marshal(ev)
}

// addedHeaders are the headers API Gateway sets on every request, replacing the client's.
var addedHeaders = [...]string{"Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port"}

// eachHeader calls f with each of the request's headers plus those API Gateway adds: Host, and
// the X-Forwarded-* headers naming the client and the listener. The values of the request's own
// headers are r.Header's slices, which f must not modify; the events only read them, and walking
// them in place spares a copy of every header per request.
func (q *request) eachHeader(f func(k string, vs []string)) {
	r := q.r
	port, hasPort := listenerPort(r)
	for k, vs := range r.Header {
		switch k {
		case "Host", "X-Forwarded-For", "X-Forwarded-Proto":
			continue
		case "X-Forwarded-Port":
			if hasPort {
				continue
			}
		}
		f(k, vs)
	}
	xff := sourceIP(r)
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + xff
	}
	f("Host", []string{r.Host})
	f("X-Forwarded-For", []string{xff})
	f("X-Forwarded-Proto", []string{"http"})
	if hasPort {
		f("X-Forwarded-Port", []string{port})
	}
}

// listenerPort is the port of the listener that accepted r, if known.
func listenerPort(r *http.Request) (string, bool) {
	switch addr := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		// What SplitHostPort would return from addr.String(), without formatting the address.
		if addr != nil {
			return strconv.Itoa(addr.Port), true
		}
	case net.Addr:
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port, true
		}
	}
	return "", false
}

// query is the request's parsed query string; it skips the parse (and its empty map) when there
// is no query string.
func (q *request) query() url.Values {
	if q.r.URL.RawQuery == "" {
		return nil
	}
	return q.r.URL.Query()
}

// encodedBody returns the body for the event, base64-encoded when it is binary: not valid UTF-8,
// or of a content type that is not text. (A REST API decides by its BinaryMediaTypes; the local
// gateway decides by content, which never mangles a body and matches an API that lists its
// binary types.)
func (q *request) encodedBody() (string, bool) {
	if len(q.body) == 0 {
		return "", false
	}
	if utf8.Valid(q.body) && isText(q.r.Header.Get("Content-Type")) {
		return string(q.body), false
	}
	return base64.StdEncoding.EncodeToString(q.body), true
}

func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		mt == "application/x-www-form-urlencoded", mt == "application/graphql", mt == "application/x-ndjson":
		return true
	}
	return false
}

func sourceIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	return prefix
}

// apiID is a stable stand-in for the API's id, derived from its logical id.
func apiID(rt *Route) string {
	if rt.apiID != "" {
		return rt.apiID
	}
	name := rt.API
	if name == "" {
		name = "ServerlessRestApi"
		if rt.Kind == samtemplate.HTTPAPI {
			name = "ServerlessHttpApi"
		}
	}
	return shortID(name, 10)
}

// shortID is the first n (at most 40) hex digits of s's SHA-1.
func shortID(s string, n int) string {
	var in [64]byte // request ids and route keys fit; the array spares the conversion's allocation
	// #nosec G401 -- a stable id derived from a name, as API Gateway's look; nothing is authenticated by it
	sum := sha1.Sum(append(in[:0], s...))
	var out [2 * sha1.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:n])
}
