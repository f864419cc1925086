package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// previousServerWait is how long a start waits for the server of a run that was killed to be
// gone. Its backends notice the postmaster's death within milliseconds; a server that is still
// up after this is another run's.
const previousServerWait = 10 * time.Second

// clearPreviousServer deals with the postmaster.pid a killed run leaves in dataDir (kill -9, or a
// second Ctrl-C, after which the kernel kills the server with SIGKILL).
//
// PostgreSQL removes a stale postmaster.pid itself when the process it names is gone, but refuses
// to start while that process exists, and a killed server's process exists as a zombie until its
// new parent, init, reaps it: at once on most machines, late or never in a container whose init
// does not reap. So: wait until no live process uses dataDir any more (PostgreSQL processes run
// in their data directory); then, if the recorded postmaster is a zombie, remove the file it
// would otherwise refuse on. A live postmaster after previousServerWait means another run is
// using the directory, which is an error.
func clearPreviousServer(ctx context.Context, dataDir string, log io.Writer, wait time.Duration) error {
	lock := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(lock) // #nosec G304 -- postmaster.pid in the embedded PostgreSQL's data directory (-data-dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a clean stop, or a new cluster
	}
	if err != nil {
		return fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return nil // not ours to judge: PostgreSQL reports a malformed lock file itself
	}
	deadline := time.Now().Add(wait)
	for {
		users := liveUsers(dataDir)
		state := processState(pid)
		if len(users) == 0 && state != stateRunning {
			if state == stateZombie {
				fmt.Fprintf(log, "local: removing %s left by a killed run (its postmaster, pid %d, is a zombie)\n", lock, pid)
				if err := os.Remove(lock); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("embedded PostgreSQL: %w", err)
				}
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded PostgreSQL: %s is in use by pid %d (another `make run` on the same directory?): stop it first", dataDir, pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Process states, as processState reports them.
const (
	stateGone = iota
	stateZombie
	stateRunning
)

// processState says whether pid runs, is a zombie (dead, not yet reaped), or is gone. Without
// /proc (macOS), a process that exists counts as running.
func processState(pid int) int {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return stateGone
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && procMounted() {
			return stateGone // exited between the two checks
		}
		return stateRunning
	}
	// The state follows the command name, which is in parentheses and may itself hold any.
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return stateZombie
	}
	return stateRunning
}

// liveUsers returns the live processes whose working directory is dir: the postmaster and
// backends of a server on dir. Zombies have no working directory, so they do not count. It
// returns nil where /proc is missing.
func liveUsers(dir string) []int {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // the kernel shows the resolved path
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir {
			out = append(out, pid)
		}
	}
	return out
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}
