package lambdaenv

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// maxResponse is Lambda's limit on a synchronous invocation's response payload.
const maxResponse = 6 << 20

// routes is the instance's Runtime API, plus the two Extensions API calls
// lambda.WithEnableSIGTERM makes to have SIGTERM delivered at shutdown.
func (in *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", in.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", in.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", in.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", in.handleInitError)
	mux.HandleFunc("POST /2020-01-01/extension/register", in.handleExtensionRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", in.handleExtensionNext)
	return mux
}

// handleNext hands the runtime its next invocation, blocking until there is one. The first call
// ends the init phase.
func (in *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	in.readyOnce.Do(func() {
		in.readyAt = time.Now()
		close(in.ready)
	})
	select {
	case inv := <-in.next:
		in.mu.Lock()
		in.current = inv
		in.mu.Unlock()
		// The names are in canonical form, so assigning them is what Set does. The values that
		// never change are shared slices (net/http only reads them), and the others share one
		// array, each capped at its own element so that nothing appended runs into the next.
		vals := [...]string{inv.id, strconv.FormatInt(inv.deadline.UnixMilli(), 10), inv.traceID}
		perInvocation := vals[:] // one allocation for the three
		h := w.Header()
		h["Lambda-Runtime-Aws-Request-Id"] = perInvocation[0:1:1]
		h["Lambda-Runtime-Deadline-Ms"] = perInvocation[1:2:2]
		h["Lambda-Runtime-Invoked-Function-Arn"] = in.pool.arn
		h["Lambda-Runtime-Trace-Id"] = perInvocation[2:3:3]
		h["Content-Type"] = jsonContentType
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done(): // the process went away
	}
}

// lookup returns the invocation the runtime is working on if id names it, or answers the
// runtime with Lambda's error and returns nil.
func (in *instance) lookup(w http.ResponseWriter, id string) *invocation {
	in.mu.Lock()
	inv := in.current
	in.mu.Unlock()
	if inv == nil || inv.id != id {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("Invalid request ID: %q", id))
		return nil
	}
	return inv
}

func (in *instance) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := in.lookup(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	body, err := readResponse(r.Body)
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	var fe *FunctionError
	switch {
	case len(body) > maxResponse:
		fe = &FunctionError{Type: errTooBig, Message: fmt.Sprintf(
			"Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponse)}
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// aws-lambda-go reports an error met while streaming the body in trailers.
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
		fe = functionError(r.Trailer.Get("Lambda-Runtime-Function-Error-Type"), doc)
	}
	if !inv.complete(body, fe) {
		runtimeError(w, http.StatusBadRequest, "InvalidStateTransition", "the invocation already has an outcome")
		return
	}
	if fe != nil && fe.Type == errTooBig {
		runtimeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fe.Message)
		return
	}
	accepted(w)
}

func (in *instance) handleError(w http.ResponseWriter, r *http.Request) {
	inv := in.lookup(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	doc, _ := io.ReadAll(io.LimitReader(r.Body, maxResponse))
	if !inv.complete(nil, functionError(r.Header.Get("Lambda-Runtime-Function-Error-Type"), doc)) {
		runtimeError(w, http.StatusBadRequest, "InvalidStateTransition", "the invocation already has an outcome")
		return
	}
	accepted(w)
}

func (in *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	doc, _ := io.ReadAll(io.LimitReader(r.Body, maxResponse))
	fe := functionError(r.Header.Get("Lambda-Runtime-Function-Error-Type"), doc)
	if fe.Type == "Unhandled" {
		fe.Type = errInit
	}
	fe.init = true
	in.mu.Lock()
	in.initErr = fe
	in.mu.Unlock()
	accepted(w)
}

// handleExtensionRegister accepts the internal extension aws-lambda-go registers so that the
// runtime receives SIGTERM at shutdown.
func (in *instance) handleExtensionRegister(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Lambda-Extension-Identifier", uuid.NewString())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName": in.pool.spec.Name, "functionVersion": "$LATEST", "handler": in.pool.spec.Handler,
	})
}

// handleExtensionNext never returns an event: the extension registers for none, and at shutdown
// the runtime gets SIGTERM. It ends when the process does.
func (in *instance) handleExtensionNext(w http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
}

// functionError reads an error document ({"errorMessage", "errorType", "stackTrace"}).
func functionError(typ string, doc []byte) *FunctionError {
	fe := &FunctionError{Type: typ, Payload: doc}
	var e struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal(doc, &e) == nil {
		fe.Message = e.Message
		if e.Type != "" {
			fe.Type = e.Type
		}
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

// jsonContentType is a Content-Type header value for every JSON answer; see handleNext.
var jsonContentType = []string{"application/json"}

// readBufs holds buffers for readResponse.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// readResponse reads a response body of up to maxResponse+1 bytes (one more than allowed, to
// tell an oversized body), as io.ReadAll(io.LimitReader(body, maxResponse+1)) does. aws-lambda-go
// streams the body without a length, so it is read into a pooled buffer and copied out once,
// at its size, rather than through a slice that grows as it goes.
func readResponse(body io.Reader) ([]byte, error) {
	bp := readBufs.Get().(*[]byte)
	b := (*bp)[:0]
	var err error
	for len(b) <= maxResponse {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(max(cap(b), 512), maxResponse+1-len(b)))
		}
		var n int
		n, err = body.Read(b[len(b):min(cap(b), maxResponse+1)])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	if err == io.EOF {
		err = nil
	}
	out := append([]byte{}, b...)
	if cap(b) <= 256<<10 { // a rare large response's buffer is left to the collector
		*bp = b[:0]
		readBufs.Put(bp)
	}
	return out, err
}

func accepted(w http.ResponseWriter) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}
