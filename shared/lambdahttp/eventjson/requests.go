package eventjson

import (
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
)

// The event decoders below read API Gateway's proxy events in one pass over the payload into
// aws-lambda-go's event types. encoding/json is general and pays for it: it validates the whole
// payload, then walks it again through reflection, and on this path it was the function's
// largest single cost after the network (about 30 µs of a 1.7 KB REST event on a loaded 2-core
// machine, against 3 µs for the rest of the conversion).
//
// They are exact or they give up: a payload they do not fully understand — invalid JSON, a
// value of an unexpected type, a member twice, a key that matches a field only
// case-insensitively — makes them return false, and the caller decodes it with encoding/json,
// whose result or error is then the answer. Where they do succeed the result is what
// encoding/json produces: unknown members are skipped, null leaves a field alone (and stores a
// zero value inside a map), strings are unquoted the same way, invalid UTF-8 included, and the
// rarely present, loosely typed members (authorizers, client certificates) are handed to
// encoding/json on their own. TestDecodeMatchesEncodingJSON and FuzzDecode hold them to that.

// DecodeV1Request decodes a payload 1.0 event into ev, which must be zero, as
// json.Unmarshal would.
func DecodeV1Request(b []byte, ev *events.APIGatewayProxyRequest) error {
	r := NewReader(b)
	if v1(&r, ev) && r.End() {
		return nil
	}
	*ev = events.APIGatewayProxyRequest{}
	return json.Unmarshal(b, ev)
}

// DecodeV2Request decodes a payload 2.0 event into ev, which must be zero, as
// json.Unmarshal would.
func DecodeV2Request(b []byte, ev *events.APIGatewayV2HTTPRequest) error {
	r := NewReader(b)
	if v2(&r, ev) && r.End() {
		return nil
	}
	*ev = events.APIGatewayV2HTTPRequest{}
	return json.Unmarshal(b, ev)
}

// Field names, for telling a key encoding/json would match case-insensitively from one it
// would skip.
var (
	v1Fields = []string{"resource", "path", "httpMethod", "headers", "multiValueHeaders",
		"queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
		"stageVariables", "requestContext", "body", "isBase64Encoded"}
	v1ContextFields = []string{"accountId", "resourceId", "operationName", "stage", "domainName",
		"domainPrefix", "requestId", "extendedRequestId", "protocol", "identity", "resourcePath",
		"path", "authorizer", "httpMethod", "requestTime", "requestTimeEpoch", "apiId"}
	identityFields = []string{"cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller",
		"apiKey", "apiKeyId", "accessKey", "sourceIp", "cognitoAuthenticationType",
		"cognitoAuthenticationProvider", "userArn", "userAgent", "user", "clientCert"}
	v2Fields = []string{"version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
		"queryStringParameters", "pathParameters", "requestContext", "stageVariables", "body",
		"isBase64Encoded"}
	v2ContextFields = []string{"routeKey", "accountId", "stage", "requestId", "authorizer", "apiId",
		"domainName", "domainPrefix", "time", "timeEpoch", "http", "authentication"}
	v2HTTPFields = []string{"method", "path", "protocol", "sourceIp", "userAgent"}
)

func v1(r *Reader, ev *events.APIGatewayProxyRequest) bool {
	return r.Object(v1Fields, func(key string) bool {
		switch key {
		case "resource":
			return r.String(&ev.Resource)
		case "path":
			return r.String(&ev.Path)
		case "httpMethod":
			return r.String(&ev.HTTPMethod)
		case "headers":
			return r.StringMap(&ev.Headers)
		case "multiValueHeaders":
			return r.StringsMap(&ev.MultiValueHeaders)
		case "queryStringParameters":
			return r.StringMap(&ev.QueryStringParameters)
		case "multiValueQueryStringParameters":
			return r.StringsMap(&ev.MultiValueQueryStringParameters)
		case "pathParameters":
			return r.StringMap(&ev.PathParameters)
		case "stageVariables":
			return r.StringMap(&ev.StageVariables)
		case "requestContext":
			return v1Context(r, &ev.RequestContext)
		case "body":
			return r.String(&ev.Body)
		case "isBase64Encoded":
			return r.Bool(&ev.IsBase64Encoded)
		}
		return false
	})
}

func v1Context(r *Reader, c *events.APIGatewayProxyRequestContext) bool {
	return r.Object(v1ContextFields, func(key string) bool {
		switch key {
		case "accountId":
			return r.String(&c.AccountID)
		case "resourceId":
			return r.String(&c.ResourceID)
		case "operationName":
			return r.String(&c.OperationName)
		case "stage":
			return r.String(&c.Stage)
		case "domainName":
			return r.String(&c.DomainName)
		case "domainPrefix":
			return r.String(&c.DomainPrefix)
		case "requestId":
			return r.String(&c.RequestID)
		case "extendedRequestId":
			return r.String(&c.ExtendedRequestID)
		case "protocol":
			return r.String(&c.Protocol)
		case "identity":
			return identity(r, &c.Identity)
		case "resourcePath":
			return r.String(&c.ResourcePath)
		case "path":
			return r.String(&c.Path)
		case "authorizer":
			return r.Raw(&c.Authorizer)
		case "httpMethod":
			return r.String(&c.HTTPMethod)
		case "requestTime":
			return r.String(&c.RequestTime)
		case "requestTimeEpoch":
			return r.Int64(&c.RequestTimeEpoch)
		case "apiId":
			return r.String(&c.APIID)
		}
		return false
	})
}

func identity(r *Reader, id *events.APIGatewayRequestIdentity) bool {
	return r.Object(identityFields, func(key string) bool {
		switch key {
		case "cognitoIdentityPoolId":
			return r.String(&id.CognitoIdentityPoolID)
		case "accountId":
			return r.String(&id.AccountID)
		case "cognitoIdentityId":
			return r.String(&id.CognitoIdentityID)
		case "caller":
			return r.String(&id.Caller)
		case "apiKey":
			return r.String(&id.APIKey)
		case "apiKeyId":
			return r.String(&id.APIKeyID)
		case "accessKey":
			return r.String(&id.AccessKey)
		case "sourceIp":
			return r.String(&id.SourceIP)
		case "cognitoAuthenticationType":
			return r.String(&id.CognitoAuthenticationType)
		case "cognitoAuthenticationProvider":
			return r.String(&id.CognitoAuthenticationProvider)
		case "userArn":
			return r.String(&id.UserArn)
		case "userAgent":
			return r.String(&id.UserAgent)
		case "user":
			return r.String(&id.User)
		case "clientCert":
			return r.Raw(&id.ClientCert)
		}
		return false
	})
}

func v2(r *Reader, ev *events.APIGatewayV2HTTPRequest) bool {
	return r.Object(v2Fields, func(key string) bool {
		switch key {
		case "version":
			return r.String(&ev.Version)
		case "routeKey":
			return r.String(&ev.RouteKey)
		case "rawPath":
			return r.String(&ev.RawPath)
		case "rawQueryString":
			return r.String(&ev.RawQueryString)
		case "cookies":
			return r.Strings(&ev.Cookies)
		case "headers":
			return r.StringMap(&ev.Headers)
		case "queryStringParameters":
			return r.StringMap(&ev.QueryStringParameters)
		case "pathParameters":
			return r.StringMap(&ev.PathParameters)
		case "requestContext":
			return v2Context(r, &ev.RequestContext)
		case "stageVariables":
			return r.StringMap(&ev.StageVariables)
		case "body":
			return r.String(&ev.Body)
		case "isBase64Encoded":
			return r.Bool(&ev.IsBase64Encoded)
		}
		return false
	})
}

func v2Context(r *Reader, c *events.APIGatewayV2HTTPRequestContext) bool {
	return r.Object(v2ContextFields, func(key string) bool {
		switch key {
		case "routeKey":
			return r.String(&c.RouteKey)
		case "accountId":
			return r.String(&c.AccountID)
		case "stage":
			return r.String(&c.Stage)
		case "requestId":
			return r.String(&c.RequestID)
		case "authorizer":
			return r.Raw(&c.Authorizer)
		case "apiId":
			return r.String(&c.APIID)
		case "domainName":
			return r.String(&c.DomainName)
		case "domainPrefix":
			return r.String(&c.DomainPrefix)
		case "time":
			return r.String(&c.Time)
		case "timeEpoch":
			return r.Int64(&c.TimeEpoch)
		case "http":
			return r.Object(v2HTTPFields, func(key string) bool {
				h := &c.HTTP
				switch key {
				case "method":
					return r.String(&h.Method)
				case "path":
					return r.String(&h.Path)
				case "protocol":
					return r.String(&h.Protocol)
				case "sourceIp":
					return r.String(&h.SourceIP)
				case "userAgent":
					return r.String(&h.UserAgent)
				}
				return false
			})
		case "authentication":
			return r.Raw(&c.Authentication)
		}
		return false
	})
}
