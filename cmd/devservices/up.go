package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"scaleapi/shared/devservices"
)

// Files up keeps in its directory: the variables for other shells, and its own pid for down.
const (
	envFile   = "env"
	pidFile   = "pid"
	serverDir = "stack"
)

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", defaultDir, "directory for the stack's state and files")
}

// up starts the full stack and runs until SIGINT, SIGTERM or SIGHUP. It stays in the foreground
// rather than daemonising: the servers die with it (they carry a parent-death signal), so a killed
// up never leaves servers running, and its terminal shows when the stack is gone.
func up(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := dirFlag(fs)
	verbose := fs.Bool("v", false, "copy the servers' output to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if pid, ok := running(*dir); ok {
		return fmt.Errorf("already running (pid %d): use devservices env, or devservices down first (or remove %s if that process is not devservices)", pid, filepath.Join(*dir, pidFile))
	}
	// Whatever an earlier up left behind (it was killed) is stale: its servers died with it.
	if err := os.RemoveAll(filepath.Join(*dir, serverDir)); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil { // #nosec G301 -- the developer's -dir; the servers' own directories are theirs to restrict
		return err
	}
	var log io.Writer
	if *verbose {
		log = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// The pid file goes first, so that a second up (or a down) sees this one while it starts; it
	// goes last, so that down returns only once the servers are gone.
	if err := os.WriteFile(filepath.Join(*dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil { // #nosec G306 -- a pid file, public like every pid file
		return err
	}
	defer os.Remove(filepath.Join(*dir, pidFile))
	began := time.Now()
	s, err := devservices.Start(ctx, devservices.Full(filepath.Join(*dir, serverDir), log))
	if err != nil {
		return err
	}
	defer s.Stop()
	// Shell assignments, single-quoted: the file is sourced (`set -a; . DIR/env`), and a value
	// such as the shard list holds spaces and '|'.
	var b strings.Builder
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString(k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	lines := b.String()
	// Written aside and renamed into place: `env` polls for the file, and must never read one
	// that has been created but not yet written.
	tmp := filepath.Join(*dir, envFile+".tmp")
	if err := os.WriteFile(tmp, []byte(lines), 0o644); err != nil { // #nosec G306 -- loopback test servers' URLs, for `devservices env` run as any user
		return err
	}
	if err := os.Rename(tmp, filepath.Join(*dir, envFile)); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(*dir, envFile))
	fmt.Fprint(stdout, lines)
	fmt.Fprintf(stderr, "devservices: stack up in %v; files in %s; stop with Ctrl-C or devservices down\n",
		time.Since(began).Round(time.Millisecond), s.Dir)
	<-ctx.Done()
	fmt.Fprintln(stderr, "devservices: stopping")
	return s.Stop()
}

// down stops the stack of a running up by signalling it, and waits until it has exited.
func down(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := dirFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	pid, ok := running(*dir)
	if !ok {
		fmt.Fprintln(stderr, "devservices: not running")
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := running(*dir); !ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pid %d still running after 30s", pid)
}

// env prints the variables of the running stack.
func env(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := dirFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, ok := running(*dir); !ok {
		return errors.New("not running: start it with devservices up")
	}
	b, err := os.ReadFile(filepath.Join(*dir, envFile))
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("still starting: try again in a moment")
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(b)
	return err
}

// running returns the pid of the up that owns dir, if it is alive. A pid file whose process is
// gone was left by an up that was killed.
func running(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile)) // #nosec G304 -- the pid file in the developer's -dir
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, false
	}
	return pid, true
}
