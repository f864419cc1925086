package devservices

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSweepRemovesOnlyDirectoriesOfDeadOwners(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	mk := func(pid int, host string) string {
		dir, err := os.MkdirTemp("", tempPrefix+"sweep-test-*")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%d\n%s\n", pid, host), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	deadDir := mk(dead.Process.Pid, host)
	liveDir := mk(os.Getpid(), host)
	otherHostDir := mk(dead.Process.Pid, host+"-elsewhere")

	sweepStale()

	if _, err := os.Stat(deadDir); !os.IsNotExist(err) {
		t.Errorf("directory of a dead owner kept: %v", err)
	}
	for _, dir := range []string{liveDir, otherHostDir} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s removed: %v", dir, err)
		}
	}
}
