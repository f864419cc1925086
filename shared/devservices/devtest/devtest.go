// Package devtest gives tests real services: the stack of package devservices, shared by every
// test of a test binary, and a fresh, migrated PostgreSQL database per test.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }
//
// Under `make test` the stack is started once for the whole run by cmd/devservices and announced
// through SCALEAPI_TEST_* variables; otherwise (go test of one package, an editor running one
// test) the test binary starts its own stack the first time a test asks for it and stops it when
// the tests are done.
package devtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"scaleapi/shared/devservices"
)

// state is the test binary's one stack.
var state struct {
	sync.Mutex
	mainCalled bool
	stack      *devservices.Stack
	owned      bool // started by this process, so stopped by Main
	err        error
}

// Main runs the tests and stops the stack this binary started, if any; it returns the exit code
// for os.Exit. A stack provided through the environment is used as it is. The stack is started
// lazily, by the first test that asks for it, so a run that selects no such test (go test -run X)
// does not pay for it.
func Main(m *testing.M) int {
	state.Lock()
	state.mainCalled = true
	state.Unlock()

	code := m.Run()

	state.Lock()
	defer state.Unlock()
	if state.owned {
		if err := state.stack.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "devtest: stop services: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Services returns the stack: primary, replica, pooler, Redis and Redis Cluster. It fails the test
// if the stack can't be started, with the reason (such as which package to install).
func Services(t testing.TB) *devservices.Stack {
	t.Helper()
	s, err := services()
	if err != nil {
		t.Fatalf("devtest: %v", err)
	}
	return s
}

func services() (*devservices.Stack, error) {
	state.Lock()
	defer state.Unlock()
	if state.stack != nil || state.err != nil {
		return state.stack, state.err
	}
	if s, ok := devservices.StackFromEnv(); ok {
		state.stack = s
		return s, nil
	}
	if !state.mainCalled {
		// Without Main nobody would stop the servers.
		state.err = errors.New("devtest.Main is not running: add func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) } to the package's tests")
		return nil, state.err
	}
	// Not a test's context: the stack outlives the test that happens to start it.
	s, err := devservices.Start(context.Background(), devservices.Full("", nil))
	if err != nil {
		state.err = fmt.Errorf("start services: %w", err)
		return nil, state.err
	}
	state.stack, state.owned = s, true
	return s, nil
}

// EnvShardCount names the variable that makes the tests of the resource engine and the functions
// run on that many shards (1 to 3; `make test-shards` sets 3). It is read directly, like the
// stack's variables: it configures the test binaries, not the program.
const EnvShardCount = "SCALEAPI_TEST_SHARD_COUNT"

// ShardCount returns how many shards the tests that support it should spread organizations
// over: EnvShardCount, 1 when unset. It panics on a value outside 1 to 3, which no stack
// serves.
func ShardCount() int {
	v := os.Getenv(EnvShardCount)
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 3 {
		panic(fmt.Sprintf("devtest: %s=%q: want 1, 2 or 3", EnvShardCount, v))
	}
	return n
}
