//go:build linux

package lambdaenv

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the instance in a process group of its own, so a terminal's Ctrl-C reaches
// only the gateway, which then stops the instances in order, and asks the kernel to kill it if
// the gateway dies first. Pdeathsig is tied to the OS thread that started the process; the Go
// runtime does not retire threads except those a goroutine leaves locked, which nothing here does.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
