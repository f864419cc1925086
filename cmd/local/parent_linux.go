//go:build linux

package main

import (
	"os"
	"syscall"
)

// stopWithParent asks the kernel to send this process SIGTERM when its parent exits. `make run`
// runs cmd/local under `go run`, which passes a terminal's Ctrl-C on (both are in the terminal's
// process group) but dies of a SIGTERM sent to it alone, by an IDE's stop button or a process
// supervisor, without telling its child: cmd/local, its functions and the embedded PostgreSQL
// would keep running with no terminal left to stop them. With this, that SIGTERM takes the
// normal shutdown path. Call it once SIGTERM is being handled.
//
// The signal is tied to the parent's thread that started this process; a Go parent such as
// `go run` does not retire its threads, so in practice it fires when the parent exits.
func stopWithParent() {
	ppid := os.Getppid()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0); errno != 0 {
		return // an old or restricted kernel: the terminal's Ctrl-C still works
	}
	// A parent that died before the prctl would never trigger it.
	if os.Getppid() != ppid {
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
