package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/db"
	"scaleapi/shared/devservices"
)

// redisDir is the embedded Redis's data directory under DataDir; its log is redisDir+".log".
const redisDir = "redis"

// legacySessionsFile is where an earlier, in-process Redis kept its sessions between runs. The
// real server keeps everything in redisDir, so the file is only removed.
const legacySessionsFile = "redis-sessions.json"

// startRedis runs a real redis-server from the machine's binaries on a free loopback port, with
// its data in <DataDir>/redis, and points host at it. The functions then run exactly as they do
// against ElastiCache: the same commands, scripts, timeouts and code paths, at a real server's
// speed.
//
// The server persists with its own append-only file (fsynced every second and on a clean stop),
// so sessions, refresh-token families, idempotency records and rate-limit state survive a
// restart, as they would on a server that kept running. What it holds is only kept when it
// belongs with the database: with the embedded database that this run did not create, the data
// is kept and the cache's epoch is advanced (see package cache), because the last run may have
// been killed within a second of an invalidation the file never got, and the entries cached
// before must not be read again. With a database this run created, or an external one, the
// server is emptied: its sessions would name users that database does not have.
//
// The server is stopped, and its data flushed to disk, by Stop.
func (s *services) startRedis(ctx context.Context, host map[string]string, opts serviceOptions, embeddedDB, freshDB bool) error {
	if err := os.Remove(filepath.Join(opts.DataDir, legacySessionsFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(opts.Log, "local: %v\n", err)
	}
	dir, err := filepath.Abs(filepath.Join(opts.DataDir, redisDir))
	if err != nil {
		return err
	}
	// As with the database: the server outlives the first Ctrl-C until the functions have
	// stopped (Stop), so its context is its own.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r, err := devservices.StartPersistentRedis(life, dir)
	if err != nil {
		cancel()
		return fmt.Errorf("embedded Redis: %w", err)
	}
	s.stops = append(s.stops, func() {
		if err := r.Stop(); err != nil {
			fmt.Fprintln(opts.Log, "local: embedded Redis:", err)
		}
		cancel()
	})
	state, err := prepareRedis(ctx, r.URL, host["DATABASE_URL"], embeddedDB && !freshDB)
	if err != nil {
		return fmt.Errorf("embedded Redis: %w", err)
	}
	host["REDIS_URL"] = r.URL
	host["REDIS_CLUSTER"] = "false"
	s.Redis = fmt.Sprintf("embedded redis-server %s (data in %s, log %s.log; %s)", r.URL, rel(dir), rel(dir), state)
	return nil
}

// prepareRedis keeps or empties what the server at redisURL loaded (see startRedis) and says
// which, for the banner.
func prepareRedis(ctx context.Context, redisURL, databaseURL string, keep bool) (string, error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return "", err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if !keep {
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			return "", err
		}
		return "emptied: its data belongs with another database", nil
	}
	n, err := rdb.DBSize(ctx).Result()
	if err != nil {
		return "", err
	}
	pool, err := db.Open(ctx, db.Options{URL: databaseURL, MaxConns: 1})
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if _, err := (db.CacheEpochs{Pool: pool}).Advance(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d keys restored, cache epoch advanced", n), nil
}
