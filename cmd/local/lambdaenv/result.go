package lambdaenv

import (
	"fmt"
	"time"
)

// Result is the outcome of one invocation.
type Result struct {
	// RequestID is the Lambda request id (Lambda-Runtime-Aws-Request-Id).
	RequestID string
	// Payload is the function's response when Err is nil.
	Payload []byte
	// Err is the function error, timeout or crash; nil on success.
	Err *FunctionError
	// ColdStart reports that the invocation started its instance; InitDuration is then the
	// instance's init phase, from process start to its first request for an invocation.
	ColdStart    bool
	InitDuration time.Duration
	// Duration is the invoke phase, from delivering the event to the response.
	Duration time.Duration
	// Instance numbers the instance within its Pool, from 1.
	Instance int
	// MaxMemoryUsed is the instance's peak resident set size in bytes (VmHWM) after the
	// invocation, what Lambda's REPORT line calls Max Memory Used; set only with
	// Options.ReportMemory, on Linux, and 0 when it could not be read.
	MaxMemoryUsed int64
}

// The kinds of Outcome.
const (
	OutcomeOK      = "ok"
	OutcomeError   = "error"   // the function reported an error (/error), e.g. a Go panic
	OutcomeTimeout = "timeout" // killed at the function's timeout
	OutcomeCrash   = "crash"   // the process exited, or never finished its init phase
)

// Outcome classifies the Result: OutcomeOK, OutcomeError, OutcomeTimeout or OutcomeCrash.
func (r *Result) Outcome() string {
	switch {
	case r.Err == nil:
		return OutcomeOK
	case r.Err.Type == errTimeout:
		return OutcomeTimeout
	case r.Err.Type == errExit || r.Err.Type == errInit || r.Err.init:
		return OutcomeCrash
	}
	return OutcomeError
}

// FunctionError is a failed invocation, with the errorType and errorMessage Lambda would report.
type FunctionError struct {
	Type    string
	Message string
	// Payload is the error document the runtime posted, if it posted one.
	Payload []byte
	init    bool // reported through /runtime/init/error
}

// Error returns "Type: Message".
func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Lambda's error types for failures the runtime cannot report itself.
const (
	errTimeout = "Sandbox.Timedout"
	errExit    = "Runtime.ExitError"
	errInit    = "Runtime.InitError"
	errTooBig  = "Function.ResponseSizeTooLarge"
)

func timeoutError(id string, d time.Duration) *FunctionError {
	return &FunctionError{Type: errTimeout, Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", id, d.Seconds())}
}

func exitError(id string, err error) *FunctionError {
	reason := "Runtime exited without providing a reason"
	if err != nil {
		reason = "Runtime exited with error: " + err.Error()
	}
	return &FunctionError{Type: errExit, Message: fmt.Sprintf("RequestId: %s Error: %s", id, reason)}
}
