// Command echo is the test function of cmd/local's end-to-end tests: an http.Handler served by
// shared/lambdahttp, the way the project's functions are, that reports what it received.
package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"scaleapi/shared/lambdahttp"
)

type report struct {
	PID             int                 `json:"pid"`
	Method          string              `json:"method"`
	Path            string              `json:"path"`
	Query           map[string][]string `json:"query"`
	Header          map[string][]string `json:"header"`
	Cookies         []string            `json:"cookies"`
	RequestID       string              `json:"requestId"`
	LambdaRequestID string              `json:"lambdaRequestId"`
	SourceIP        string              `json:"sourceIp"`
	Stage           string              `json:"stage"`
	ColdStart       bool                `json:"coldStart"`
	DeadlineInMS    int64               `json:"deadlineInMs"`
	Env             map[string]string   `json:"env"`
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var deadline int64
		if dl, ok := ctx.Deadline(); ok {
			deadline = time.Until(dl).Milliseconds()
		}
		var cookies []string
		for _, c := range r.Cookies() {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(report{
			PID: os.Getpid(), Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header,
			Cookies: cookies, RequestID: lambdahttp.RequestID(ctx), LambdaRequestID: lambdahttp.LambdaRequestID(ctx),
			SourceIP: lambdahttp.SourceIP(ctx), Stage: lambdahttp.Stage(ctx), ColdStart: lambdahttp.ColdStart(ctx),
			DeadlineInMS: deadline,
			Env:          map[string]string{"GREETING": os.Getenv("GREETING"), "FROM_HOST": os.Getenv("FROM_HOST"), "FROM_FILE": os.Getenv("FROM_FILE")},
		})
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		_, _ = w.Write(body)
	})
	cookies := func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.WriteHeader(http.StatusNoContent)
	}
	mux.HandleFunc("/cookies", cookies)
	mux.HandleFunc("/v2/cookies", cookies)
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		panic("test panic")
	})
	sleep := func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond) // deliberately ignores the deadline
		_, _ = w.Write([]byte(strconv.Itoa(os.Getpid())))
	}
	mux.HandleFunc("/sleep", sleep)
	mux.HandleFunc("/v2/sleep", sleep)
	lambdahttp.Start(mux, lambdahttp.WithShutdown(func() { os.Stdout.WriteString("shutdown\n") }))
}
