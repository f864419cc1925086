package lambdahttp

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invocation is what an invocation's context carries for the accessors below: one context value
// rather than one per item, since handlers look them up on every request.
type invocation struct {
	cold bool
	v1   *events.APIGatewayProxyRequestContext  // payload 1.0, else nil
	v2   *events.APIGatewayV2HTTPRequestContext // payload 2.0, else nil
}

type invocationKey struct{}

func invocationFrom(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invocationKey{}).(*invocation)
	return inv
}

// RequestContextV1 returns the API Gateway request context of a payload 1.0 event (REST API),
// and false when ctx is not from one.
func RequestContextV1(ctx context.Context) (events.APIGatewayProxyRequestContext, bool) {
	if inv := invocationFrom(ctx); inv != nil && inv.v1 != nil {
		return *inv.v1, true
	}
	return events.APIGatewayProxyRequestContext{}, false
}

// RequestContextV2 returns the API Gateway request context of a payload 2.0 event (HTTP API),
// and false when ctx is not from one.
func RequestContextV2(ctx context.Context) (events.APIGatewayV2HTTPRequestContext, bool) {
	if inv := invocationFrom(ctx); inv != nil && inv.v2 != nil {
		return *inv.v2, true
	}
	return events.APIGatewayV2HTTPRequestContext{}, false
}

// RequestID returns the API Gateway request id, the id API Gateway returns to the client in
// x-amzn-RequestId and logs in its access log, or "" outside an API Gateway invocation.
func RequestID(ctx context.Context) string {
	switch inv := invocationFrom(ctx); {
	case inv == nil:
	case inv.v1 != nil:
		return inv.v1.RequestID
	case inv.v2 != nil:
		return inv.v2.RequestID
	}
	return ""
}

// SourceIP returns the client address API Gateway saw (the last hop before it, not a value the
// client can forge through X-Forwarded-For), or "" outside an API Gateway invocation. A CIDR
// suffix such as the "/32" of SAM's sample HTTP API event is removed.
func SourceIP(ctx context.Context) string {
	var ip string
	switch inv := invocationFrom(ctx); {
	case inv == nil:
	case inv.v1 != nil:
		ip = inv.v1.Identity.SourceIP
	case inv.v2 != nil:
		ip = inv.v2.HTTP.SourceIP
	}
	if i := strings.IndexByte(ip, '/'); i >= 0 {
		ip = ip[:i]
	}
	return ip
}

// Stage returns the API Gateway stage name ("Prod", "$default", ...), or "" outside an API
// Gateway invocation.
func Stage(ctx context.Context) string {
	switch inv := invocationFrom(ctx); {
	case inv == nil:
	case inv.v1 != nil:
		return inv.v1.Stage
	case inv.v2 != nil:
		return inv.v2.Stage
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
	inv := invocationFrom(ctx)
	return inv != nil && inv.cold
}
