#!/usr/bin/env bash
# Makes sure the servers the test harness (shared/devservices) and `make run` start are installed:
# PostgreSQL (initdb, postgres, pg_basebackup), PgBouncer, redis-server and redis-cli. Quick and
# silent when they are. Otherwise installs them with apt-get on Debian/Ubuntu (as root, or through
# sudo), or prints what to install and exits 1.
#
# The packages start system services on the default ports (5432, 6432, 6379) on install. They are
# left alone: the harness runs its own servers, as its own processes, on free ports, so the two
# never meet.
set -euo pipefail

have_postgres() {
  local dir
  if command -v initdb >/dev/null 2>&1; then
    dir=$(dirname "$(readlink -f "$(command -v initdb)")")
    [[ -x $dir/postgres && -x $dir/pg_basebackup ]] && return 0
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb && -x $dir/postgres && -x $dir/pg_basebackup ]] && return 0
  done
  return 1
}

# have NAME: on PATH, or in an sbin directory a non-root PATH may lack (Debian puts pgbouncer there).
have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  local dir
  for dir in /usr/sbin /usr/local/sbin; do
    [[ -x $dir/$1 ]] && return 0
  done
  return 1
}

missing=()
have_postgres || missing+=(postgresql)
have pgbouncer || missing+=(pgbouncer)
have redis-server || missing+=(redis-server)
have redis-cli || missing+=(redis-tools)
((${#missing[@]} == 0)) && exit 0

if command -v apt-get >/dev/null 2>&1; then
  sudo=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "missing: ${missing[*]}: run as root: apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "installing ${missing[*]}" >&2
  # policy-rc.d is not touched: starting the system services does no harm (see above), and
  # in containers without an init system the packages' start scripts simply do nothing.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  have_postgres && have pgbouncer && have redis-server && have redis-cli && exit 0
  echo "still missing after apt-get install: check the output above" >&2
  exit 1
fi

echo "missing: ${missing[*]}: install PostgreSQL, PgBouncer and Redis (Debian/Ubuntu: apt-get install postgresql pgbouncer redis-server redis-tools; macOS: brew install postgresql@16 pgbouncer redis)" >&2
exit 1
