// Package api is the HTTP plumbing every function shares: routing on http.ServeMux patterns,
// JSON decoding with limits, validation, RFC 9457 problem+json errors, and the middleware that
// gives each request an id, recovers panics and records one log line and one set of metrics.
//
// Handlers stay thin: decode → validate → one service call → encode. Errors travel as
// *fault.Error and become HTTP statuses in exactly one place, statusOf.
package api

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"scaleapi/shared/fault"
)

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type     string             `json:"type"`
	Title    string             `json:"title"`
	Status   int                `json:"status"`
	Detail   string             `json:"detail,omitempty"`
	Instance string             `json:"instance,omitempty"`
	Errors   []fault.FieldError `json:"errors,omitempty"`
}

// statusOf is the one mapping from error codes to HTTP statuses.
func statusOf(c fault.Code) int {
	switch c {
	case fault.BadRequest:
		return http.StatusBadRequest
	case fault.Unauthenticated:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case fault.Conflict:
		return http.StatusConflict
	case fault.Precondition:
		return http.StatusPreconditionFailed
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.UnsupportedType:
		return http.StatusUnsupportedMediaType
	case fault.Invalid:
		return http.StatusUnprocessableEntity
	case fault.RateLimited:
		return http.StatusTooManyRequests
	case fault.Unavailable, fault.Retry:
		// A serialization failure that survived the transaction helper's retries is, to the
		// client, a busy dependency: retrying soon is the right move.
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// StatusOf returns the HTTP status WriteError would answer err with.
func StatusOf(err error) int { return statusOf(fault.CodeOf(err)) }

// WriteError answers with err as problem+json. A 5xx never carries the cause: the client gets a
// generic detail and the request's log line gets the error (see Observe).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := fault.As(err)
	status := statusOf(e.Code)
	p := Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: e.Message,
		Errors: e.Fields,
	}
	if status >= 500 {
		p.Errors = nil
		if status == http.StatusServiceUnavailable {
			p.Detail = "a dependency is unavailable; retry shortly"
		} else {
			p.Detail = "internal error"
		}
	}
	if e.RetryAfter > 0 || status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		secs := int(math.Ceil(e.RetryAfter.Seconds()))
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if r != nil {
		if info := infoFrom(r.Context()); info != nil && info.err == nil {
			info.err = err
		}
		if id := RequestID(r.Context()); id != "" {
			p.Instance = "urn:request:" + id
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		slog.Debug("write problem", "err", err)
	}
}

// WriteJSON answers with v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every response type is ours; failing to encode one is a bug.
		WriteError(w, nil, fault.Wrap(fault.Internal, err, "internal error"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	b = append(b, '\n')
	_, _ = w.Write(b)
}

// WriteRaw answers with an already-encoded JSON document (a cached response, for example).
func WriteRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
