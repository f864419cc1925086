package main

import (
	"slices"
	"strings"
	"testing"
)

// banner is cmd/local's stdout up to its "Listening on" line (gateway.PrintBanner), with the
// Database line given.
func banner(database string) []string {
	return strings.Split(`
scaleapi local API Gateway — template.yaml

  GET     /health            HealthFunction           REST v1
  POST    /projects          EntitiesFunction         REST v1

  `+database+`
  Redis:    embedded miniredis redis://127.0.0.1:40211

  Metrics:  http://127.0.0.1:3000/_local/   (Prometheus text: http://127.0.0.1:3000/_local/metrics)
  Listening on http://127.0.0.1:3000   (Ctrl-C to stop)`, "\n")
}

func TestEmbeddedDatabaseURL(t *testing.T) {
	const url = "postgres://scaleapi@127.0.0.1:41234/scaleapi?sslmode=disable"
	for _, tc := range []struct {
		name   string
		banner []string
		want   string // "": an error containing fails
		fails  string
	}{
		{name: "the embedded line gives its URL", banner: banner("Database: embedded PostgreSQL " + url + " (data in .local/bench/defaults-1/pgdata, log .local/bench/defaults-1/pgdata.log)"), want: url},
		{name: "a URL at the end of the line is found", banner: banner("Database: embedded PostgreSQL " + url), want: url},
		{name: "no Database line fails", banner: banner("Postgres: " + url), fails: "no \"Database:\" line"},
		{name: "an external database fails", banner: banner("Database: external (DATABASE_URL) " + url), fails: "not on its embedded PostgreSQL"},
		{name: "a line without a URL fails", banner: banner("Database: embedded PostgreSQL (data in .local/pgdata)"), fails: "no database URL"},
		{name: "a remote database fails", banner: banner("Database: embedded PostgreSQL postgres://scaleapi@db.example.com:5432/scaleapi"), fails: "not on the loopback"},
		{name: "a redacted password fails", banner: banner("Database: embedded PostgreSQL postgres://scaleapi:xxxxx@127.0.0.1:41234/scaleapi"), fails: "password redacted"},
		{name: "an empty banner fails", fails: "no \"Database:\" line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := embeddedDatabaseURL(tc.banner)
			switch {
			case tc.fails == "" && (err != nil || got != tc.want):
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			case tc.fails != "" && (err == nil || !strings.Contains(err.Error(), tc.fails)):
				t.Errorf("got %q, %v; want an error saying %q", got, err, tc.fails)
			}
		})
	}
}

func TestWithoutStripsMakeRunConfig(t *testing.T) {
	env := []string{"PATH=/usr/bin", "DATABASE_URL=postgres://u:secret@db/x", "REDIS_URL=redis://r", "REDIS_CLUSTER=true",
		"DATABASE_READER_URL=postgres://r/x", "DATABASE_IAM_AUTH=true", "JWT_SECRET=s", "DATABASE_URL_EXTRA=kept", "HOME=/root"}
	got := without(env, makeRunConfig...)
	if want := []string{"PATH=/usr/bin", "DATABASE_URL_EXTRA=kept", "HOME=/root"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if env[1] != "DATABASE_URL=postgres://u:secret@db/x" {
		t.Error("without changed its argument")
	}
}
