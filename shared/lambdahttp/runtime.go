package lambdahttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// The Runtime API client.
//
// aws-lambda-go's lambda.Start talks to the Runtime API through net/http's client: per
// invocation a GET for the event and a POST for the response, each through the Transport's
// connection goroutines (a reader and a writer handing every response and request over
// channels), with the request built and the response headers parsed into maps. For a cached
// read that was about a quarter of the function's CPU, more than the handler's own work.
//
// runtimeClient speaks the same protocol (HTTP/1.1 to AWS_LAMBDA_RUNTIME_API, API version
// 2018-06-01) over one kept-alive connection, from the invoking goroutine: it writes each
// request with one write and reads the reply with a bufio.Reader, picking out the headers the
// loop needs. Everything else is aws-lambda-go's: the invocation's context carries a
// lambdacontext.LambdaContext and the deadline, _X_AMZN_TRACE_ID and the "x-amzn-trace-id"
// context value carry the trace header, errors are reported as messages.InvokeResponse_Error
// documents, a panic is reported and ends the process, and WithShutdown registers the same
// internal extension (GoLangEnableSIGTERM) that lambda.WithEnableSIGTERM does.

// runtimeAPIVersion is the Runtime API's path prefix.
const runtimeAPIVersion = "/2018-06-01/runtime/invocation/"

// maxHeaderBytes bounds a reply's status line and headers.
const maxHeaderBytes = 64 << 10

// runtimeClient is a connection to the Runtime API. It is used by one goroutine.
type runtimeClient struct {
	addr      string // host:port
	userAgent string
	conn      net.Conn
	r         *bufio.Reader
	wbuf      []byte
	reused    bool // conn has carried a request already
}

func newRuntimeClient(addr string) *runtimeClient {
	return &runtimeClient{addr: addr, userAgent: "aws-lambda-go/" + runtime.Version()}
}

// reply is what the loop needs of a Runtime API reply.
type reply struct {
	status int
	body   []byte
	// The invocation's headers (GET .../next).
	requestID, deadlineMS, functionARN, traceID, clientContext, cognitoIdentity, tenantID string
	close                                                                                 bool
}

// header is one extra request header.
type header struct{ name, value string }

// do sends one request and reads its reply. A request on a kept-alive connection that fails
// before any of the reply has arrived (the server closed the idle connection) is sent once
// more on a new connection, as net/http's Transport does.
func (c *runtimeClient) do(method, path string, hdrs []header, body []byte) (*reply, error) {
	for attempt := 0; ; attempt++ {
		if c.conn == nil {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				return nil, err
			}
			c.conn, c.r, c.reused = conn, bufio.NewReaderSize(conn, 16<<10), false
		}
		reused := c.reused
		c.reused = true
		rep, started, err := c.roundTrip(method, path, hdrs, body)
		if err == nil {
			if rep.close {
				c.closeConn()
			}
			return rep, nil
		}
		c.closeConn()
		if !reused || started || attempt > 0 {
			return nil, err
		}
	}
}

func (c *runtimeClient) closeConn() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.r = nil, nil
	}
}

// roundTrip writes the request and reads the reply; started reports whether any of the reply
// was read.
func (c *runtimeClient) roundTrip(method, path string, hdrs []header, body []byte) (rep *reply, started bool, err error) {
	b := c.wbuf[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.addr...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, c.userAgent...)
	for _, h := range hdrs {
		b = append(b, "\r\n"...)
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = append(b, h.value...)
	}
	if method != http.MethodGet {
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
	}
	b = append(b, "\r\n\r\n"...)
	if len(body) <= 64<<10 {
		b = append(b, body...)
		body = nil
	}
	c.wbuf = b
	if cap(c.wbuf) > 256<<10 {
		c.wbuf = nil // don't keep a large response's buffer
	}
	if _, err := c.conn.Write(b); err != nil {
		return nil, false, err
	}
	if len(body) > 0 {
		if _, err := c.conn.Write(body); err != nil {
			return nil, false, err
		}
	}
	if _, err := c.r.Peek(1); err != nil {
		return nil, false, err
	}
	rep, err = c.readReply(method)
	return rep, true, err
}

// readReply reads a reply's status line, headers and body (Content-Length or chunked).
func (c *runtimeClient) readReply(method string) (*reply, error) {
	rep := &reply{}
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	// "HTTP/1.1 200 OK"
	proto, rest, ok := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	if rep.status, err = strconv.Atoi(code); err != nil {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	rep.close = proto == "HTTP/1.0"
	length, chunked := int64(-1), false
	for n := len(line); ; {
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		if n += len(line); n > maxHeaderBytes {
			return nil, errors.New("reply headers too large")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", line)
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", value)
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			chunked = strings.EqualFold(value, "chunked")
		case strings.EqualFold(name, "Connection"):
			rep.close = rep.close || strings.EqualFold(value, "close")
		case strings.EqualFold(name, "Lambda-Runtime-Aws-Request-Id"):
			rep.requestID = value
		case strings.EqualFold(name, "Lambda-Runtime-Deadline-Ms"):
			rep.deadlineMS = value
		case strings.EqualFold(name, "Lambda-Runtime-Invoked-Function-Arn"):
			rep.functionARN = value
		case strings.EqualFold(name, "Lambda-Runtime-Trace-Id"):
			rep.traceID = value
		case strings.EqualFold(name, "Lambda-Runtime-Client-Context"):
			rep.clientContext = value
		case strings.EqualFold(name, "Lambda-Runtime-Cognito-Identity"):
			rep.cognitoIdentity = value
		case strings.EqualFold(name, "Lambda-Runtime-Aws-Tenant-Id"):
			rep.tenantID = value
		}
	}
	switch {
	case method == http.MethodHead || rep.status == http.StatusNoContent || rep.status == http.StatusNotModified:
	case chunked:
		if rep.body, err = io.ReadAll(httputil.NewChunkedReader(c.r)); err != nil {
			return nil, err
		}
		for { // trailers, up to the empty line that ends them
			line, err := c.line()
			if err != nil {
				return nil, err
			}
			if line == "" {
				break
			}
		}
	case length >= 0:
		rep.body = make([]byte, length)
		if _, err := io.ReadFull(c.r, rep.body); err != nil {
			return nil, err
		}
	default: // the body runs to the end of the connection
		if rep.body, err = io.ReadAll(c.r); err != nil {
			return nil, err
		}
		rep.close = true
	}
	return rep, nil
}

// line reads one CRLF- (or LF-) terminated line without its terminator.
func (c *runtimeClient) line() (string, error) {
	b, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", errors.New("reply line too long")
	}
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b[:len(b)-1], []byte{'\r'})
	return string(b), nil
}

// next waits for the next invocation.
func (c *runtimeClient) next() (*reply, error) {
	rep, err := c.do(http.MethodGet, runtimeAPIVersion+"next", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to get the next invoke: %v", err)
	}
	if rep.status != http.StatusOK {
		return nil, fmt.Errorf("failed to GET %snext: got unexpected status code: %d", runtimeAPIVersion, rep.status)
	}
	return rep, nil
}

// post sends an invocation's response or error.
func (c *runtimeClient) post(path string, hdrs []header, body []byte) error {
	rep, err := c.do(http.MethodPost, path, hdrs, body)
	if err != nil {
		return fmt.Errorf("failed to POST to %s: %v", path, err)
	}
	if rep.status != http.StatusAccepted {
		return fmt.Errorf("failed to POST to %s: got unexpected status code: %d", path, rep.status)
	}
	return nil
}

// invokeFunc is what the loop runs: lambda.Handler's Invoke.
type invokeFunc func(ctx context.Context, payload []byte) ([]byte, error)

// serve runs the invocation loop until the Runtime API fails or an invocation panics.
func serve(c *runtimeClient, invoke invokeFunc) error {
	for {
		rep, err := c.next()
		if err != nil {
			return err
		}
		if err := handle(c, rep, invoke); err != nil {
			return err
		}
	}
}

// handle runs one invocation and reports its outcome, as aws-lambda-go's handleInvoke does.
func handle(c *runtimeClient, rep *reply, invoke invokeFunc) error {
	base := runtimeAPIVersion + rep.requestID
	ms, err := strconv.ParseInt(rep.deadlineMS, 10, 64)
	if err != nil {
		return reportFailure(c, base, errorResponse(fmt.Errorf("failed to parse deadline: %v", err)))
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.UnixMilli(ms))
	defer cancel()
	lc := lambdacontext.LambdaContext{
		AwsRequestID:       rep.requestID,
		InvokedFunctionArn: rep.functionARN,
		TenantID:           rep.tenantID,
	}
	if rep.clientContext != "" {
		if err := json.Unmarshal([]byte(rep.clientContext), &lc.ClientContext); err != nil {
			return reportFailure(c, base, errorResponse(fmt.Errorf("failed to unmarshal client context json: %v", err)))
		}
	}
	if rep.cognitoIdentity != "" {
		if err := json.Unmarshal([]byte(rep.cognitoIdentity), &lc.Identity); err != nil {
			return reportFailure(c, base, errorResponse(fmt.Errorf("failed to unmarshal cognito identity json: %v", err)))
		}
	}
	ctx = lambdacontext.NewContext(ctx, &lc)
	if lambdacontext.MaxConcurrency() == 1 {
		_ = os.Setenv("_X_AMZN_TRACE_ID", rep.traceID)
	}
	// The key is a plain string because that is what the X-Ray SDK and aws-lambda-go use.
	//nolint:staticcheck
	ctx = context.WithValue(ctx, "x-amzn-trace-id", rep.traceID)

	resp, ierr := call(ctx, invoke, rep.body)
	if ierr != nil {
		if err := reportFailure(c, base, ierr); err != nil {
			return err
		}
		if ierr.ShouldExit {
			return errors.New("calling the handler function resulted in a panic, the process should exit")
		}
		return nil
	}
	if err := c.post(base+"/response", []header{{"Content-Type", "application/octet-stream"}}, resp); err != nil {
		return fmt.Errorf("unexpected error occurred when sending the function functionResponse to the API: %v", err)
	}
	return nil
}

// call runs invoke, turning an error or a panic into the document Lambda reports.
func call(ctx context.Context, invoke invokeFunc, payload []byte) (resp []byte, ierr *messages.InvokeResponse_Error) {
	defer func() {
		if p := recover(); p != nil {
			ierr = panicResponse(p)
		}
	}()
	resp, err := invoke(ctx, payload)
	if err != nil {
		return nil, errorResponse(err)
	}
	return resp, nil
}

// reportFailure posts an invocation's error document, and logs it as aws-lambda-go does.
func reportFailure(c *runtimeClient, base string, ierr *messages.InvokeResponse_Error) error {
	doc, err := json.Marshal(ierr)
	if err != nil {
		doc, _ = json.Marshal(messages.InvokeResponse_Error{Type: "Runtime.SerializationError", Message: err.Error()})
	}
	log.Printf("%s", doc)
	hdrs := []header{{"Content-Type", "application/json"}, {"Lambda-Runtime-Function-Error-Type", ierr.Type}}
	if err := c.post(base+"/error", hdrs, doc); err != nil {
		return fmt.Errorf("unexpected error occurred when sending the function error to the API: %v", err)
	}
	return nil
}

// errorResponse is aws-lambda-go's document for an error: its message, and its type's name.
func errorResponse(err error) *messages.InvokeResponse_Error {
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	return &messages.InvokeResponse_Error{Message: err.Error(), Type: typeName(err)}
}

// panicResponse is the document for a panic: its value, type and stack, and the instruction to
// end the process, which may be in a broken state.
func panicResponse(p any) *messages.InvokeResponse_Error {
	if ive, ok := p.(messages.InvokeResponse_Error); ok {
		return &ive
	}
	pcs := make([]uintptr, 64)
	n := runtime.Callers(4, pcs) // above panicResponse, the deferred func and gopanic
	frames := runtime.CallersFrames(pcs[:n])
	var stack []*messages.InvokeResponse_Error_StackFrame
	for {
		f, more := frames.Next()
		stack = append(stack, &messages.InvokeResponse_Error_StackFrame{Path: f.File, Line: int32(f.Line), Label: f.Function})
		if !more {
			break
		}
	}
	return &messages.InvokeResponse_Error{Message: fmt.Sprintf("%v", p), Type: typeName(p), StackTrace: stack, ShouldExit: true}
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// enableSIGTERM runs fns on SIGTERM, and registers an extension so that Lambda sends SIGTERM
// before it reclaims the environment (it sends one only to runtimes with extensions). The
// extension asks for no events, so its event/next never answers; the call has to be made all
// the same, to end the extension's init. Both calls go through net/http: they happen once.
func enableSIGTERM(addr string, fns func()) {
	signaled := make(chan os.Signal, 1)
	signal.Notify(signaled, syscall.SIGTERM)
	go func() {
		<-signaled
		fns()
	}()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	base := "http://" + addr + "/2020-01-01/extension/"
	req, _ := http.NewRequest(http.MethodPost, base+"register", strings.NewReader(`{"events":[]}`))
	req.Header.Set("Lambda-Extension-Name", "GoLangEnableSIGTERM")
	res, err := client.Do(req)
	if err != nil {
		log.Printf("WARNING! Failed to register internal extension! SIGTERM events may not be enabled! err: %v", err)
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		log.Printf("WARNING! Failed to register internal extension! SIGTERM events may not be enabled! status: %d", res.StatusCode)
		return
	}
	id := res.Header.Get("Lambda-Extension-Identifier")
	go func() {
		req, _ := http.NewRequest(http.MethodGet, base+"event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		res, err := client.Do(req)
		if err == nil {
			_ = res.Body.Close()
		}
		log.Printf("WARNING! Reached expected unreachable code! Extension /next call expected to block forever! err: %v", err)
	}()
}
