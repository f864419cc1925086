package devservices

import "syscall"

// sysProcAttr puts a server in its own process group, as the server account, and ties its life to
// this process.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		// Own group: Stop kills the server with all its children (postgres backends) at once,
		// and a Ctrl-C in the terminal reaches only the program, which then stops the servers in
		// order.
		Setpgid: true,
		// If this process dies without Stop (a panic, a test timeout, kill -9), the kernel kills
		// the server. Go sets it after switching credentials, so the switch does not clear it.
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
}
