// Package devservices starts real PostgreSQL (a primary and a streaming replica), PgBouncer in
// transaction mode and Redis (standalone and a three-master cluster) on free loopback ports, and
// stops them again, so that tests and local runs talk to the same kinds of servers as production
// instead of fakes.
//
// The servers come from the binaries installed on the machine (see scripts/ensure-deps.sh); this
// package never installs anything. Every server listens on 127.0.0.1 only, on a port picked at
// start, so several stacks (parallel test binaries, a developer's `make run`) never collide, and
// none of them touches the system services the Debian packages may have started.
//
// PostgreSQL refuses to run as root, and CI runs as root: when the effective user is root, every
// server runs as an unprivileged account (the `postgres` system user, or one created for the
// purpose) and the directories it writes are handed to that account.
//
// Servers run in their own process groups and are also bound to this process with a parent-death
// signal, so a test binary that panics or is killed does not leave servers behind.
package devservices
