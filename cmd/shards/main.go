// Command shards looks at and moves organizations between the shards of DATABASE_SHARDS
// (shared/shard):
//
//	shards where ORG         the shard holding organization ORG, and any write freeze
//	shards spread            how many organizations the directory places on each shard
//	shards move ORG SHARD    move ORG to SHARD online (shared/shard/move): its writes answer
//	                         503 with Retry-After for a few seconds, its reads never stop
//
// It reads the functions' variables: DATABASE_SHARDS (or DATABASE_URL: one shard, where there
// is nothing to move), REDIS_URL and REDIS_CLUSTER (the directory's cache, which a move
// updates), and SCALEAPI_SCHEMA for a schema other than the embedded .apsorc. Run it where the
// functions' pooler endpoints are reachable (in AWS, a task or instance in the stack's VPC).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/uuid"

	"scaleapi"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/platform"
	"scaleapi/shared/resource"
	"scaleapi/shared/shard/move"
)

const usage = `usage:
  shards where ORG
  shards spread
  shards move ORG SHARD
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run runs one subcommand: 0 on success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	want := map[string]int{"where": 2, "spread": 1, "move": 3}[args[0]]
	if want == 0 || len(args) != want {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var org uuid.UUID
	if want > 1 {
		var err error
		if org, err = uuid.Parse(args[1]); err != nil {
			fmt.Fprintf(stderr, "shards: %q is not an organization id\n", args[1])
			return 2
		}
	}
	// An operator's credentials: a profile, SSO, or a role to assume, which only the SDK's
	// default chain reads.
	d, err := platform.Build(ctx, lookup, stderr, platform.Needs{Database: true, Redis: true}, platform.WithAWS(
		func(ctx context.Context, region string) (aws.Config, error) {
			return awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
		}))
	if err != nil {
		fmt.Fprintf(stderr, "shards: %v\n", err)
		return 1
	}
	defer d.Close()
	switch args[0] {
	case "where":
		p, err := d.Shards.Lookup(ctx, org)
		if err != nil {
			fmt.Fprintf(stderr, "shards: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s %s", org, p.Shard)
		if time.Until(p.FrozenUntil) > 0 {
			fmt.Fprintf(stdout, " (writes frozen until %s)", p.FrozenUntil.Format(time.RFC3339))
		}
		fmt.Fprintln(stdout)
	case "spread":
		if err := spread(ctx, d, stdout); err != nil {
			fmt.Fprintf(stderr, "shards: %v\n", err)
			return 1
		}
	case "move":
		tables, err := tenantTables(lookup)
		if err != nil {
			fmt.Fprintf(stderr, "shards: %v\n", err)
			return 1
		}
		rep, err := move.Organization(ctx, move.Options{Shards: d.Shards, Tables: tables, Cache: d.Cache, Log: d.Log}, org, args[2])
		if err != nil {
			fmt.Fprintf(stderr, "shards: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "moved %s from %s to %s: final copy %d rows, writes frozen %v\n",
			org, rep.From, rep.To, rep.Rows, rep.Frozen.Round(time.Millisecond))
	}
	return 0
}

// spread prints each shard's count of organizations: those the directory places there, and on
// the first shard also those it has no row for.
func spread(ctx context.Context, d *platform.Deps, w io.Writer) error {
	counts := map[string]int64{}
	rows, err := d.Primary.Query(ctx, "SELECT shard, count(*) FROM organization_shards GROUP BY shard")
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			rows.Close()
			return err
		}
		counts[name] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var unplaced int64
	if err := d.Primary.QueryRow(ctx, "SELECT count(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM organization_shards s WHERE s.organization_id = o.id)").Scan(&unplaced); err != nil {
		return err
	}
	for i, sh := range d.Shards.Shards() {
		n := counts[sh.Name()]
		if i == 0 {
			n += unplaced
		}
		fmt.Fprintf(w, "%s %d\n", sh.Name(), n)
		delete(counts, sh.Name())
	}
	for name, n := range counts {
		fmt.Fprintf(w, "%s %d (not in DATABASE_SHARDS)\n", name, n)
	}
	return nil
}

// tenantTables are the tables of the schema the functions serve.
func tenantTables(lookup func(string) (string, bool)) ([]resource.TenantTable, error) {
	var s *apsorc.Schema
	var err error
	if path, ok := lookup("SCALEAPI_SCHEMA"); ok && path != "" {
		s, err = apsorc.Load(path)
	} else {
		s, err = apsorc.Parse(scaleapi.Schema)
	}
	if err != nil {
		return nil, err
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, nil)
	if err != nil {
		return nil, err
	}
	return eng.TenantTables(), nil
}
