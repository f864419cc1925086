// Package lambdamain is the process-level part of every function's main: the two things a
// program may do and a library must not, kept out of shared/. shared/platform builds clients and
// shared/lambdahttp serves a handler; neither sets the process's default logger nor ends the
// process, so their callers (these mains, the functions' tests, cmd/local's fixtures) decide
// that. Run does it for a function:
//
//   - the function's logger becomes slog's default, so that a package logging through
//     slog.Default() writes the function's JSON lines;
//   - a failed init (configuration, a client, the function's own wiring) is logged as one JSON
//     line on stderr, whatever newlines the error holds, and the process exits 1, which Lambda
//     reports as an init error;
//   - at shutdown (SIGTERM, after the clients are closed) lambdahttp.Start returns, Run returns,
//     and main returning ends the process with status 0.
//
// It lives under functions/internal because only the functions' mains may call it.
package lambdamain

import (
	"context"
	"log/slog"
	"os"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/metrics"
	"scaleapi/shared/platform"
)

// Run runs a function: it builds the clients f.Needs asks for from the environment, builds the
// function's handler from them with f.Build, and serves it until the execution environment
// shuts down. It exits the process with status 1 if any of the building fails.
func Run(f function.Function) {
	if err := run(f); err != nil {
		log := metrics.NewLogger(os.Stderr, slog.LevelError, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
}

// run is Run up to the exit: it returns the init error, or nil after the shutdown.
func run(f function.Function) error {
	d, err := platform.Build(context.Background(), os.LookupEnv, os.Stdout, f.Needs)
	if err != nil {
		return err
	}
	slog.SetDefault(d.Log)
	h, err := f.Build(d)
	if err != nil {
		d.Close()
		return err
	}
	lambdahttp.Start(d.Handler(h), lambdahttp.WithShutdown(d.Close))
	return nil
}
