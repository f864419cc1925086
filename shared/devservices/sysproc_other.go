//go:build !linux

package devservices

import "syscall"

// sysProcAttr puts a server in its own process group, as the server account. Without Linux's
// parent-death signal, a server outlives a test binary that is killed before Stop.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}
