package eventjson

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// The response encoders write the bytes json.Marshal writes for aws-lambda-go's response types
// (keys in the same order, map keys sorted, strings escaped alike), without reflection: the
// response goes out on every invocation. TestEncodeMatchesMarshal holds them to that.

// AppendV1Response appends the JSON of a payload 1.0 response.
func AppendV1Response(b []byte, resp *events.APIGatewayProxyResponse) []byte {
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(resp.StatusCode), 10)
	b = append(b, `,"headers":`...)
	b = AppendStringMap(b, resp.Headers)
	b = append(b, `,"multiValueHeaders":`...)
	b = AppendStringsMap(b, resp.MultiValueHeaders)
	b = append(b, `,"body":`...)
	b = AppendString(b, resp.Body)
	if resp.IsBase64Encoded {
		b = append(b, `,"isBase64Encoded":true`...)
	}
	return append(b, '}')
}

// AppendV2Response appends the JSON of a payload 2.0 response.
func AppendV2Response(b []byte, resp *events.APIGatewayV2HTTPResponse) []byte {
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(resp.StatusCode), 10)
	b = append(b, `,"headers":`...)
	b = AppendStringMap(b, resp.Headers)
	b = append(b, `,"multiValueHeaders":`...)
	b = AppendStringsMap(b, resp.MultiValueHeaders)
	b = append(b, `,"body":`...)
	b = AppendString(b, resp.Body)
	if resp.IsBase64Encoded {
		b = append(b, `,"isBase64Encoded":true`...)
	}
	b = append(b, `,"cookies":`...)
	b = AppendStrings(b, resp.Cookies)
	return append(b, '}')
}

// AppendStringMap appends m as json.Marshal does: null for nil, keys sorted.
func AppendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		b = AppendString(b, m[k])
	}
	return append(b, '}')
}

// AppendStringsMap appends m as json.Marshal does.
func AppendStringsMap(b []byte, m map[string][]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, k)
		b = append(b, ':')
		b = AppendStrings(b, m[k])
	}
	return append(b, '}')
}

// AppendStrings appends s as json.Marshal does: null for nil.
func AppendStrings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v)
	}
	return append(b, ']')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AppendString appends s as a JSON string the way encoding/json does with HTML escaping on
// (json.Marshal's default): <, > and & as \u003c, \u003e, \u0026, U+2028 and U+2029 escaped,
// invalid UTF-8 as U+FFFD.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendV1Request appends the JSON of a payload 1.0 event, the bytes json.Marshal writes for
// ev; a version other than "" is written first, as HTTP APIs' payload 1.0 carries one.
func AppendV1Request(b []byte, version string, ev *events.APIGatewayProxyRequest) []byte {
	b = append(b, '{')
	if version != "" {
		b = append(b, `"version":`...)
		b = AppendString(b, version)
		b = append(b, ',')
	}
	b = append(b, `"resource":`...)
	b = AppendString(b, ev.Resource)
	b = append(b, `,"path":`...)
	b = AppendString(b, ev.Path)
	b = append(b, `,"httpMethod":`...)
	b = AppendString(b, ev.HTTPMethod)
	b = append(b, `,"headers":`...)
	b = AppendStringMap(b, ev.Headers)
	b = append(b, `,"multiValueHeaders":`...)
	b = AppendStringsMap(b, ev.MultiValueHeaders)
	b = append(b, `,"queryStringParameters":`...)
	b = AppendStringMap(b, ev.QueryStringParameters)
	b = append(b, `,"multiValueQueryStringParameters":`...)
	b = AppendStringsMap(b, ev.MultiValueQueryStringParameters)
	b = append(b, `,"pathParameters":`...)
	b = AppendStringMap(b, ev.PathParameters)
	b = append(b, `,"stageVariables":`...)
	b = AppendStringMap(b, ev.StageVariables)

	c := &ev.RequestContext
	b = append(b, `,"requestContext":{"accountId":`...)
	b = AppendString(b, c.AccountID)
	b = append(b, `,"resourceId":`...)
	b = AppendString(b, c.ResourceID)
	b = appendOmitEmpty(b, "operationName", c.OperationName)
	b = append(b, `,"stage":`...)
	b = AppendString(b, c.Stage)
	b = append(b, `,"domainName":`...)
	b = AppendString(b, c.DomainName)
	b = append(b, `,"domainPrefix":`...)
	b = AppendString(b, c.DomainPrefix)
	b = append(b, `,"requestId":`...)
	b = AppendString(b, c.RequestID)
	b = append(b, `,"extendedRequestId":`...)
	b = AppendString(b, c.ExtendedRequestID)
	b = append(b, `,"protocol":`...)
	b = AppendString(b, c.Protocol)

	id := &c.Identity
	b = append(b, `,"identity":{`...)
	n := len(b)
	b = appendOmitEmpty(b, "cognitoIdentityPoolId", id.CognitoIdentityPoolID)
	b = appendOmitEmpty(b, "accountId", id.AccountID)
	b = appendOmitEmpty(b, "cognitoIdentityId", id.CognitoIdentityID)
	b = appendOmitEmpty(b, "caller", id.Caller)
	b = appendOmitEmpty(b, "apiKey", id.APIKey)
	b = appendOmitEmpty(b, "apiKeyId", id.APIKeyID)
	b = appendOmitEmpty(b, "accessKey", id.AccessKey)
	b = append(b, `,"sourceIp":`...)
	b = AppendString(b, id.SourceIP)
	b = appendOmitEmpty(b, "cognitoAuthenticationType", id.CognitoAuthenticationType)
	b = appendOmitEmpty(b, "cognitoAuthenticationProvider", id.CognitoAuthenticationProvider)
	b = appendOmitEmpty(b, "userArn", id.UserArn)
	b = append(b, `,"userAgent":`...)
	b = AppendString(b, id.UserAgent)
	b = appendOmitEmpty(b, "user", id.User)
	if id.ClientCert != nil {
		b = append(b, `,"clientCert":`...)
		b = appendMarshal(b, id.ClientCert)
	}
	b = append(b[:n], b[n+1:]...) // the first member's leading comma
	b = append(b, '}')

	b = append(b, `,"resourcePath":`...)
	b = AppendString(b, c.ResourcePath)
	b = append(b, `,"path":`...)
	b = AppendString(b, c.Path)
	b = append(b, `,"authorizer":`...)
	if c.Authorizer == nil {
		b = append(b, "null"...)
	} else {
		b = appendMarshal(b, c.Authorizer)
	}
	b = append(b, `,"httpMethod":`...)
	b = AppendString(b, c.HTTPMethod)
	b = append(b, `,"requestTime":`...)
	b = AppendString(b, c.RequestTime)
	b = append(b, `,"requestTimeEpoch":`...)
	b = strconv.AppendInt(b, c.RequestTimeEpoch, 10)
	b = append(b, `,"apiId":`...)
	b = AppendString(b, c.APIID)
	b = append(b, `},"body":`...)
	b = AppendString(b, ev.Body)
	if ev.IsBase64Encoded {
		b = append(b, `,"isBase64Encoded":true`...)
	}
	return append(b, '}')
}

// AppendV2Request appends the JSON of a payload 2.0 event, the bytes json.Marshal writes for ev.
func AppendV2Request(b []byte, ev *events.APIGatewayV2HTTPRequest) []byte {
	b = append(b, `{"version":`...)
	b = AppendString(b, ev.Version)
	b = append(b, `,"routeKey":`...)
	b = AppendString(b, ev.RouteKey)
	b = append(b, `,"rawPath":`...)
	b = AppendString(b, ev.RawPath)
	b = append(b, `,"rawQueryString":`...)
	b = AppendString(b, ev.RawQueryString)
	if len(ev.Cookies) > 0 {
		b = append(b, `,"cookies":`...)
		b = AppendStrings(b, ev.Cookies)
	}
	b = append(b, `,"headers":`...)
	b = AppendStringMap(b, ev.Headers)
	if len(ev.QueryStringParameters) > 0 {
		b = append(b, `,"queryStringParameters":`...)
		b = AppendStringMap(b, ev.QueryStringParameters)
	}
	if len(ev.PathParameters) > 0 {
		b = append(b, `,"pathParameters":`...)
		b = AppendStringMap(b, ev.PathParameters)
	}

	c := &ev.RequestContext
	b = append(b, `,"requestContext":{"routeKey":`...)
	b = AppendString(b, c.RouteKey)
	b = append(b, `,"accountId":`...)
	b = AppendString(b, c.AccountID)
	b = append(b, `,"stage":`...)
	b = AppendString(b, c.Stage)
	b = append(b, `,"requestId":`...)
	b = AppendString(b, c.RequestID)
	if c.Authorizer != nil {
		b = append(b, `,"authorizer":`...)
		b = appendMarshal(b, c.Authorizer)
	}
	b = append(b, `,"apiId":`...)
	b = AppendString(b, c.APIID)
	b = append(b, `,"domainName":`...)
	b = AppendString(b, c.DomainName)
	b = append(b, `,"domainPrefix":`...)
	b = AppendString(b, c.DomainPrefix)
	b = append(b, `,"time":`...)
	b = AppendString(b, c.Time)
	b = append(b, `,"timeEpoch":`...)
	b = strconv.AppendInt(b, c.TimeEpoch, 10)
	h := &c.HTTP
	b = append(b, `,"http":{"method":`...)
	b = AppendString(b, h.Method)
	b = append(b, `,"path":`...)
	b = AppendString(b, h.Path)
	b = append(b, `,"protocol":`...)
	b = AppendString(b, h.Protocol)
	b = append(b, `,"sourceIp":`...)
	b = AppendString(b, h.SourceIP)
	b = append(b, `,"userAgent":`...)
	b = AppendString(b, h.UserAgent)
	cc := &c.Authentication.ClientCert
	b = append(b, `},"authentication":{"clientCert":{"clientCertPem":`...)
	b = AppendString(b, cc.ClientCertPem)
	b = append(b, `,"issuerDN":`...)
	b = AppendString(b, cc.IssuerDN)
	b = append(b, `,"serialNumber":`...)
	b = AppendString(b, cc.SerialNumber)
	b = append(b, `,"subjectDN":`...)
	b = AppendString(b, cc.SubjectDN)
	b = append(b, `,"validity":{"notAfter":`...)
	b = AppendString(b, cc.Validity.NotAfter)
	b = append(b, `,"notBefore":`...)
	b = AppendString(b, cc.Validity.NotBefore)
	b = append(b, `}}}}`...)
	if len(ev.StageVariables) > 0 {
		b = append(b, `,"stageVariables":`...)
		b = AppendStringMap(b, ev.StageVariables)
	}
	if ev.Body != "" {
		b = append(b, `,"body":`...)
		b = AppendString(b, ev.Body)
	}
	b = append(b, `,"isBase64Encoded":`...)
	b = strconv.AppendBool(b, ev.IsBase64Encoded)
	return append(b, '}')
}

// appendOmitEmpty appends ,"name":"value" unless value is empty (omitempty).
func appendOmitEmpty(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendString(b, value)
}

// appendMarshal appends json.Marshal's encoding of v, for the loosely typed members that are
// rarely present; a value that does not encode is written as null.
func appendMarshal(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}
