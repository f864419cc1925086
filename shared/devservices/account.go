package devservices

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// fallbackUser is created when the machine has no postgres user yet (a Redis-only stack before
// PostgreSQL is installed). It is not called postgres so that the postgresql package can still
// create its own system user later.
const fallbackUser = "scaleapi-dev"

// account is the user the servers run as. When this process is not root it is this process's own
// user and cred is nil: nothing is switched and nothing is chowned.
type account struct {
	name string
	uid  int
	gid  int
	cred *syscall.Credential
}

var (
	accountOnce sync.Once
	accountVal  *account
	accountErr  error
)

// serverAccount returns the account to run servers as, looked up (and if need be created) once
// per process.
func serverAccount() (*account, error) {
	accountOnce.Do(func() { accountVal, accountErr = lookupAccount() })
	return accountVal, accountErr
}

func lookupAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return &account{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		u, err = user.Lookup(fallbackUser)
	}
	if err != nil {
		// PostgreSQL refuses to run as root, so as root there is no way around an unprivileged user.
		out, uerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", fallbackUser).CombinedOutput()
		if uerr != nil {
			return nil, fmt.Errorf("running as root needs an unprivileged user for the servers; useradd %s: %v: %s", fallbackUser, uerr, out)
		}
		if u, err = user.Lookup(fallbackUser); err != nil {
			return nil, fmt.Errorf("look up %s after useradd: %w", fallbackUser, err)
		}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	return &account{
		name: u.Username,
		uid:  uid,
		gid:  gid,
		// An empty Groups list drops root's supplementary groups too.
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
	}, nil
}

// switched reports whether servers run as another user than this process.
func (a *account) switched() bool { return a.cred != nil }

// own hands path to the server account, so a server can write in a directory this process made.
func (a *account) own(path string) error {
	if !a.switched() {
		return nil
	}
	if err := os.Chown(path, a.uid, a.gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, a.name, err)
	}
	return nil
}

// mkdir creates dir (and missing parents, traversable by everyone, so that the server account can
// reach dir) and gives dir to the server account.
func (a *account) mkdir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, perm); err != nil && !os.IsExist(err) {
		return err
	}
	return a.own(dir)
}

// checkReachable fails with a clear message when a parent of dir can't be searched by the server
// account: otherwise initdb or redis would fail later with a bare "permission denied". t.TempDir
// and home directories of root are the usual cases (mode 0700); the cure is a directory under /tmp,
// which is what an empty Dir gives.
func (a *account) checkReachable(dir string) error {
	if !a.switched() {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		searchable := mode&0o001 != 0 ||
			(ok && int(st.Uid) == a.uid && mode&0o100 != 0) ||
			(ok && int(st.Gid) == a.gid && mode&0o010 != 0)
		if !searchable {
			return fmt.Errorf("%s is not reachable by user %s (servers run as %s because this process is root): %s has mode %v; use a directory under /tmp (an empty Dir makes one)", dir, a.name, a.name, p, mode)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
