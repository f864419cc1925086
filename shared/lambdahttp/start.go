package lambdahttp

import (
	"net/http"

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
// signal-handling goroutine, and must finish within Lambda's shutdown grace period (500 ms).
// Then Start returns, and the process must end: aws-lambda-go has taken SIGTERM over, so a
// process that went on would idle until the SIGKILL that follows. main returning ends it with
// status 0, as AWS's graceful-shutdown examples exit.
func WithShutdown(fns ...func()) Option {
	return func(o *startOptions) { o.shutdown = append(o.shutdown, fns...) }
}

// Start serves h as this process's Lambda function. It needs the Lambda Runtime API
// (AWS_LAMBDA_RUNTIME_API): in Lambda, under `sam local`, or under cmd/local. Without
// WithShutdown it never returns; with it, it returns once the shutdown functions have run at
// SIGTERM, and the caller, main, returns to end the process (see WithShutdown). Ending the
// process is main's to do, not this package's: a library that exits takes the decision away
// from the program that runs it (and from its tests).
func Start(h http.Handler, opts ...Option) {
	var o startOptions
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.shutdown) == 0 {
		lambda.StartWithOptions(New(h))
		return
	}
	// SIGTERM is only delivered to runtimes that register an extension, which this option does
	// through the Extensions API; without callbacks there is nothing to run, so it is skipped.
	done := make(chan struct{})
	go lambda.StartWithOptions(New(h), lambda.WithEnableSIGTERM(func() {
		for _, f := range o.shutdown {
			f()
		}
		close(done)
	}))
	<-done
}
