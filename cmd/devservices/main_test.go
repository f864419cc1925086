package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"scaleapi/shared/devservices"
)

// helperEnv makes the test binary act as the devservices command, so that up can run as a real
// separate process that down signals.
const helperEnv = "DEVSERVICES_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

var allVars = []string{
	devservices.EnvPrimaryURL, devservices.EnvReplicaURL, devservices.EnvPoolerURL,
	devservices.EnvRedisURL, devservices.EnvRedisClusterURL, devservices.EnvShards,
}

func TestRun(t *testing.T) {
	t.Run("CommandGetsEveryVariableAndItsStatusIsReturned", func(t *testing.T) {
		script := `for v in ` + strings.Join(allVars, " ") + `; do [ -n "$(printenv $v)" ] || { echo "$v missing" >&2; exit 9; }; done; exit 3`
		var stderr bytes.Buffer
		if code := cli([]string{"run", "--", "sh", "-c", script}, os.Stdout, &stderr); code != 3 {
			t.Fatalf("exit status %d, want 3 (the command's); stderr:\n%s", code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "stack up in") {
			t.Errorf("stderr does not report the start time:\n%s", stderr.String())
		}
	})
	t.Run("NoCommandIsAUsageError", func(t *testing.T) {
		var stderr bytes.Buffer
		if code := cli([]string{"run"}, os.Stdout, &stderr); code != 2 {
			t.Fatalf("exit status %d, want 2", code)
		}
	})
}

func TestUpEnvDown(t *testing.T) {
	// Not t.TempDir: as root the servers run as another user, who can't enter a 0700 directory.
	dir, err := os.MkdirTemp("", "devservices-cmd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	upCmd := exec.Command(self, "up", "-dir", dir)
	upCmd.Env = append(os.Environ(), helperEnv+"=1")
	var upOut, upErr bytes.Buffer
	upCmd.Stdout, upCmd.Stderr = &upOut, &upErr
	if err := upCmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var upWaitErr error
	go func() { upWaitErr = upCmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		upCmd.Process.Kill()
		<-exited
	})

	var envOut bytes.Buffer
	deadline := time.Now().Add(60 * time.Second)
	for {
		envOut.Reset()
		var stderr bytes.Buffer
		if cli([]string{"env", "-dir", dir}, &envOut, &stderr) == 0 {
			break
		}
		select {
		case <-exited:
			t.Fatalf("up exited: %v\n%s", upWaitErr, upErr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("env never succeeded: %s\nup stderr:\n%s", stderr.String(), upErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// What a shell that sources the file (as the package comment says to) has in its
	// environment.
	sourced, err := exec.Command("bash", "-c", `set -a; . "$1" && env`, "bash", filepath.Join(dir, envFile)).CombinedOutput()
	if err != nil {
		t.Fatalf("sourcing the env file: %v\n%s", err, sourced)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(sourced), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
	}
	for _, v := range allVars {
		if vars[v] == "" {
			t.Errorf("env lacks %s:\n%s", v, envOut.String())
		}
	}
	if n := len(strings.Fields(vars[devservices.EnvShards])); n != 2 {
		t.Errorf("%s holds %d shards once sourced, want the full stack's 2: %q", devservices.EnvShards, n, vars[devservices.EnvShards])
	}
	if got, _ := os.ReadFile(filepath.Join(dir, envFile)); string(got) != envOut.String() {
		t.Errorf("env file %q differs from env output %q", got, envOut.String())
	}
	ctx := context.Background()
	if c, err := pgconn.Connect(ctx, vars[devservices.EnvPoolerURL]); err != nil {
		t.Fatalf("pooler of the running stack: %v", err)
	} else {
		c.Close(ctx)
	}

	t.Run("SecondUpRefuses", func(t *testing.T) {
		var stderr bytes.Buffer
		if code := cli([]string{"up", "-dir", dir}, os.Stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "already running") {
			t.Fatalf("second up: status %d, stderr %q", code, stderr.String())
		}
	})

	var stderr bytes.Buffer
	if code := cli([]string{"down", "-dir", dir}, os.Stdout, &stderr); code != 0 {
		t.Fatalf("down: status %d: %s", code, stderr.String())
	}
	select {
	case <-exited:
		if upWaitErr != nil {
			t.Fatalf("up exited with %v\n%s", upWaitErr, upErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up still running after down returned")
	}
	if _, err := pgconn.Connect(ctx, vars[devservices.EnvPrimaryURL]); err == nil {
		t.Fatal("primary still accepts connections after down")
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	if code := cli([]string{"env", "-dir", dir}, os.Stdout, &stderr); code == 0 {
		t.Error("env succeeds after down")
	}
}
