package emf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Instance is one function process (an execution environment) and its memory.
type Instance struct {
	PID      int
	Function string // the directory its bootstrap is in: the template's logical id
	RSSKiB   int64  // VmRSS: resident now
	HWMKiB   int64  // VmHWM: the most it was ever resident
}

// Instances lists the function processes cmd/local (parent) runs, from /proc: its children
// whose executable is a file named bootstrap. It returns nil where there is no /proc.
func Instances(parent int) []Instance {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []Instance
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		if field(status, "PPid:") != int64(parent) {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		exe = strings.TrimSuffix(exe, " (deleted)")
		if filepath.Base(exe) != "bootstrap" {
			continue
		}
		out = append(out, Instance{
			PID: pid, Function: filepath.Base(filepath.Dir(exe)),
			RSSKiB: field(status, "VmRSS:"), HWMKiB: field(status, "VmHWM:"),
		})
	}
	return out
}

// field reads a "Name:   123 kB" line of /proc/<pid>/status.
func field(status []byte, name string) int64 {
	i := bytes.Index(status, []byte("\n"+name))
	if i < 0 {
		return -1
	}
	rest := status[i+1+len(name):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	f := strings.Fields(string(rest))
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return -1
	}
	return n
}
