package lambdahttp

import (
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// Option configures Start.
type Option func(*startOptions)

type startOptions struct {
	shutdown []func()
}

// WithShutdown registers functions to run when the execution environment shuts down (Lambda
// sends SIGTERM before it reclaims an environment), e.g. closing the database pools so the
// pooler sees clean disconnects rather than dropped connections. They run in order, on a
// signal-handling goroutine, and must finish within Lambda's shutdown grace period (500 ms);
// then the process exits with status 0, as AWS's graceful-shutdown examples do, rather than
// idling until the SIGKILL that follows.
func WithShutdown(fns ...func()) Option {
	return func(o *startOptions) { o.shutdown = append(o.shutdown, fns...) }
}

// Start serves h as this process's Lambda function and never returns. It needs the Lambda
// Runtime API (AWS_LAMBDA_RUNTIME_API): in Lambda, under `sam local`, or under cmd/local.
func Start(h http.Handler, opts ...Option) {
	var o startOptions
	for _, opt := range opts {
		opt(&o)
	}
	var lopts []lambda.Option
	if len(o.shutdown) > 0 {
		// SIGTERM is only delivered to runtimes that register an extension, which this option
		// does through the Extensions API; without callbacks there is nothing to run, so skip it.
		lopts = append(lopts, lambda.WithEnableSIGTERM(exitAfter(o.shutdown)))
	}
	lambda.StartWithOptions(New(h), lopts...)
}

// exitAfter runs fns and ends the process.
func exitAfter(fns []func()) func() {
	return func() {
		for _, f := range fns {
			f()
		}
		os.Exit(0)
	}
}
