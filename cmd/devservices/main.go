// Command devservices starts the project's real test services (PostgreSQL primary and streaming
// replica, PgBouncer in transaction mode, Redis and a Redis Cluster) on free loopback ports.
//
//	devservices run [-dir DIR] [-log FILE] -- COMMAND [ARG...]
//	    start the stack, run COMMAND with SCALEAPI_TEST_* in its environment, stop the stack and
//	    exit with COMMAND's status. `make test` uses this: one stack for the whole `go test ./...`,
//	    stopped at the end whether the tests pass or fail. Nothing is written to stdout but
//	    COMMAND's own output, so `go test -json` stays parseable.
//	devservices up [-dir .local/devservices] [-v]
//	    start the stack and keep it running until SIGINT or SIGTERM (or `devservices down`); the
//	    variables are printed and written to DIR/env as single-quoted shell assignments, so that
//	    `set -a; . .local/devservices/env` makes `go test` in another terminal use this stack.
//	devservices down [-dir .local/devservices]
//	    stop the stack `up` started.
//	devservices env [-dir .local/devservices]
//	    print the variables of the running stack, as up wrote them.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  devservices run [-dir DIR] [-log FILE] -- COMMAND [ARG...]
  devservices up [-dir .local/devservices] [-v]
  devservices down [-dir .local/devservices]
  devservices env [-dir .local/devservices]
`

// defaultDir is where up keeps its state, relative to the working directory (the repository root
// under make); .local/ is ignored by git and removed by make clean.
const defaultDir = ".local/devservices"

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs one subcommand and returns the process exit status: 2 for a usage error, 1 for a
// failure of devservices itself, and for run the status of the command it ran.
func cli(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		return runCommand(args[1:], stderr)
	case "up":
		err = up(args[1:], stdout, stderr)
	case "down":
		err = down(args[1:], stderr)
	case "env":
		err = env(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "devservices: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "devservices %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
