// Package fault holds the project's one error type. Every layer speaks it: stores translate driver
// errors into it, services add rules, and the HTTP layer maps its Code to a status in one place
// (shared/api). Clients only ever see Message; the wrapped cause goes to the log line.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error; shared/api maps each Code to exactly one HTTP status.
type Code string

// The codes, with the HTTP status shared/api gives each.
const (
	Internal         Code = "internal"           // 500: a bug or an unexpected failure
	BadRequest       Code = "bad_request"        // 400: bad syntax, unknown field, operator or relation
	Unauthenticated  Code = "unauthenticated"    // 401: no, invalid or expired credentials
	Forbidden        Code = "forbidden"          // 403: a member whose role does not allow the action
	NotFound         Code = "not_found"          // 404: not found, or not the caller's
	MethodNotAllowed Code = "method_not_allowed" // 405: the path exists, the method does not
	Conflict         Code = "conflict"           // 409: duplicate, or an idempotency key in flight
	Precondition     Code = "precondition"       // 412: If-Match names a stale version
	TooLarge         Code = "too_large"          // 413: request body over the limit
	UnsupportedType  Code = "unsupported_type"   // 415: not JSON
	Invalid          Code = "invalid"            // 422: validation failed; Fields says where
	RateLimited      Code = "rate_limited"       // 429: RetryAfter says when to come back
	Unavailable      Code = "unavailable"        // 503: a dependency is down; RetryAfter says when to retry
	Retry            Code = "retry"              // a serialization failure or deadlock: safe to run again
)

// FieldError names one invalid input field and why it is invalid.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the project's error. Message is safe to show to a client; Err is the cause, for logs.
type Error struct {
	Code       Code
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration
	Err        error
}

// Error returns the message and, when present, the cause.
func (e *Error) Error() string {
	if e.Err != nil {
		if e.Message == "" {
			return string(e.Code) + ": " + e.Err.Error()
		}
		return e.Message + ": " + e.Err.Error()
	}
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, fault.E(code, "")) true for any error of the same code: the zero-message
// values below (ErrNotFound, ...) are sentinels that match by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels, matched by code with errors.Is.
var (
	ErrNotFound     = &Error{Code: NotFound}
	ErrConflict     = &Error{Code: Conflict}
	ErrPrecondition = &Error{Code: Precondition}
	ErrUnavailable  = &Error{Code: Unavailable}
	ErrRetry        = &Error{Code: Retry}
)

// E builds an error with a code and a client-safe message.
func E(code Code, format string, args ...any) *Error {
	if len(args) > 0 {
		format = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: format}
}

// Wrap builds an error with a code, a client-safe message and a cause kept for the log.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// Invalidf builds a 422 error for one field.
func Invalidf(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: Invalid, Message: "validation failed", Fields: []FieldError{{Field: field, Message: msg}}}
}

// CodeOf returns the Code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain, or a new Internal error wrapping err.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "internal error", Err: err}
}
