package lambdamain

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/platform"
)

// childEnv names the case a re-executed test binary runs instead of the tests.
const childEnv = "LAMBDAMAIN_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "config":
		Run(function.Function{Needs: platform.Needs{Database: true, Redis: true}})
	case "handler":
		Run(function.Function{Build: func(*platform.Deps) (http.Handler, error) {
			slog.Info("wiring")
			return nil, errors.New("wiring failed:\nsecond line")
		}})
	}
	os.Exit(m.Run())
}

// child runs the test binary as a function process with only env, and returns its stdout,
// stderr and exit code.
func child(t *testing.T, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(env, "AWS_LAMBDA_FUNCTION_NAME=TestFunction")
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the function process: %v, want it to exit non-zero", err)
	}
	return out.String(), errs.String(), exit.ExitCode()
}

// initLine checks that stderr is exactly one JSON line, the init failure, and returns its error.
func initLine(t *testing.T, stderr string) string {
	t.Helper()
	var l struct{ Level, Msg, Function, Error string }
	if strings.Count(stderr, "\n") != 1 || json.Unmarshal([]byte(stderr), &l) != nil {
		t.Fatalf("stderr is not one JSON line: %q", stderr)
	}
	if l.Level != "ERROR" || l.Msg != "init failed" || l.Function != "TestFunction" {
		t.Fatalf("init line %q", stderr)
	}
	return l.Error
}

func TestFailedConfigExits1WithOneJSONLine(t *testing.T) {
	_, stderr, code := child(t, childEnv+"=config")
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if e := initLine(t, stderr); !strings.Contains(e, "DATABASE_URL") || !strings.Contains(e, "REDIS_URL") {
		t.Fatalf("the error names neither variable: %q", e)
	}
}

func TestFailedHandlerExits1WithOneJSONLine(t *testing.T) {
	stdout, stderr, code := child(t, childEnv+"=handler")
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if e := initLine(t, stderr); e != "wiring failed:\nsecond line" {
		t.Fatalf("error %q", e)
	}
	// The handler ran with the function's logger as slog's default.
	var l struct{ Msg, Function string }
	if json.Unmarshal([]byte(stdout), &l) != nil || l.Msg != "wiring" || l.Function != "TestFunction" {
		t.Fatalf("the handler's slog.Info did not go to the function's logger: %q", stdout)
	}
}
