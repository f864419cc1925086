package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// sessionsFile is where the embedded Redis's sessions wait between runs, next to the database
// whose users they belong to.
const sessionsFile = "redis-sessions.json"

// sessionPrefix is shared/auth's key prefix for sessions (sess:{id}, a hash) and their dead
// refresh tokens (sess:{id}:dead, a sorted set).
const sessionPrefix = "sess:"

// startRedis serves an in-process miniredis on a free loopback port and points host at it.
//
// miniredis implements what the functions use: EVALSHA and EVAL (go-redis scripts fall back from
// one to the other), the commands the scripts call, and TIME inside a script (the rate limiter's
// GCRA). It is made for tests, though, and by default its TTLs only move when told to
// (FastForward); ClockTTL makes them follow the wall clock, so cache entries, locks,
// idempotency records, rate-limit state and sessions expire as on a real server.
//
// Nothing in it survives the process except the sessions: with the embedded database, the
// sessions are written to <DataDir>/redis-sessions.json on a clean stop and read back at the next
// start, so that logins (whose tokens the persistent signing key keeps valid) survive a restart.
// Caches, rate limits and idempotency records start empty, which is what a restarted cache would
// hold anyway. A cluster created by this run (freshDB) has none of the saved sessions' users, so
// the file is dropped then instead of read.
func (s *services) startRedis(host map[string]string, opts serviceOptions, embeddedDB, freshDB bool) error {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("embedded Redis: %w", err)
	}
	snapshot := filepath.Join(opts.DataDir, sessionsFile)
	// Sessions belong with the embedded database's users: with an external database they are
	// not kept, and a cluster created by this run has none of the saved sessions' users.
	keep := embeddedDB
	restored := 0
	if keep && !freshDB {
		n, err := restoreSessions(m, snapshot)
		if err != nil {
			// Losing sessions only means logging in again: say so, and carry on.
			fmt.Fprintf(opts.Log, "local: sessions from the last run not restored: %v\n", err)
		}
		restored = n
	} else if err := os.Remove(snapshot); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(opts.Log, "local: %v\n", err)
	}
	s.stops = append(s.stops, func() {
		if keep {
			if err := saveSessions(m, snapshot); err != nil {
				fmt.Fprintf(opts.Log, "local: sessions not saved: %v\n", err)
			}
		}
		m.Close()
	})
	url := "redis://" + m.Addr() + "/0"
	host["REDIS_URL"] = url
	host["REDIS_CLUSTER"] = "false"
	s.Redis = "embedded miniredis " + url + " (in-process"
	if keep {
		s.Redis += fmt.Sprintf("; sessions kept in %s, %d restored", rel(snapshot), restored)
	} else {
		s.Redis += ", nothing kept"
	}
	s.Redis += ")"
	return nil
}

// storedKey is one Redis key in the sessions file.
type storedKey struct {
	Key  string             `json:"key"`
	Hash map[string]string  `json:"hash,omitempty"`
	ZSet map[string]float64 `json:"zset,omitempty"`
	// TTLMillis is the time to live left at save time; 0 for none.
	TTLMillis int64 `json:"ttlMillis,omitempty"`
}

// saveSessions writes the session keys to path, replacing it atomically so a crash mid-write
// leaves the previous file.
func saveSessions(m *miniredis.Miniredis, path string) error {
	var keys []storedKey
	for _, k := range m.Keys() {
		if !strings.HasPrefix(k, sessionPrefix) {
			continue
		}
		sk := storedKey{Key: k, TTLMillis: m.TTL(k).Milliseconds()}
		switch m.Type(k) {
		case "hash":
			fields, err := m.HKeys(k)
			if err != nil {
				continue // expired between Keys and HKeys
			}
			sk.Hash = make(map[string]string, len(fields))
			for _, f := range fields {
				sk.Hash[f] = m.HGet(k, f)
			}
		case "zset":
			set, err := m.SortedSet(k)
			if err != nil {
				continue
			}
			sk.ZSet = set
		default:
			continue // not a shape shared/auth writes
		}
		keys = append(keys, sk)
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	// 0600: refresh tokens are stored hashed, but a session id and its user id are still nobody
	// else's business.
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// restoreSessions loads the keys saveSessions wrote. A key whose TTL ran out while nothing was
// running is skipped: the time between runs counts, as it would on a server that kept running.
func restoreSessions(m *miniredis.Miniredis, path string) (int, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var keys []storedKey
	if err := json.Unmarshal(b, &keys); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	away := time.Since(fi.ModTime())
	n := 0
	for _, k := range keys {
		if !strings.HasPrefix(k.Key, sessionPrefix) {
			continue
		}
		ttl := time.Duration(k.TTLMillis) * time.Millisecond
		if ttl > 0 {
			if ttl -= away; ttl <= 0 {
				continue
			}
		}
		switch {
		case k.Hash != nil:
			for f, v := range k.Hash {
				m.HSet(k.Key, f, v)
			}
		case k.ZSet != nil:
			for member, score := range k.ZSet {
				if _, err := m.ZAdd(k.Key, score, member); err != nil {
					return n, err
				}
			}
		default:
			continue
		}
		if ttl > 0 {
			m.SetTTL(k.Key, ttl)
		}
		if !strings.HasSuffix(k.Key, ":dead") {
			n++
		}
	}
	return n, nil
}
