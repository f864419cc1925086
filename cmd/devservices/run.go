package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"scaleapi/shared/devservices"
)

// runCommand implements `devservices run`. It returns the command's exit status, 128+n if the
// command was killed by signal n, and 1 if the stack failed to start or a server had crashed by
// the end (a crashed server fails the run even if the tests happened to pass).
func runCommand(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for the servers' files (default: a temporary directory, removed at the end)")
	logPath := fs.String("log", "", "append the servers' output to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprint(stderr, "devservices run: no command\n"+usage)
		return 2
	}
	var log io.Writer
	if *logPath != "" {
		if err := os.MkdirAll(filepath.Dir(*logPath), 0o755); err != nil { // #nosec G301 -- the directory of the developer's -log file
			fmt.Fprintf(stderr, "devservices run: %v\n", err)
			return 1
		}
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644) // #nosec G302 G304 -- the developer's -log file, a log like any other
		if err != nil {
			fmt.Fprintf(stderr, "devservices run: %v\n", err)
			return 1
		}
		defer f.Close()
		log = f
	}

	// Signals: while the stack starts, one aborts the start; once the command runs, they are
	// passed on to it and the stack is stopped after it exits. A Ctrl-C in a terminal reaches the
	// command directly too (same process group); a second copy is harmless.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// startCtx is the stack's lifetime as far as Start is concerned; it is cancelled only by a
	// signal before the command runs. Afterwards the stack is stopped explicitly, after the
	// command, so a signal meant for the tests does not pull the servers from under them.
	startCtx, cancelStart := context.WithCancel(context.Background())
	defer cancelStart()
	var (
		mu      sync.Mutex
		started bool
		child   *os.Process
	)
	go func() {
		for sig := range sigs {
			mu.Lock()
			switch {
			case child != nil:
				_ = child.Signal(sig)
			case !started:
				cancelStart()
			}
			mu.Unlock()
		}
	}()

	began := time.Now()
	s, err := devservices.Start(startCtx, devservices.Full(*dir, log))
	if err != nil {
		fmt.Fprintf(stderr, "devservices run: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "devservices: stack up in %v (%s)\n", time.Since(began).Round(time.Millisecond), s.Dir)

	cmd := exec.Command(argv[0], argv[1:]...) // #nosec G204 -- running the developer's command is what `devservices run -- cmd` is for
	cmd.Env = append(os.Environ(), s.Env()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// One critical section from "started" to "child is set": a signal in between waits for it
	// and is then passed on, instead of being lost.
	mu.Lock()
	started = true
	interrupted := startCtx.Err() != nil
	if !interrupted {
		err = cmd.Start()
		if err == nil {
			child = cmd.Process
		}
	}
	mu.Unlock()
	code := 0
	switch {
	case interrupted:
		fmt.Fprintln(stderr, "devservices run: interrupted before the command started")
		code = 130
	case err != nil:
		fmt.Fprintf(stderr, "devservices run: %v\n", err)
		code = 127
	default:
		code = exitCode(cmd.Wait())
	}

	if err := s.Stop(); err != nil {
		fmt.Fprintf(stderr, "devservices run: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// exitCode turns the result of Wait into a shell-style exit status.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}
