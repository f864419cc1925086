package lambdahttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// The request builders turn an event into the http.Request aws-lambda-go-api-proxy's
// RequestAccessor would build (core.RequestAccessor.EventToRequestWithContext and its V2
// twin), field for field where handlers can see it: method, URL (absolute, https://domainName),
// Host, headers, body, RemoteAddr (the source IP) and RequestURI. They differ in two ways on
// purpose: a payload 1.0 query string is built in key order (the proxy's follows map
// iteration, so it changes from one invocation to the next), and the API Gateway request
// context is kept by reference in the request's context rather than copied, and read back
// with RequestContextV1 and RequestContextV2.

// requestV1 builds the request of a payload 1.0 event.
func requestV1(ctx context.Context, ev *events.APIGatewayProxyRequest) (*http.Request, error) {
	var query string
	switch {
	case len(ev.MultiValueQueryStringParameters) > 0:
		query = url.Values(ev.MultiValueQueryStringParameters).Encode()
	case len(ev.QueryStringParameters) > 0:
		q := make(url.Values, len(ev.QueryStringParameters))
		for k, v := range ev.QueryStringParameters {
			q[k] = []string{v}
		}
		query = q.Encode()
	}
	r, err := newRequest(ctx, ev.HTTPMethod, ev.RequestContext.DomainName, ev.Path, query, ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = ev.RequestContext.Identity.SourceIP
	if ev.MultiValueHeaders != nil {
		r.Header = make(http.Header, len(ev.MultiValueHeaders))
		for k, vs := range ev.MultiValueHeaders {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
	} else {
		r.Header = make(http.Header, len(ev.Headers))
		for k, v := range ev.Headers {
			r.Header.Add(k, v)
		}
	}
	return r, nil
}

// requestV2 builds the request of a payload 2.0 event. HTTP APIs join a repeated header's
// values with commas; they are split again except for the headers whose single value may
// itself hold commas (the proxy's list).
func requestV2(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	query := ev.RawQueryString
	if query == "" && len(ev.QueryStringParameters) > 0 {
		q := make(url.Values, len(ev.QueryStringParameters))
		for k, v := range ev.QueryStringParameters {
			q[k] = []string{v}
		}
		query = q.Encode()
	}
	r, err := newRequest(ctx, ev.RequestContext.HTTP.Method, ev.RequestContext.DomainName, path, query, ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	r.Header = make(http.Header, len(ev.Headers)+1)
	for _, c := range ev.Cookies {
		r.Header.Add("Cookie", c)
	}
	for k, v := range ev.Headers {
		if singletonHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
			r.Header.Add(k, v)
			continue
		}
		for part := range strings.SplitSeq(v, ",") {
			r.Header.Add(k, strings.Trim(part, " "))
		}
	}
	return r, nil
}

// singletonHeaders take one value that may contain commas (RFC 9110 §5.3): HTTP APIs' joined
// values are not split for them. The list is aws-lambda-go-api-proxy's.
var singletonHeaders = map[string]bool{
	"Content-Type": true, "Content-Disposition": true, "Content-Length": true, "User-Agent": true,
	"Referer": true, "Host": true, "Authorization": true, "Proxy-Authorization": true,
	"If-Modified-Since": true, "If-Unmodified-Since": true, "From": true, "Location": true,
	"Max-Forwards": true,
}

// newRequest builds a request for path (as delivered, made safe by escapePath) and an encoded
// query on https://host, with the event's body.
func newRequest(ctx context.Context, method, host, path, query, body string, base64Body bool) (*http.Request, error) {
	var rd io.Reader = http.NoBody
	switch {
	case base64Body:
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			rd = bytes.NewReader(b)
		}
	case body != "":
		rd = strings.NewReader(body)
	}
	path = escapePath(path)
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	// What url.Parse does with the path of "https://host" + path, without parsing the rest
	// (and without taking a path that starts with "//" for an authority).
	p, err := url.PathUnescape(path)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "https", Host: host, Path: p, RawQuery: query}
	if u.EscapedPath() != path {
		u.RawPath = path
	}
	// The URL is given parsed: NewRequestWithContext only checks the method and sets the body
	// up (ContentLength, GetBody) from an empty one.
	r, err := http.NewRequestWithContext(ctx, strings.ToUpper(method), "", rd)
	if err != nil {
		return nil, err
	}
	r.URL, r.Host = u, host
	r.RequestURI = u.RequestURI()
	return r, nil
}
