//go:build linux

package lambdaenv

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// setProcAttr puts the instance in a process group of its own, so a terminal's Ctrl-C reaches
// only the gateway, which then stops the instances in order, and asks the kernel to kill it if
// the gateway dies first. Pdeathsig is tied to the OS thread that started the process; the Go
// runtime does not retire threads except those a goroutine leaves locked, which nothing here does.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// peakRSS is the process's peak resident set size in bytes (VmHWM in /proc/<pid>/status), or 0
// when it cannot be read (the process has exited and been reaped).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(b, []byte("\nVmHWM:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}
