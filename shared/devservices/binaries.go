package devservices

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Install hints name exactly what to install, because "not found" alone sends a developer
// searching for package names.
const (
	hintPostgres  = "apt-get install postgresql (Debian/Ubuntu) or brew install postgresql@16"
	hintPgBouncer = "apt-get install pgbouncer (Debian/Ubuntu) or brew install pgbouncer"
	hintRedis     = "apt-get install redis-server (Debian/Ubuntu) or brew install redis"
)

// debianPostgresGlob is where Debian's postgresql packages put the server binaries; only the
// client wrappers are on PATH there.
const debianPostgresGlob = "/usr/lib/postgresql/*/bin"

// postgresBinDir returns the directory holding initdb, postgres and pg_basebackup. All three
// must come from the same directory: a pg_basebackup of another major version can't copy the
// primary, and on Debian /usr/bin/pg_basebackup is a wrapper that may pick any version.
//
// An initdb on PATH wins (resolved through symlinks to its real directory), because putting a
// PostgreSQL on PATH is how a developer chooses one; otherwise the highest version under
// /usr/lib/postgresql is used.
func postgresBinDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	dirs, _ := filepath.Glob(debianPostgresGlob)
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	candidates = append(candidates, dirs...)
	for _, dir := range candidates {
		if hasAll(dir, "initdb", "postgres", "pg_basebackup") {
			return dir, nil
		}
	}
	return "", fmt.Errorf("postgresql not found (initdb, postgres and pg_basebackup on PATH or under %s): %s", debianPostgresGlob, hintPostgres)
}

// versionOf reads the major version from /usr/lib/postgresql/<version>/bin, 0 if there is none.
func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func hasAll(dir string, names ...string) bool {
	for _, n := range names {
		if !isExecutable(filepath.Join(dir, n)) {
			return false
		}
	}
	return true
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// findBinary looks for name on PATH and then in the sbin directories, which are often missing from
// a non-root PATH although Debian installs pgbouncer there.
func findBinary(name, hint string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/opt/homebrew/bin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: %s", name, hint)
}

// binaries holds the paths of the servers one Start needs; only what the Options ask for is looked
// up, so a Redis-only test does not need PostgreSQL installed.
type binaries struct {
	pgBin     string
	pgbouncer string
	redis     string
}

func findBinaries(o Options) (binaries, error) {
	var b binaries
	var errs []error
	var err error
	if o.Postgres {
		if b.pgBin, err = postgresBinDir(); err != nil {
			errs = append(errs, err)
		}
	}
	if o.PgBouncer {
		if b.pgbouncer, err = findBinary("pgbouncer", hintPgBouncer); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Redis || o.RedisCluster {
		if b.redis, err = findBinary("redis-server", hintRedis); err != nil {
			errs = append(errs, err)
		}
	}
	return b, errors.Join(errs...)
}

// postgresMajor returns the major version of the postgres binary in binDir ("15"), which must match
// the PG_VERSION of a data directory it is to run.
func postgresMajor(binDir string) (string, error) {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("postgres --version: %w", err)
	}
	// "postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return "", fmt.Errorf("postgres --version: unexpected output %q", out)
	}
	major, _, _ := strings.Cut(fields[2], ".")
	return major, nil
}
