package lambdahttp

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

type coldStartKey struct{}

// RequestContextV1 returns the API Gateway request context of a payload 1.0 event (REST API),
// and false when ctx is not from one.
func RequestContextV1(ctx context.Context) (events.APIGatewayProxyRequestContext, bool) {
	return core.GetAPIGatewayContextFromContext(ctx)
}

// RequestContextV2 returns the API Gateway request context of a payload 2.0 event (HTTP API),
// and false when ctx is not from one.
func RequestContextV2(ctx context.Context) (events.APIGatewayV2HTTPRequestContext, bool) {
	return core.GetAPIGatewayV2ContextFromContext(ctx)
}

// RequestID returns the API Gateway request id, the id API Gateway returns to the client in
// x-amzn-RequestId and logs in its access log, or "" outside an API Gateway invocation.
func RequestID(ctx context.Context) string {
	if rc, ok := RequestContextV1(ctx); ok {
		return rc.RequestID
	}
	if rc, ok := RequestContextV2(ctx); ok {
		return rc.RequestID
	}
	return ""
}

// SourceIP returns the client address API Gateway saw (the last hop before it, not a value the
// client can forge through X-Forwarded-For), or "" outside an API Gateway invocation. A CIDR
// suffix such as the "/32" of SAM's sample HTTP API event is removed.
func SourceIP(ctx context.Context) string {
	var ip string
	if rc, ok := RequestContextV1(ctx); ok {
		ip = rc.Identity.SourceIP
	} else if rc, ok := RequestContextV2(ctx); ok {
		ip = rc.HTTP.SourceIP
	}
	if i := strings.IndexByte(ip, '/'); i >= 0 {
		ip = ip[:i]
	}
	return ip
}

// Stage returns the API Gateway stage name ("Prod", "$default", ...), or "" outside an API
// Gateway invocation.
func Stage(ctx context.Context) string {
	if rc, ok := RequestContextV1(ctx); ok {
		return rc.Stage
	}
	if rc, ok := RequestContextV2(ctx); ok {
		return rc.Stage
	}
	return ""
}

// LambdaRequestID returns the Lambda invocation's request id (the one in the function's
// CloudWatch log lines), or "" outside a Lambda invocation.
func LambdaRequestID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return lc.AwsRequestID
	}
	return ""
}

// ColdStart reports whether this request is the first one the Handler has served in this
// execution environment, i.e. the one that paid for the environment's initialisation.
func ColdStart(ctx context.Context) bool {
	cold, _ := ctx.Value(coldStartKey{}).(bool)
	return cold
}
