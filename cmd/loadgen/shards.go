package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	scaleapi "scaleapi"
	"scaleapi/cmd/loadgen/internal/load"
	"scaleapi/cmd/loadgen/internal/report"
	"scaleapi/cmd/loadgen/internal/seed"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices"
	"scaleapi/shared/migrations"
	"scaleapi/shared/resource"
	"scaleapi/shared/shard"
	"scaleapi/shared/shard/move"
)

// shardsSetup is what the shards phase is expected to take before its first scenario, at the
// default sizes on a 2-core machine: three primaries and their PgBouncers up and migrated (about
// 1 s), seeding (6-15 s), the moves (about 10 s), cmd/local (1 s), 200 logins (3 s) and the
// priming (8 s); 27 s in a warm run. The phases before it keep it from the budget.
const shardsSetup = 35 * time.Second

// moveParallel is how many organizations the shards phase moves at once.
const moveParallel = 4

// benchShards is the shards phase (issue 15): a stack of o.shards PostgreSQL primaries, each
// behind its own PgBouncer, and a Redis; the data set seeded on the first (the directory's) and
// every organization the placement policy sends elsewhere moved there with shared/shard/move, as
// an operator spreads the tenants of a deployment that grew shards; cmd/local over the shard map
// (DATABASE_SHARDS); the scenarios driven into rep, and a note of each shard's share of the
// projects they created and the write rate that share is of the measured throughput.
func benchShards(ctx context.Context, o *options, bin, buildDir string, rep *report.Report, scenarios []*load.Scenario) error {
	begun := time.Now()
	stackDir := filepath.Join(buildDir, "shards")
	_ = os.RemoveAll(stackDir)
	if err := os.MkdirAll(stackDir, 0o750); err != nil {
		return err
	}
	if !o.keepStack {
		defer os.RemoveAll(stackDir)
	}
	svcLog, err := os.Create(filepath.Join(o.out, "services-shards.log"))
	if err != nil {
		return err
	}
	defer svcLog.Close()
	stack, err := devservices.Start(ctx, devservices.Options{Dir: stackDir, PgBouncer: true, Shards: o.shards - 1, Redis: true, Log: svcLog})
	if err != nil {
		return fmt.Errorf("start services: %w", err)
	}
	defer func() {
		if err := stack.Stop(); err != nil {
			progress("stop shard services: " + err.Error())
		}
	}()
	specs := []shard.Spec{{Name: "s1", Writer: stack.PoolerURL}}
	primaries := []string{stack.PrimaryURL}
	for i, sh := range stack.Shards {
		specs = append(specs, shard.Spec{Name: fmt.Sprintf("s%d", i+2), Writer: sh.PoolerURL})
		primaries = append(primaries, sh.PrimaryURL)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, u := range primaries {
		g.Go(func() error { return migrations.Up(gctx, u) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	progress(fmt.Sprintf("shards: %d primaries, each behind its own PgBouncer, and Redis up and migrated in %s", len(specs), time.Since(begun).Round(time.Millisecond)))

	data, err := seed.Seed(ctx, stack.PrimaryURL, o.sizes, progress)
	if err != nil {
		return err
	}
	set, closeSet, err := primarySet(ctx, specs, primaries)
	if err != nil {
		return err
	}
	defer closeSet()
	start := time.Now()
	moved, err := spreadOrgs(ctx, set, data)
	if err != nil {
		return err
	}
	progress(fmt.Sprintf("shards: moved %d of %d organizations to the shards the placement policy gives them in %s", moved, len(data.Orgs), time.Since(start).Round(time.Millisecond)))

	mapJSON, err := json.Marshal(specs)
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	local, err := startLocal(ctx, o, localSpec{bin: bin, buildDir: buildDir, log: "local-shards.log", env: append(without(os.Environ(), makeRunConfig...),
		"DATABASE_SHARDS="+string(mapJSON),
		"DATABASE_IAM_AUTH=false",
		"REDIS_URL="+stack.RedisURL,
		"REDIS_CLUSTER=false",
		"JWT_SECRET="+hex.EncodeToString(secret),
	)})
	if err != nil {
		return err
	}
	defer local.stop()
	progress(fmt.Sprintf("shards: cmd/local serving %s (pid %d) over %d shards, setup took %s", local.base, local.cmd.Process.Pid, len(specs), time.Since(begun).Round(time.Millisecond)))

	before, err := projectsPerShard(ctx, set)
	if err != nil {
		return err
	}
	t := &target{base: local.base, data: data, collector: local.collector, localPID: local.cmd.Process.Pid, redisURL: stack.RedisURL, ownStack: true,
		notes: []string{fmt.Sprintf("%s* ran through cmd/local at %s over %d shards (DATABASE_SHARDS), each a PostgreSQL primary behind its own PgBouncer in transaction mode, on this machine's cores: the data set was seeded on the first and each organization the placement policy sends elsewhere moved there with shared/shard/move (%d of %d)",
			shardsPrefix, local.base, len(specs), moved, len(data.Orgs))}}
	n := len(rep.Scenarios)
	if err := drive(ctx, o, t, rep, scenarios, later{}); err != nil {
		return err
	}
	after, err := projectsPerShard(ctx, set)
	if err != nil {
		return err
	}
	for _, s := range rep.Scenarios[n:] {
		if s.Requests > 0 {
			rep.Notes = append(rep.Notes, shareNote(s, specs, before, after))
		}
	}
	return nil
}

// primarySet is a shard.Set over the shards' primaries themselves, for the moves (a move's final
// copy holds a transaction with SHARE locks, which a transaction-mode PgBouncer would serve as
// well; the primaries just spare a hop). It reads placements without a cache.
func primarySet(ctx context.Context, specs []shard.Spec, primaries []string) (*shard.Set, func(), error) {
	var pools []*db.Pool
	closeAll := func() {
		for _, p := range pools {
			p.Close()
		}
	}
	byWriter := map[string]string{}
	for i, sp := range specs {
		byWriter[sp.Writer] = primaries[i]
	}
	open := func(ctx context.Context, _ string, _ bool, _, url string) (shard.DB, error) {
		// Replica is never asked for: a move reads and writes primaries only.
		p, err := db.Open(ctx, db.Options{URL: byWriter[url], MaxConns: moveParallel + 1})
		if err != nil {
			return nil, err
		}
		pools = append(pools, p)
		return p, nil
	}
	set, err := shard.NewSet(specs, open, shard.Options{})
	if err != nil {
		return nil, closeAll, err
	}
	return set, closeAll, nil
}

// spreadOrgs moves every seeded organization whose placement is not the directory's shard to
// the shard the policy gives it, moveParallel at a time, and returns how many it moved. Nothing
// serves the shards yet, so the moves wait only the minimum between their steps.
func spreadOrgs(ctx context.Context, set *shard.Set, data *seed.Dataset) (int, error) {
	s, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		return 0, err
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, nil)
	if err != nil {
		return 0, err
	}
	opts := move.Options{Shards: set, Tables: eng.TenantTables(), LocalTTL: time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(moveParallel)
	moved := 0
	for _, org := range data.Orgs {
		to := set.Choose(org.ID)
		if to == set.Home() {
			continue
		}
		moved++
		g.Go(func() error {
			if _, err := move.Organization(gctx, opts, org.ID, to.Name()); err != nil {
				return fmt.Errorf("move organization %s to %s: %w", org.ID, to.Name(), err)
			}
			return nil
		})
	}
	return moved, g.Wait()
}

// projectsPerShard counts the projects on each shard's primary.
func projectsPerShard(ctx context.Context, set *shard.Set) ([]int64, error) {
	out := make([]int64, set.Len())
	for i, sh := range set.Shards() {
		conn, err := sh.Primary(ctx)
		if err != nil {
			return nil, err
		}
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM projects").Scan(&out[i]); err != nil {
			return nil, fmt.Errorf("count projects on %s: %w", sh.Name(), err)
		}
	}
	return out, nil
}

// shareNote says how the projects a scenario's run created (warm-up included) fell on the
// shards, and the write rate each share is of the measured throughput.
func shareNote(s *report.Scenario, specs []shard.Spec, before, after []int64) string {
	var total int64
	for i := range after {
		total += after[i] - before[i]
	}
	parts := make([]string, len(specs))
	for i, sp := range specs {
		share := 0.0
		if total > 0 {
			share = float64(after[i]-before[i]) / float64(total)
		}
		parts[i] = fmt.Sprintf("%s %.0f %% (%.0f writes/s)", sp.Name, share*100, share*s.OKRPS)
	}
	return fmt.Sprintf("%s: the %d projects created (warm-up included) fell on the shards as %s of its %.0f creates/s",
		s.Name, total, strings.Join(parts, ", "), s.OKRPS)
}
