package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// proxyResponse is a Lambda proxy integration response, payload 1.0 or 2.0.
type proxyResponse struct {
	StatusCode        *int                `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
	Cookies           []string            `json:"cookies"` // 2.0 only
}

// errMalformed is API Gateway's "Malformed Lambda proxy response": the client gets a 502.
var errMalformed = errors.New("malformed Lambda proxy response")

// decodeResponse reads a function's response. Payload 1.0 must be a proxy response with a
// statusCode. Payload 2.0 may also be any other JSON value, which HTTP APIs return as a 200
// application/json body.
func decodeResponse(payload []byte, version string) (*proxyResponse, error) {
	// What aws-lambda-go-api-proxy sends, a proxy response object (for 2.0 one that starts with
	// its statusCode member), is decoded once, by json.Unmarshal, without the probe and without
	// the Decoder's copy of the payload. Whenever Unmarshal accepts the payload, the steps below
	// would reach the same value. When it does not, they run as they always have and give their
	// own answer: a 2.0 bare JSON value, an error, or (the Decoder ignores what follows a first
	// complete value) a response after all.
	if version != "2.0" || bytes.HasPrefix(payload, statusCodeFirst) {
		var resp proxyResponse
		if json.Unmarshal(payload, &resp) == nil {
			return &resp, resp.check()
		}
	}
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
	return &resp, resp.check()
}

// statusCodeFirst is how an encoded events.APIGatewayV2HTTPResponse begins. A payload that
// begins so is a proxy response if it is JSON at all: it has the statusCode member.
var statusCodeFirst = []byte(`{"statusCode":`)

// check reports a decoded proxy response without a valid statusCode.
func (resp *proxyResponse) check() error {
	if resp.StatusCode == nil {
		return fmt.Errorf("%w: no statusCode", errMalformed)
	}
	if c := *resp.StatusCode; c < 100 || c > 599 {
		return fmt.Errorf("%w: statusCode %d", errMalformed, c)
	}
	return nil
}

// hopByHop are headers that describe one connection, not the response; API Gateway sets its
// own, and passing a function's on would break the local connection.
var hopByHop = []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Content-Length", "Trailer"}

// write sends resp. Headers and multiValueHeaders merge as in API Gateway: for a name in both,
// only the multi-value list is used. A response without Content-Type gets application/json, as
// API Gateway gives it.
func (resp *proxyResponse) write(w http.ResponseWriter) error {
	var decoded []byte // the body, when it is base64; resp.Body is written as it is otherwise
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return fmt.Errorf("%w: body is not base64: %v", errMalformed, err)
		}
		decoded = b
	}
	h := w.Header()
	var multi map[string]bool // only needed when both forms are present
	if len(resp.Headers) > 0 && len(resp.MultiValueHeaders) > 0 {
		multi = make(map[string]bool, len(resp.MultiValueHeaders))
	}
	for k, vs := range resp.MultiValueHeaders {
		ck := http.CanonicalHeaderKey(k)
		if multi != nil {
			multi[ck] = true
		}
		if prev := h[ck]; len(prev) == 0 && len(vs) > 0 {
			h[ck] = vs // the decoded slice is the response's own: it needs no copy
		} else {
			h[ck] = append(prev, vs...)
		}
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
	n := len(resp.Body)
	if resp.IsBase64Encoded {
		n = len(decoded)
	}
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(*resp.StatusCode)
	if resp.IsBase64Encoded {
		_, _ = w.Write(decoded)
	} else {
		_, _ = io.WriteString(w, resp.Body) // net/http's writer takes a string without converting it
	}
	return nil
}
