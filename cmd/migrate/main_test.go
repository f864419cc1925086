package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"scaleapi/shared/devservices/devtest"
)

// TestMain starts the real PostgreSQL stack once for the command's tests.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

func TestRun(t *testing.T) {
	d := devtest.NewDatabase(t)
	env := func(url string) func(string) string {
		return func(k string) string {
			if k == "DATABASE_URL" {
				return url
			}
			return ""
		}
	}
	runOut := func(t *testing.T, getenv func(string) string, args ...string) (string, string, error) {
		t.Helper()
		var out, errOut strings.Builder
		err := run(args, getenv, &out, &errOut)
		return out.String(), errOut.String(), err
	}

	t.Run("StatusFromEnv", func(t *testing.T) {
		out, _, err := runOut(t, env(d.PrimaryURL), "status")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "00001_organizations.sql") || strings.Contains(out, "pending") {
			t.Fatalf("status of a migrated database:\n%s", out)
		}
	})

	t.Run("DownThenUpWithFlag", func(t *testing.T) {
		out, _, err := runOut(t, env(""), "down", "-url", d.PrimaryURL)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(out, "pending") != 1 {
			t.Fatalf("after down, want exactly one pending migration:\n%s", out)
		}
		out, _, err = runOut(t, env(""), "up", "-url", d.PrimaryURL)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "pending") {
			t.Fatalf("after up:\n%s", out)
		}
	})

	t.Run("FlagWinsOverEnv", func(t *testing.T) {
		_, _, err := runOut(t, env("postgres://nobody@127.0.0.1:1/x?connect_timeout=1"), "status", "-url", d.PrimaryURL)
		if err != nil {
			t.Fatal(err)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"UsageWithoutCommand", nil},
		{"UsageForUnknownCommand", []string{"sideways"}},
		{"UsageForUnknownFlag", []string{"up", "-force"}},
		{"UsageForExtraArgument", []string{"up", "now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runOut(t, env(d.PrimaryURL), tc.args...)
			if !errors.Is(err, errUsage) || !strings.Contains(stderr, "usage:") {
				t.Fatalf("err = %v, stderr = %q", err, stderr)
			}
		})
	}

	t.Run("ErrorWithoutURL", func(t *testing.T) {
		_, _, err := runOut(t, env(""), "up")
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Fatalf("err = %v", err)
		}
	})
}
