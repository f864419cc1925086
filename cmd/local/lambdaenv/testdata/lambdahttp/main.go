// Command lambdahttp is the second conformance fixture for lambdaenv: a function built on
// shared/lambdahttp's Start, whose Runtime API client is its own, so the tests see the Runtime API
// through both clients. The request's path picks the behaviour.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"scaleapi/shared/lambdahttp"
)

type report struct {
	PID        int    `json:"pid"`
	RequestID  string `json:"requestId"`
	ARN        string `json:"arn"`
	DeadlineMS int64  `json:"deadlineMs"`
	TraceID    string `json:"traceId"`
	TraceEnv   string `json:"traceEnv"`
	BodyLen    int    `json:"bodyLen"`
}

func main() {
	fmt.Println("init", os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(report{
			PID: os.Getpid(), RequestID: lc.AwsRequestID, ARN: lc.InvokedFunctionArn, DeadlineMS: dl.UnixMilli(),
			TraceID: trace, TraceEnv: os.Getenv("_X_AMZN_TRACE_ID"), BodyLen: len(body),
		})
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	mux.HandleFunc("/exit", func(http.ResponseWriter, *http.Request) { os.Exit(3) })
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	})
	lambdahttp.Start(mux, lambdahttp.WithShutdown(func() { fmt.Println("sigterm", os.Getpid()) }))
}
