// Command runtime is the conformance fixture for lambdaenv: a function built on aws-lambda-go's
// own lambda.Start, so the tests see the Runtime API through the real client. The event's "op"
// picks the behaviour.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Op  string `json:"op"`
	MS  int    `json:"ms"`
	MiB int    `json:"mib"`
}

// held is what the "hold" op keeps alive: memory the process touched and still uses.
var held [][]byte

type report struct {
	Op         string            `json:"op"`
	PID        int               `json:"pid"`
	RequestID  string            `json:"requestId"`
	ARN        string            `json:"arn"`
	DeadlineMS int64             `json:"deadlineMs"`
	TraceID    string            `json:"traceId"`
	Env        map[string]string `json:"env"`
	Cwd        string            `json:"cwd"`
}

func handle(ctx context.Context, ev event) (any, error) {
	switch ev.Op {
	case "error":
		return nil, errors.New("boom")
	case "panic":
		panic("kaboom")
	case "exit":
		os.Exit(3)
	case "sleep":
		select {
		case <-time.After(time.Duration(ev.MS) * time.Millisecond):
		case <-ctx.Done(): // a well-behaved function stops at its deadline; the kill must not wait for it
			time.Sleep(time.Hour)
		}
	case "big":
		return strings.Repeat("x", 7<<20), nil
	case "hold":
		b := make([]byte, ev.MiB<<20)
		for i := range b {
			b[i] = 1
		}
		held = append(held, b)
	}
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	trace, _ := ctx.Value("x-amzn-trace-id").(string)
	cwd, _ := os.Getwd()
	return report{
		Op: ev.Op, PID: os.Getpid(), RequestID: lc.AwsRequestID, ARN: lc.InvokedFunctionArn,
		DeadlineMS: dl.UnixMilli(), TraceID: trace, Env: env, Cwd: cwd,
	}, nil
}

func main() {
	if os.Getenv("FIXTURE_INIT") == "fail" {
		// What a runtime does when its initialisation fails: report it, then exit.
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"no config","errorType":"InitConfigError"}`))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	}
	fmt.Println("init", os.Getpid())
	lambda.StartWithOptions(handle, lambda.WithEnableSIGTERM(func() {
		fmt.Println("sigterm", os.Getpid())
		os.Exit(0)
	}))
}
