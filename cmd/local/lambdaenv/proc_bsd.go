//go:build unix && !linux

package lambdaenv

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the instance in a process group of its own, so a terminal's Ctrl-C reaches
// only the gateway, which then stops the instances in order. (There is no Pdeathsig here: an
// instance outlives a gateway killed with SIGKILL.)
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// peakRSS is 0: the peak resident set is read from /proc, which only Linux has.
func peakRSS(int) int64 { return 0 }
