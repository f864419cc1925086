package gateway

// The implementations the gateway's per-request path had before it was made cheaper, kept to
// show that the events it sends and the responses it writes are unchanged (equivalence_test.go).

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"scaleapi/cmd/local/samtemplate"
)

func (q *request) oldV1Event() ([]byte, error) {
	r, rt := q.r, q.route
	path := r.URL.EscapedPath()
	ev := v1Request{APIGatewayProxyRequest: events.APIGatewayProxyRequest{
		Resource:   rt.Path,
		Path:       path,
		HTTPMethod: r.Method,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         q.accountID,
			ResourceID:        oldShortID(rt.Key(), 6),
			Stage:             rt.Stage,
			DomainName:        r.Host,
			DomainPrefix:      domainPrefix(r.Host),
			RequestID:         q.id,
			ExtendedRequestID: oldShortID(q.id, 16),
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
			APIID:            oldAPIID(rt),
		},
	}}
	if rt.Kind == samtemplate.HTTPAPI {
		ev.Version = "1.0"
		ev.RequestContext.Path = path // HTTP APIs' $default stage is not in the path
	}
	ev.Headers, ev.MultiValueHeaders = map[string]string{}, map[string][]string{}
	for k, vs := range q.oldHeaders() {
		ev.Headers[k], ev.MultiValueHeaders[k] = vs[len(vs)-1], vs // API Gateway keeps the last value
	}
	if qs := r.URL.Query(); len(qs) > 0 {
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

func (q *request) oldV2Event() ([]byte, error) {
	r, rt := q.r, q.route
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       rt.Key(),
		RawPath:        r.URL.Path,
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.Key(),
			AccountID:    q.accountID,
			Stage:        rt.Stage,
			RequestID:    q.id,
			APIID:        oldAPIID(rt),
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
	for k, vs := range q.oldHeaders() {
		if k == "Cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if qs := r.URL.Query(); len(qs) > 0 {
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

func (q *request) oldHeaders() http.Header {
	h := q.r.Header.Clone()
	h.Set("Host", q.r.Host)
	xff := sourceIP(q.r)
	if prior := h.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + xff
	}
	h.Set("X-Forwarded-For", xff)
	h.Set("X-Forwarded-Proto", "http")
	if addr, ok := q.r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			h.Set("X-Forwarded-Port", port)
		}
	}
	return h
}

func oldAPIID(rt *Route) string {
	name := rt.API
	if name == "" {
		name = "ServerlessRestApi"
		if rt.Kind == samtemplate.HTTPAPI {
			name = "ServerlessHttpApi"
		}
	}
	return oldShortID(name, 10)
}

func oldShortID(s string, n int) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

func oldDecodeResponse(payload []byte, version string) (*proxyResponse, error) {
	if version == "2.0" {
		var probe map[string]json.RawMessage
		if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil {
			if !json.Valid(payload) {
				return nil, fmt.Errorf("%w: not JSON", errMalformed)
			}
			ok := http.StatusOK
			return &proxyResponse{
				StatusCode: &ok, Body: string(payload),
				Headers: map[string]string{"Content-Type": "application/json"},
			}, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	var resp proxyResponse
	if err := dec.Decode(&resp); err != nil {
		return nil, fmt.Errorf("%w: %v", errMalformed, err)
	}
	if resp.StatusCode == nil {
		return nil, fmt.Errorf("%w: no statusCode", errMalformed)
	}
	if c := *resp.StatusCode; c < 100 || c > 599 {
		return nil, fmt.Errorf("%w: statusCode %d", errMalformed, c)
	}
	return &resp, nil
}

func (resp *proxyResponse) oldWrite(w http.ResponseWriter) error {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return fmt.Errorf("%w: body is not base64: %v", errMalformed, err)
		}
		body = b
	}
	h := w.Header()
	multi := map[string]bool{}
	for k, vs := range resp.MultiValueHeaders {
		ck := http.CanonicalHeaderKey(k)
		multi[ck] = true
		h[ck] = append(h[ck], vs...)
	}
	for k, v := range resp.Headers {
		if ck := http.CanonicalHeaderKey(k); !multi[ck] {
			h[ck] = append(h[ck], v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(*resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}
