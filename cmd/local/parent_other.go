//go:build !linux

package main

// stopWithParent does nothing where there is no parent-death signal: stop cmd/local itself (or
// its whole process group, as a terminal's Ctrl-C does) rather than only `go run`.
func stopWithParent() {}
