package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeLock writes a postmaster.pid naming pid into dir, as PostgreSQL does (pid first).
func writeLock(t *testing.T, dir string, pid int) string {
	t.Helper()
	lock := filepath.Join(dir, "postmaster.pid")
	if err := os.WriteFile(lock, []byte(strconv.Itoa(pid)+"\n"+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return lock
}

func TestClearPreviousServer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("zombies and working directories are read from /proc")
	}
	ctx := context.Background()

	t.Run("ZombieLockRemoved", func(t *testing.T) {
		dir := t.TempDir()
		// A child that has exited and is not waited for is a zombie, like a killed run's
		// postmaster before init reaps it.
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Wait() })
		for processState(cmd.Process.Pid) != stateZombie {
			time.Sleep(10 * time.Millisecond)
		}
		lock := writeLock(t, dir, cmd.Process.Pid)
		if err := clearPreviousServer(ctx, dir, io.Discard, time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(lock); !os.IsNotExist(err) {
			t.Fatalf("postmaster.pid of a zombie: %v, want removed", err)
		}
	})

	t.Run("GoneLockLeftToPostgreSQL", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		lock := writeLock(t, dir, cmd.Process.Pid)
		if err := clearPreviousServer(ctx, dir, io.Discard, time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(lock); err != nil {
			t.Fatalf("postmaster.pid of a reaped process: %v, want kept (PostgreSQL checks it itself)", err)
		}
	})

	t.Run("LiveServerIsAnError", func(t *testing.T) {
		dir := t.TempDir()
		// A process working in the data directory, as a postmaster or backend does.
		cmd := exec.Command("sleep", "30")
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		lock := writeLock(t, dir, cmd.Process.Pid)
		err := clearPreviousServer(ctx, dir, io.Discard, 300*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "in use by pid") {
			t.Fatalf("err = %v, want in use", err)
		}
		if _, err := os.Stat(lock); err != nil {
			t.Fatalf("postmaster.pid of a live server: %v, want kept", err)
		}
	})

	t.Run("NoLock", func(t *testing.T) {
		if err := clearPreviousServer(ctx, t.TempDir(), io.Discard, time.Second); err != nil {
			t.Fatal(err)
		}
	})
}
