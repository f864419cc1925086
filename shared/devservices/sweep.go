package devservices

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// ownerFile in a temporary directory names the process that made it, so that a later Start can
// remove the directory once that process is gone: a test binary killed by its timeout never runs
// Stop, and each stack leaves about 100 MB behind in /tmp.
const ownerFile = "devservices.owner"

// tempPrefix starts the names of the temporary directories of Start and StartRedis.
const tempPrefix = "devservices-"

// makeTempDir creates a temporary directory with an owner file, after sweeping away those of
// processes that died without Stop.
func makeTempDir(pattern string) (string, error) {
	sweepStale()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	host, _ := os.Hostname()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(fmt.Sprintf("%d\n%s\n", os.Getpid(), host)), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// sweepStale removes the temporary directories whose owner process no longer exists. Only on
// Linux, where the parent-death signal guarantees that the servers died with their owner, and
// only for owners on this host, because a pid means nothing in another container sharing /tmp.
func sweepStale() {
	if runtime.GOOS != "linux" {
		return
	}
	host, _ := os.Hostname()
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pidText, owner, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || owner != host {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
}
