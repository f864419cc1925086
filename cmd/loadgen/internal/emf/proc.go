package emf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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

// The groups CPU time is counted in.
const (
	GroupFunctions = "functions" // the function instances (bootstrap processes)
	GroupGateway   = "gateway"   // cmd/local itself
	GroupLoadgen   = "loadgen"   // this process
	GroupPostgres  = "postgres"
	GroupPgBouncer = "pgbouncer"
	GroupRedis     = "redis"
	GroupOther     = "other" // everything else that ran, including processes that came and went
)

// CPU is a snapshot of the machine's CPU time, in clock ticks (USER_HZ, 100 a second on Linux).
type CPU struct {
	At      time.Time
	Total   uint64 // every CPU's time, idle included
	Idle    uint64 // idle and iowait
	ByGroup map[string]uint64
}

// clockTick is USER_HZ, which Linux fixes at 100 for /proc whatever the kernel's own HZ.
const clockTick = 100

// ReadCPU reads /proc/stat and every process's /proc/<pid>/stat. local is cmd/local's pid (0 if
// unknown); its bootstrap children are the functions. With own, only PostgreSQL, PgBouncer and
// Redis processes descended from this one count as theirs (others' test stacks on a shared
// machine go to other); without it, every process of those names does. It returns nil where
// there is no /proc.
func ReadCPU(local int, own bool) *CPU {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	c := &CPU{At: time.Now(), ByGroup: map[string]uint64{}}
	line, _, _ := strings.Cut(string(stat), "\n")
	for i, f := range strings.Fields(line)[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		v, _ := strconv.ParseUint(f, 10, 64)
		c.Total += v
		if i == 3 || i == 4 {
			c.Idle += v
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	type proc struct {
		ppid  int
		comm  string
		ticks uint64
	}
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15): comm may hold spaces and parentheses,
		// so fields are counted from the last ')'.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		procs[pid] = proc{ppid: ppid, comm: s[open+1 : end], ticks: ut + st}
	}
	self := os.Getpid()
	descends := func(pid, from int) bool {
		for range 64 { // bounded: a pid reused mid-scan could make a loop
			p, ok := procs[pid]
			if !ok || pid <= 1 {
				return false
			}
			if p.ppid == from {
				return true
			}
			pid = p.ppid
		}
		return false
	}
	for pid, p := range procs {
		var g string
		switch {
		case pid == self:
			g = GroupLoadgen
		case local > 0 && pid == local:
			g = GroupGateway
		case p.comm == "bootstrap" && local > 0 && descends(pid, local):
			g = GroupFunctions
		case p.comm == "postgres" && (!own || descends(pid, self)):
			g = GroupPostgres
		case p.comm == "pgbouncer" && (!own || descends(pid, self)):
			g = GroupPgBouncer
		case p.comm == "redis-server" && (!own || descends(pid, self)):
			g = GroupRedis
		default:
			continue // counted in other, as busy time no group claims
		}
		c.ByGroup[g] += p.ticks
	}
	return c
}

// Usage is the CPU used between two snapshots, in cores (1.0 is one CPU busy all the time).
type Usage struct {
	Busy    float64            `json:"busy"` // every process and the kernel
	Cores   int                `json:"cores"`
	ByGroup map[string]float64 `json:"byGroup"`
}

// Since returns the usage from a to c. A process that exited between the snapshots loses its
// time from its group; its time still counts in Busy, and so in other.
func (c *CPU) Since(a *CPU, cores int) *Usage {
	if a == nil || c == nil {
		return nil
	}
	secs := c.At.Sub(a.At).Seconds()
	if secs <= 0 {
		return nil
	}
	cores = max(cores, 1)
	// /proc/stat sums every CPU's ticks: per wall second it grows by cores*clockTick.
	busyTicks := float64((c.Total - a.Total) - (c.Idle - a.Idle))
	u := &Usage{Busy: busyTicks / clockTick / secs, Cores: cores, ByGroup: map[string]float64{}}
	claimed := 0.0
	for g, v := range c.ByGroup {
		d := float64(v) - float64(a.ByGroup[g])
		if d < 0 {
			d = 0 // a process of the group exited and took more time with it than the rest used
		}
		u.ByGroup[g] = d / clockTick / secs
		claimed += u.ByGroup[g]
	}
	u.ByGroup[GroupOther] = max(u.Busy-claimed, 0)
	return u
}
