package devservices

import (
	"net"
	"sync"
)

// handedOut remembers the ports this process has picked, so that servers started concurrently do
// not get the same port from the kernel one after the other.
var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
)

// freePort returns a loopback TCP port that was free a moment ago. Another process may take it
// before the server binds; servers are therefore restarted on a new port when binding fails.
func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		portsMu.Lock()
		seen := handedOut[port]
		handedOut[port] = true
		portsMu.Unlock()
		if !seen {
			return port, nil
		}
	}
}

// portFree reports whether port can be bound on loopback right now.
func portFree(port int) bool {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	l.Close()
	return true
}
