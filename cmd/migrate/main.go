// Command migrate applies the schema in shared/migrations to a PostgreSQL database.
//
//	migrate up     [-url URL]   apply every pending migration
//	migrate down   [-url URL]   roll back the most recent migration
//	migrate status [-url URL]   list migrations and when each was applied
//
// The URL defaults to $DATABASE_URL. Point it at the primary, not at the pooler: see the
// shared/migrations package comment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"scaleapi/shared/migrations"
)

func main() {
	err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

// errUsage is returned for a bad command line, after the usage has been printed.
var errUsage = errors.New("usage")

// timeout bounds a whole run: a migration blocked on a lock should fail a deploy, not hang it.
const timeout = 5 * time.Minute

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "usage: migrate up|down|status [-url URL]   (URL defaults to $DATABASE_URL)")
	}
	if len(args) == 0 {
		usage()
		return errUsage
	}
	cmd := args[0]
	if cmd != "up" && cmd != "down" && cmd != "status" {
		usage()
		return errUsage
	}
	fs := flag.NewFlagSet("migrate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usage
	url := fs.String("url", getenv("DATABASE_URL"), "PostgreSQL URL of the primary")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		usage()
		return errUsage
	}
	if *url == "" {
		return errors.New("no database URL: pass -url or set DATABASE_URL")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	switch cmd {
	case "up":
		if err := migrations.Up(ctx, *url); err != nil {
			return err
		}
	case "down":
		if err := migrations.Down(ctx, *url); err != nil {
			return err
		}
	}
	// Every command ends with the status, so a deploy log shows where the schema stands.
	return migrations.Status(ctx, *url, stdout)
}
