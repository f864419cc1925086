//go:build !unix

package lambdaenv

import (
	"os"
	"os/exec"
	"syscall"
)

const (
	sigTerm = syscall.Signal(15)
	sigKill = syscall.Signal(9)
)

func setProcAttr(*exec.Cmd) {}

// signalGroup can only kill the process itself where there are no process groups.
func signalGroup(p *os.Process, _ syscall.Signal) error { return p.Kill() }

// peakRSS is 0: the peak resident set is read from /proc, which only Linux has.
func peakRSS(int) int64 { return 0 }
