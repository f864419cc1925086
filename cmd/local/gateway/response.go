package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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

// hopByHop are headers that describe one connection, not the response; API Gateway sets its
// own, and passing a function's on would break the local connection.
var hopByHop = []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Content-Length", "Trailer"}

// write sends resp. Headers and multiValueHeaders merge as in API Gateway: for a name in both,
// only the multi-value list is used. A response without Content-Type gets application/json, as
// API Gateway gives it.
func (resp *proxyResponse) write(w http.ResponseWriter) error {
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
