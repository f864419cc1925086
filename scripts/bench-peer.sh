#!/usr/bin/env bash
# make bench-peer: scaleapi's server mode against the NestJS + TypeORM + Redis peer
# (../shared/peers/nestjs-apso beside the checkout), on the same data, with the same wrk scenarios, threads,
# warm-up, duration and concurrencies, one after the other for each scenario and concurrency.
#
#   1. build: the peer in a temporary copy (npm ci, tsc; npm cache in .local/npm-cache), and
#      functions/server, cmd/devservices and cmd/migrate
#   2. services: the peer's own PostgreSQL (:55432) and Redis (:56379) from its bench/services.sh;
#      ours from `devservices up` (PostgreSQL primary + streaming replica, PgBouncer, Redis) on
#      free loopback ports, migrated with cmd/migrate
#   3. data: the peer's seed (100 organizations, 1,000 users, 10,000 projects, 100,000 tasks,
#      deterministic ids); the same rows, ids included, written by SQL into our schema
#   4. fixtures: real logins on both (the peer's fixtures.js; POST /auth/login on ours), the peer's
#      smoke test, and ours (status, page sizes, task counts)
#   5. cold start x COLD_STARTS each (the peer's cold-start.js: spawn -> first 200 on an
#      authenticated GET /projects/{id}, with the cache empty)
#   6. load: for each scenario and concurrency, the peer's run and ours back to back under
#      flock $BENCH_LOCK, which of the two goes first alternating; WARMUP_S discarded, then
#      DURATION_S measured (wrk -t$THREADS --latency --timeout 10s, the peer's RESULT line)
#   7. memory (VmRSS, VmHWM) of both servers after the runs; bench-results/peer.md; stop
#
# Scenarios (SCENARIOS, in this order; d last because it inserts rows):
#   a   GET one project (both cached: the peer's project:<id> for 300 s, ours the entity for 300 s)
#   b   a project with its 10 tasks (peer: ?include=tasks, never cached; ours: ?join=tasks, which
#       ours caches for the list TTL, 60 s)
#   b0  b with cache=0 on ours, so every request reads the database, as the peer's b does
#   c   an organization's projects, 20 per page, newest first (both cached 60 s)
#   e   report summary (ours cached 60 s; the peer never caches it)
#   e0  report summary, both uncached: ours runs a second server whose report cache expires after
#       1 ms (LIST_CACHE_TTL=1ms), so requests miss, save those that join a concurrent read of
#       the same report (the replica's index scans are counted to show how many read it)
#   d   create a project (201)
#
# Knobs (environment): DURATION_S=20 WARMUP_S=5 THREADS=2 CONNECTIONS="32 128"
#   SCENARIOS="a b b0 c e e0 d" COLD_STARTS=3 BENCH_LOCK=/tmp/bench.lock
#   BUSY_PCT=25 RETRIES=6: a pair during which processes this script did not start used more than
#   BUSY_PCT% of a core is run once more (at most RETRIES times in all; the first try is kept in
#   runs-disturbed.jsonl); the share of each run's CPU others took is in the report either way.
#   Before each pair (and the cold starts) it waits until others use at most BUSY_PCT% of a core,
#   QUIET_WAIT_S=300 seconds at most over the whole run
#   PEER_SRC=../shared/peers/nestjs-apso OUT=bench-results/peer REPORT=bench-results/peer.md
#   MATCH_PG=1 gives the peer's PostgreSQL the settings of ours (devservices: fsync, full_page_writes
#   and synchronous_commit off, jit off), so that durability settings are not what is compared;
#   MATCH_PG=0 keeps the peer's defaults. KEEP_WORK=1 keeps the temporary directory.
#
# Loopback only; everything it starts it stops on exit (trap), by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

PEER_SRC=${PEER_SRC:-$REPO/../shared/peers/nestjs-apso}
DURATION_S=${DURATION_S:-20}
WARMUP_S=${WARMUP_S:-5}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-"32 128"}
SCENARIOS=${SCENARIOS:-"a b b0 c e e0 d"}
COLD_STARTS=${COLD_STARTS:-3}
BUSY_PCT=${BUSY_PCT:-25}
QUIET_WAIT_S=${QUIET_WAIT_S:-300}
RETRIES=${RETRIES:-6}
BENCH_LOCK=${BENCH_LOCK:-/tmp/bench.lock}
MATCH_PG=${MATCH_PG:-1}
OUT=${OUT:-$REPO/bench-results/peer}
REPORT=${REPORT:-$REPO/bench-results/peer.md}
GO=${GO:-go}
BEGAN=$(date +%s)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf 'bench-peer: %s\n' "$*" >&2
  exit 1
}

for s in $SCENARIOS; do
  case $s in a | b | b0 | c | d | e | e0) ;; *) die "unknown scenario '$s' in SCENARIOS (known: a b b0 c e e0 d)" ;; esac
done
for v in DURATION_S WARMUP_S THREADS COLD_STARTS BUSY_PCT RETRIES QUIET_WAIT_S; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((DURATION_S > 0)) || die "DURATION_S must be positive"
[[ -f $PEER_SRC/run-bench.sh && -f $PEER_SRC/bench/services.sh ]] || die "no peer at PEER_SRC=$PEER_SRC (expected run-bench.sh and bench/services.sh)"

# --- 0. tools ------------------------------------------------------------------------------
bash scripts/ensure-deps.sh || die "PostgreSQL, PgBouncer or Redis missing (see above; make deps)"
if ! command -v wrk >/dev/null 2>&1; then
  if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
    log "installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
  else
    die "wrk is missing: install it (Debian/Ubuntu: sudo apt-get install -y wrk; macOS: brew install wrk)"
  fi
fi
missing=()
for t in node npm psql redis-cli redis-server curl jq flock "$GO"; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
((${#missing[@]} == 0)) || die "missing: ${missing[*]} (Debian/Ubuntu: apt-get install -y nodejs npm postgresql-client redis-tools curl jq util-linux; Go from go.dev)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "the peer needs Node 20 or newer, found $(node -v)"
# The peer's services.sh runs PostgreSQL from PG_BIN (15 by default): the newest installed if not.
if [[ -z ${PG_BIN:-} ]]; then
  PG_BIN=/usr/lib/postgresql/15/bin
  if [[ ! -x $PG_BIN/initdb ]]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  fi
fi
[[ -x ${PG_BIN:-}/initdb && -x $PG_BIN/pg_ctl ]] || die "no PostgreSQL server binaries (initdb, pg_ctl) in PG_BIN=${PG_BIN:-}; set PG_BIN"
export PG_BIN
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
export PG_PORT REDIS_PORT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PG_PORT" "$REDIS_PORT"; do
  if port_busy "$p"; then
    die "127.0.0.1:$p is taken (another peer run?): stop it, or set PG_PORT / REDIS_PORT to free ports"
  fi
done
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# --- state and cleanup -----------------------------------------------------------------------
WORK=$(mktemp -d /tmp/bench-peer.XXXXXX)
chmod 755 "$WORK"
rm -rf "$OUT"
mkdir -p "$OUT/raw"
PEER_PID= OURS_PID= OURS2_PID= DS_PID=
PG_PID= REDIS_PID= PG_TMP= REDIS_LOG=

stop_pid() { # $1: pid; SIGTERM, then SIGKILL after 30 s
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$PEER_PID"
  stop_pid "$OURS_PID"
  stop_pid "$OURS2_PID"
  stop_pid "$DS_PID" # devservices up stops its servers before it exits
  if declare -F stop_redis >/dev/null; then stop_redis || true; fi
  if declare -F stop_postgres >/dev/null; then stop_postgres || true; fi
  if [[ ${KEEP_WORK:-0} = 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  ((rc == 0)) || log "failed (exit $rc); logs in $OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
set -E
trap 'log "failed: line $LINENO: $BASH_COMMAND"' ERR

[[ -e $BENCH_LOCK ]] || (umask 000 && : >>"$BENCH_LOCK")
exec {LOCK_FD}<"$BENCH_LOCK"
lock() {
  if ! flock -n "$LOCK_FD"; then
    log "waiting for $BENCH_LOCK (another benchmark is running)"
    flock "$LOCK_FD"
  fi
}
unlock() { flock -u "$LOCK_FD"; }

# --- 1. build ------------------------------------------------------------------------------
log "build: functions/server, cmd/devservices, cmd/migrate"
mkdir -p "$WORK/bin"
# The Dockerfile's build of the server, flag for flag (lambda.norpc leaves out aws-lambda-go's
# net/rpc mode, whose use of reflect.Method makes the linker keep every exported method of every
# type held in an interface (all of go-redis's commands, for one): 30.3 MB without it,
# 20.7 MB with it, amd64).
CGO_ENABLED=0 $GO build -trimpath -tags lambda.norpc -ldflags='-s -w -buildid=' -o "$WORK/bin/server" ./functions/server
$GO build -o "$WORK/bin/devservices" ./cmd/devservices
$GO build -o "$WORK/bin/migrate" ./cmd/migrate

log "build: the peer (npm ci + tsc in $WORK/peer)"
PEER=$WORK/peer
cp -r "$PEER_SRC" "$PEER"
chmod -R u+w "$PEER"
rm -rf "$PEER/node_modules" "$PEER/dist" "$PEER/data" "$PEER/results"
mkdir -p "$REPO/.local/npm-cache"
(cd "$PEER" && npm ci --no-audit --no-fund --loglevel=error --cache "$REPO/.local/npm-cache" >"$OUT/npm-ci.log" 2>&1) ||
  die "npm ci failed: see $OUT/npm-ci.log"
(cd "$PEER" && npm run -s build >"$OUT/peer-build.log" 2>&1) || die "the peer's build failed: see $OUT/peer-build.log"

# --- 2. services -----------------------------------------------------------------------------
log "services: the peer's PostgreSQL :$PG_PORT and Redis :$REDIS_PORT (its bench/services.sh)"
# shellcheck source=/dev/null
source "$PEER/bench/services.sh"
start_postgres >"$OUT/peer-services.log"
start_redis >>"$OUT/peer-services.log"
PEER_DB="postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
PEER_REDIS="redis://127.0.0.1:$REDIS_PORT"
PEER_PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qAt -v ON_ERROR_STOP=1 "$PG_DB")
if [[ $MATCH_PG = 1 ]]; then
  for s in fsync=off full_page_writes=off synchronous_commit=off jit=off wal_writer_delay=10ms; do
    "${PEER_PSQL[@]}" -c "ALTER SYSTEM SET ${s%%=*} = '${s#*=}'" >/dev/null
  done
  "${PEER_PSQL[@]}" -c "SELECT pg_reload_conf()" >/dev/null
fi

log "services: ours (devservices up: primary, replica, PgBouncer, Redis)"
"$WORK/bin/devservices" up -dir "$WORK/ds" >"$OUT/devservices.env" 2>"$OUT/devservices.log" &
DS_PID=$!
for ((i = 0; i < 1200; i++)); do
  [[ -s $WORK/ds/env ]] && break
  kill -0 "$DS_PID" 2>/dev/null || die "devservices up exited: see $OUT/devservices.log"
  sleep 0.1
done
[[ -s $WORK/ds/env ]] || die "devservices up did not start within 120 s: see $OUT/devservices.log"
# shellcheck source=/dev/null
source "$WORK/ds/env"
OURS_PRIMARY=$SCALEAPI_TEST_PRIMARY_URL
OURS_REPLICA=$SCALEAPI_TEST_REPLICA_URL
OURS_POOLER=$SCALEAPI_TEST_POOLER_URL
OURS_REDIS=$SCALEAPI_TEST_REDIS_URL
OURS_PSQL=(psql "$OURS_PRIMARY" -qAt -v ON_ERROR_STOP=1)
DATABASE_URL=$OURS_PRIMARY "$WORK/bin/migrate" up >"$OUT/migrate.log" 2>&1 || die "migrations failed: see $OUT/migrate.log"

# --- servers ---------------------------------------------------------------------------------
PEER_PORT=${PEER_PORT:-$(free_port)}
OURS_PORT=${OURS_PORT:-$(free_port)}
OURS2_PORT=$(free_port)
PEER_URL=http://127.0.0.1:$PEER_PORT
OURS_URL=http://127.0.0.1:$OURS_PORT
OURS2_URL=http://127.0.0.1:$OURS2_PORT
PEER_SECRET=apso-peer-bench-secret-change-me
OURS_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
PEER_FIX=$PEER/data/fixtures
OURS_FIX=$WORK/fixtures
mkdir -p "$OURS_FIX"
# The peer's variables (its src/config/env.ts) and ours (shared/config, functions/server). Ours:
# writes through PgBouncer, reports from the replica (devservices has no pooler in front of it),
# the rate limit out of the way, access tokens that outlive the run (the peer's last 1 h too).
peer_env=(NODE_ENV=production APP_HOST=127.0.0.1 "APP_PORT=$PEER_PORT" "DATABASE_URL=$PEER_DB"
  "DATABASE_REPLICA_URL=$PEER_DB" "REDIS_URL=$PEER_REDIS" "JWT_SECRET=$PEER_SECRET")
ours_env=("DATABASE_URL=$OURS_POOLER" "DATABASE_READER_URL=$OURS_REPLICA" "REDIS_URL=$OURS_REDIS"
  "JWT_SECRET=$OURS_SECRET" HOST=127.0.0.1 "PORT=$OURS_PORT" RATE_LIMIT_PER_MINUTE=100000000
  ACCESS_TOKEN_TTL=1h)
unset GOMAXPROCS

wait_http() { # $1 url, $2 pid, $3 log: any HTTP answer means listening
  local i
  for ((i = 0; i < 600; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) != 000 ]] && return 0
    kill -0 "$2" 2>/dev/null || die "server (pid $2) exited while starting: see $3"
    sleep 0.05
  done
  die "server did not answer $1 within 30 s: see $3"
}
start_peer() {
  (cd "$PEER" && exec env "${peer_env[@]}" node dist/main.js) >>"$OUT/peer-server.log" 2>&1 &
  PEER_PID=$!
  wait_http "$PEER_URL/projects/x" "$PEER_PID" "$OUT/peer-server.log"
}
# Our server writes one JSON line (with its metrics) per request at every LOG_LEVEL; under load
# that is tens of MB a second, so the load instances write stdout to /dev/null (stderr, where a
# panic would go, is kept). The peer logs errors only (NODE_ENV=production).
start_ours() { # $1: stdout (a file or /dev/null)
  env "${ours_env[@]}" "$WORK/bin/server" >>"$1" 2>>"$OUT/ours-server.stderr.log" &
  OURS_PID=$!
  wait_http "$OURS_URL/livez" "$OURS_PID" "$OUT/ours-server.stderr.log"
}
start_ours2() { # e0: the report cache expires after 1 ms
  env "${ours_env[@]}" "PORT=$OURS2_PORT" LIST_CACHE_TTL=1ms "$WORK/bin/server" >/dev/null 2>>"$OUT/ours-server.stderr.log" &
  OURS2_PID=$!
  wait_http "$OURS2_URL/livez" "$OURS2_PID" "$OUT/ours-server.stderr.log"
}

# --- 3. data -----------------------------------------------------------------------------------
log "seed: the peer (its dist/scripts/seed.js)"
(cd "$PEER" && env "${peer_env[@]}" node dist/scripts/seed.js) >"$OUT/peer-seed.json" || die "the peer's seed failed"
cat "$OUT/peer-seed.json" >&2

log "seed: ours (the same rows and ids, by SQL; one password hash from POST /auth/register)"
start_ours "$OUT/ours-server.setup.log"
reg=$(curl -s -o "$WORK/register.json" -w '%{http_code}' -X POST "$OURS_URL/auth/register" -H 'Content-Type: application/json' \
  -d '{"email":"bench-hash@example.com","password":"password","name":"Bench Hash"}')
[[ $reg = 201 ]] || die "POST /auth/register answered $reg: $(head -c 500 "$WORK/register.json")"
HASH=$("${OURS_PSQL[@]}" -c "SELECT password_hash FROM users WHERE email = 'bench-hash@example.com'")
# The peer's deterministic ids: md5('<kind>-<n>') shaped as a v4 uuid (its src/scripts/seed-data.ts).
u() { echo "overlay(overlay(md5('$1-' || ($2)) placing '4' from 13) placing '8' from 17)::uuid"; }
E="timestamptz '2025-01-01 00:00:00+00'"
cat >"$WORK/seed.sql" <<SQL
BEGIN;
DELETE FROM users WHERE email = 'bench-hash@example.com';
INSERT INTO organizations (id, name, created_at, updated_at)
SELECT $(u org n), 'Organization ' || n, $E + n * interval '1 hour', $E + n * interval '1 hour'
FROM generate_series(1, 100) AS n;
INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
SELECT $(u user n), 'user' || n || '@example.com', 'User ' || n, :'hash',
       $E + n * interval '1 minute', $E + n * interval '1 minute'
FROM generate_series(1, 1000) AS n;
-- user n belongs to organization ceil(n / 10); the first of each is its owner
INSERT INTO memberships (organization_id, user_id, role, created_at)
SELECT $(u org "(n - 1) / 10 + 1"), $(u user n),
       CASE WHEN (n - 1) % 10 = 0 THEN 'owner' ELSE 'member' END, $E + n * interval '1 minute'
FROM generate_series(1, 1000) AS n;
-- project n belongs to organization (n - 1) % 100 + 1; statuses rotate within each organization
INSERT INTO projects (id, organization_id, name, description, status, created_at, updated_at)
SELECT $(u project n), $(u org "(n - 1) % 100 + 1"), 'Project ' || n,
       'Seeded project number ' || n || ' used for side-by-side API benchmarks.',
       (ARRAY['planning','active','on_hold','completed','archived'])[1 + ((n - 1) / 100) % 5],
       $E + n * interval '47 minutes', $E + n * interval '47 minutes' + interval '1 day'
FROM generate_series(1, 10000) AS n;
-- task n belongs to project (n - 1) % 10000 + 1. The peer's statuses are todo, in_progress,
-- blocked, done; ours has no blocked, so its blocked tasks are in_progress here.
INSERT INTO tasks (id, project_id, organization_id, title, status, created_at, updated_at)
SELECT $(u task n), $(u project "(n - 1) % 10000 + 1"), $(u org "(n - 1) % 100 + 1"), 'Task ' || n,
       (ARRAY['todo','in_progress','in_progress','done'])[1 + ((n - 1) / 10000) % 4],
       $E + ((n - 1) % 10000 + 1) * interval '47 minutes' + ((n - 1) / 10000) * interval '1 hour',
       $E + ((n - 1) % 10000 + 1) * interval '47 minutes' + ((n - 1) / 10000) * interval '1 hour'
FROM generate_series(1, 100000) AS n;
COMMIT;
SQL
"${OURS_PSQL[@]}" -v hash="$HASH" -f "$WORK/seed.sql" >/dev/null
# VACUUM until the visibility map is set (the replica's feedback can hold it back for a moment):
# the report's counts are index-only scans.
for ((i = 0; i < 60; i++)); do
  "${OURS_PSQL[@]}" -c "VACUUM (ANALYZE) organizations, users, memberships, projects, tasks" >/dev/null
  [[ $("${OURS_PSQL[@]}" -c "SELECT bool_and(relallvisible >= relpages) FROM pg_class WHERE relname IN ('projects', 'tasks') AND relnamespace = 'public'::regnamespace") = t ]] && break
  sleep 0.5
done
wait_replay() { # the replica has replayed everything the primary has written
  local lsn i
  lsn=$("${OURS_PSQL[@]}" -c "SELECT pg_current_wal_insert_lsn()")
  for ((i = 0; i < 600; i++)); do
    [[ $(psql "$OURS_REPLICA" -qAt -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn") = t ]] && return 0
    sleep 0.1
  done
  die "the replica did not replay $lsn within 60 s"
}
wait_replay
"${OURS_PSQL[@]}" -c "SELECT json_build_object('seeded', json_build_object('organizations', (SELECT count(*) FROM organizations), 'users', (SELECT count(*) FROM users), 'memberships', (SELECT count(*) FROM memberships), 'projects', (SELECT count(*) FROM projects), 'tasks', (SELECT count(*) FROM tasks)))" | tee "$OUT/ours-seed.json" >&2

# --- 4. fixtures + smoke ---------------------------------------------------------------------------
log "fixtures + smoke: the peer (its fixtures.js and smoke.js)"
start_peer
(cd "$PEER" && env "${peer_env[@]}" BASE_URL="$PEER_URL" FIXTURES_DIR="$PEER_FIX" node dist/scripts/fixtures.js) >&2 ||
  die "the peer's fixtures failed"
(cd "$PEER" && env "${peer_env[@]}" BASE_URL="$PEER_URL" node dist/scripts/smoke.js "$PEER_FIX") >"$OUT/peer-smoke.txt" ||
  die "the peer's smoke test failed: see $OUT/peer-smoke.txt"
tail -1 "$OUT/peer-smoke.txt" >&2
stop_pid "$PEER_PID"
PEER_PID=
"${PEER_PSQL[@]}" -c "DELETE FROM projects WHERE name LIKE 'smoke-%'" >/dev/null

log "fixtures: ours (the same member of each organization as the peer's, logged in through POST /auth/login)"
# The peer's choice (its fixtures.ts): the lowest e-mail of each organization's members.
"${OURS_PSQL[@]}" -F $'\t' -c "SELECT DISTINCT ON (m.organization_id) m.organization_id, u.email
  FROM memberships m JOIN users u ON u.id = m.user_id ORDER BY m.organization_id, u.email" >"$WORK/members.tsv"
: >"$OURS_FIX/orgs.tsv"
while IFS=$'\t' read -r org email; do
  code=$(curl -s -o "$WORK/login.json" -w '%{http_code}' -X POST "$OURS_URL/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"password\"}")
  [[ $code = 200 ]] || die "POST /auth/login as $email answered $code: $(head -c 300 "$WORK/login.json")"
  printf '%s\t%s\n' "$(jq -r .accessToken "$WORK/login.json")" "$org" >>"$OURS_FIX/orgs.tsv"
done <"$WORK/members.tsv"
"${OURS_PSQL[@]}" -F $'\t' -c "SELECT id, organization_id FROM projects ORDER BY id" >"$WORK/projects.tsv"
awk -F'\t' 'NR == FNR { tok[$2] = $1; next } { printf "%s\t%s\t%s\n", tok[$2], $1, $2 }' \
  "$OURS_FIX/orgs.tsv" "$WORK/projects.tsv" >"$OURS_FIX/projects.tsv"
echo "{\"fixtures\":\"$OURS_FIX\",\"organizations\":$(wc -l <"$OURS_FIX/orgs.tsv"),\"projects\":$(wc -l <"$OURS_FIX/projects.tsv")}" >&2

log "smoke: ours (each scenario's route, page sizes, counts)"
IFS=$'\t' read -r OT OP OO < <(head -1 "$OURS_FIX/projects.tsv")
smoke_fail=0
check() { # $1 name, $2 jq filter that must be true, $3 expected status, $4 method, $5 path, [$6 body]
  local code ok
  if [[ $4 = POST ]]; then
    code=$(curl -s -o "$WORK/smoke.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $OT" -H 'Content-Type: application/json' -d "$6" "$OURS_URL$5")
  else
    code=$(curl -s -o "$WORK/smoke.json" -w '%{http_code}' -H "Authorization: Bearer $OT" "$OURS_URL$5")
  fi
  ok=$(jq -r "$2" "$WORK/smoke.json" 2>/dev/null || echo false)
  if [[ $code = "$3" && $ok = true ]]; then
    echo "ok   $1"
  else
    echo "FAIL $1 -> HTTP $code: $(head -c 300 "$WORK/smoke.json")"
    smoke_fail=1
  fi
}
LIST_PATH="/projects?filter=organizationId%7C%7C%24eq%7C%7C$OO&sort=createdAt%2CDESC&limit=20"
{
  check "GET project -> 200" ".id == \"$OP\"" 200 GET "/projects/$OP"
  check "join=tasks -> 200 with 10 tasks" "(.tasks | length) == 10 and all(.tasks[]; .projectId == \"$OP\")" 200 GET "/projects/$OP?join=tasks"
  check "join=tasks&cache=0 -> 200 with 10 tasks" "(.tasks | length) == 10" 200 GET "/projects/$OP?join=tasks&cache=0"
  check "list -> 200, 20 of the organization's, newest first" "(.data | length) == 20 and all(.data[]; .organizationId == \"$OO\") and ([.data[].createdAt] == ([.data[].createdAt] | sort | reverse))" 200 GET "$LIST_PATH"
  check "summary -> 200, 100 projects, 1000 tasks" "([.projectsByStatus[]] | add) == 100 and ([.tasksByStatus[]] | add) == 1000" 200 GET "/reports/organizations/$OO/summary"
  check "POST project -> 201" ".organizationId == \"$OO\" and .status == \"planning\"" 201 POST /projects \
    "{\"organizationId\":\"$OO\",\"name\":\"smoke-create\",\"description\":\"Created by the wrk POST scenario.\",\"status\":\"planning\"}"
} | tee "$OUT/ours-smoke.txt" >&2
grep -q '^FAIL' "$OUT/ours-smoke.txt" && die "our smoke test failed: see $OUT/ours-smoke.txt"
"${OURS_PSQL[@]}" -c "DELETE FROM projects WHERE name LIKE 'smoke-%'" >/dev/null
stop_pid "$OURS_PID"
OURS_PID=

# --- CPU accounting -------------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU ticks of every process descended from the given roots, roots included: utime + stime, plus
# cutime + cstime (the children that exited in between). This script and the peer's postmaster
# (which pg_ctl detaches) cover everything the run started.
tree_ticks() {
  ps -e -o pid=,ppid= | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      do { changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
      } while (changed)
      for (p in keep) print p
    }' | while read -r p; do sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
    awk '{ s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}
# "pid ticks comm" of every process (utime + stime), to name the others' biggest consumers.
proc_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '{ o = index($0, "("); c = index($0, ") "); split(substr($0, c + 2), f, " ");
    comm = substr($0, o + 1, c - o - 1); gsub(/ /, "_", comm); print $1, f[12] + f[13], comm }'
}
# The three processes outside this run that used the most CPU between two proc_ticks snapshots.
foreign_top() { # $1 before, $2 after
  awk -v t="$CLK_TCK" -v d="$DURATION_S" -v self="$$" -v pg="${PG_PID:-0}" '
    FILENAME == ARGV[1] { before[$1] = $2; next }
    FILENAME == ARGV[2] { after[$1] = $2; comm[$1] = $3; next }
    { parent[$1] = $2; pids[FNR] = $1 }
    END {
      keep[self] = 1; if (pg + 0 > 0) keep[pg] = 1
      do { changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
      } while (changed)
      for (p in after) if (!(p in keep)) { x = after[p] - before[p]; if (x > 0) print x, comm[p] "(" p ")" }
    }' "$1" "$2" <(ps -e -o pid=,ppid=) | sort -rn | head -3 |
    awk -v t="$CLK_TCK" -v d="$DURATION_S" '{ printf "%s%s %.0f%%", (NR > 1 ? ", " : ""), $2, 100 * $1 / t / d }'
}
# CPU ticks of a side's services: the peer's PostgreSQL and Redis; ours' devservices tree
# (primary, replica, PgBouncer, Redis, and the idle shards and cluster beside them).
services_ticks() { if [[ $1 = peer ]]; then tree_ticks "$PG_PID" "$REDIS_PID"; else tree_ticks "$DS_PID"; fi; }
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # user nice system irq softirq
# Waits until processes this run did not start use at most BUSY_PCT% of a core (over 2 s), for at
# most what is left of QUIET_WAIT_S.
QUIET_LEFT=$QUIET_WAIT_S
wait_quiet() {
  local m0 t0 busy said=0
  while :; do
    m0=$(machine_ticks)
    t0=$(tree_ticks "$$" "${PG_PID:-}")
    sleep 2
    busy=$(awk -v m="$(($(machine_ticks) - m0))" -v o="$(($(tree_ticks "$$" "${PG_PID:-}") - t0))" -v t="$CLK_TCK" \
      'BEGIN {x = 100 * (m - o) / t / 2; printf "%.0f", x < 0 ? 0 : x}')
    ((busy <= BUSY_PCT)) && return 0
    if ((QUIET_LEFT <= 0)); then
      ((said)) && log "still ${busy}%: going on (QUIET_WAIT_S spent)"
      return 0
    fi
    ((said)) || log "other processes use ${busy}% of a core: waiting (up to ${QUIET_LEFT} s more in this run)"
    said=1
    QUIET_LEFT=$((QUIET_LEFT - 2))
  done
}
CLK_TCK=$(getconf CLK_TCK)

# --- 5. cold starts ------------------------------------------------------------------------------
flush_peer() { redis-cli -u "$PEER_REDIS" flushall >/dev/null; }
# Our sessions live in Redis (a token's session must exist): empty everything else, the cache.
flush_ours() {
  redis-cli -u "$OURS_REDIS" --scan | { grep -v '^sess:' || true; } |
    xargs -r -d '\n' -n 500 redis-cli -u "$OURS_REDIS" DEL >/dev/null
}
: >"$OUT/coldstart.jsonl"
cold_peer() {
  local r
  flush_peer
  r=$(cd "$PEER" && env "${peer_env[@]}" node dist/scripts/cold-start.js "$PEER_FIX" 2>>"$OUT/peer-server.log" | grep '^{"coldStartMs"') ||
    die "the peer's cold start failed: see $OUT/peer-server.log"
  echo "{\"side\":\"peer\",${r#\{}" | tee -a "$OUT/coldstart.jsonl" >&2
}
cold_ours() {
  local r
  flush_ours
  # The peer's cold-start.js, spawning our binary (through bash -c "exec …", as it runs any SERVER_CMD).
  r=$(cd "$PEER" && env "${ours_env[@]}" APP_HOST=127.0.0.1 "APP_PORT=$OURS_PORT" \
    SERVER_CMD="$WORK/bin/server >>$OUT/ours-server.coldstart.log 2>&1" node dist/scripts/cold-start.js "$OURS_FIX" |
    grep '^{"coldStartMs"') || die "our cold start failed: see $OUT/ours-server.coldstart.log"
  echo "{\"side\":\"ours\",${r#\{}" | tee -a "$OUT/coldstart.jsonl" >&2
}
if ((COLD_STARTS > 0)); then
  log "cold start x$COLD_STARTS each (spawn -> first 200 on GET /projects/{id}, cache empty)"
  wait_quiet
  lock
  for ((i = 1; i <= COLD_STARTS; i++)); do
    if ((i % 2)); then cold_peer && cold_ours; else cold_ours && cold_peer; fi
  done
  unlock
fi

# --- 6. load -----------------------------------------------------------------------------------------
rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# Bytes wrk read ("N requests in 20.00s, 12.34MB read"), in bytes.
wrk_bytes() {
  awk '/requests in .* read$/ {v = $(NF - 1); u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
    m = (u == "KB") ? 1024 : (u == "MB") ? 1048576 : (u == "GB") ? 1073741824 : 1; printf "%.0f", v * m}' "$1"
}
wrk_non2xx() { awk '/Non-2xx or 3xx responses:/ {print $NF; f = 1} END {if (!f) print 0}' "$1"; }

declare -A PEER_SCRIPT=([a]=get-project [b]=get-project-tasks [b0]=get-project-tasks [c]=list-projects [d]=create-project [e]=report-summary [e0]=report-summary)
declare -A OURS_SCRIPT=([a]=get-project [b]=get-project-tasks [b0]=get-project-tasks [c]=list-projects [d]=create-project [e]=report-summary [e0]=report-summary)
: >"$OUT/runs.jsonl"
PAIR_FILE=$WORK/pair.jsonl

run_wrk() { # $1 script, $2 connections, $3 seconds, $4 output, $5 url; FIXTURES_DIR etc. from the caller
  wrk -t"$THREADS" -c"$2" -d"$3"s --timeout 10s --latency -s "$1" "$5" >"$4" 2>&1 ||
    die "wrk failed ($1 against $5): see $4"
  grep -q '^RESULT ' "$4" || die "no RESULT line from wrk ($1 against $5): see $4"
}
replica_scans() { # the report's index scans on the replica (pg_stat is flushed within ~10 s of idling)
  psql "$OURS_REPLICA" -qAt -c "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE indexrelname = 'tasks_organization_status_live_idx'"
}
run_one() { # $1 side (peer|ours), $2 scenario, $3 connections
  local side=$1 s=$2 c=$3 script url pid fix others=() nocache=0 warm raw cpu0 cpu1 o0=0 o1=0 p scans0= scans1= extra= sv0 sv1
  if [[ $side = peer ]]; then
    script=$PEER/bench/${PEER_SCRIPT[$s]}.lua url=$PEER_URL pid=$PEER_PID fix=$PEER_FIX
    others=("$OURS_PID" ${OURS2_PID:+"$OURS2_PID"})
  else
    script=$REPO/bench/peer/${OURS_SCRIPT[$s]}.lua url=$OURS_URL pid=$OURS_PID fix=$OURS_FIX
    others=("$PEER_PID")
    [[ $s = b0 ]] && nocache=1
    if [[ $s = e0 ]]; then
      url=$OURS2_URL pid=$OURS2_PID others+=("$OURS_PID")
    fi
  fi
  warm=$OUT/raw/$side-$s-c$c-warmup.txt
  raw=$OUT/raw/$side-$s-c$c.txt
  [[ $side = ours && $s = e0 ]] && scans0=$(replica_scans)
  FIXTURES_DIR=$fix PEER_BENCH_DIR=$PEER/bench NOCACHE=$nocache run_wrk "$script" "$c" "$WARMUP_S" "$warm" "$url"
  cpu0=$(cpu_ticks "$pid")
  sv0=$(services_ticks "$side")
  local m0 t0 m1 t1
  m0=$(machine_ticks)
  t0=$(tree_ticks "$$" "${PG_PID:-}")
  proc_ticks >"$WORK/ticks0"
  for p in "${others[@]}"; do o0=$((o0 + $(cpu_ticks "$p"))); done
  FIXTURES_DIR=$fix PEER_BENCH_DIR=$PEER/bench NOCACHE=$nocache run_wrk "$script" "$c" "$DURATION_S" "$raw" "$url"
  cpu1=$(cpu_ticks "$pid")
  sv1=$(services_ticks "$side")
  m1=$(machine_ticks)
  proc_ticks >"$WORK/ticks1"
  t1=$(tree_ticks "$$" "${PG_PID:-}")
  for p in "${others[@]}"; do o1=$((o1 + $(cpu_ticks "$p"))); done
  if [[ -n $scans0 ]]; then
    sleep 11 # idle backends flush their statistics after 10 s
    scans1=$(replica_scans)
    extra=",\"replica_report_scans\":$((scans1 - scans0)),\"requests_incl_warmup\":$(($(sed -n 's/^RESULT //p' "$warm" | jq .requests) + $(sed -n 's/^RESULT //p' "$raw" | jq .requests)))"
  fi
  local result bytes non2xx
  result=$(sed -n 's/^RESULT //p' "$raw")
  bytes=$(wrk_bytes "$raw")
  non2xx=$(wrk_non2xx "$raw")
  local line
  line=$(printf '{"side":"%s","scenario":"%s","connections":%s,"wrk":%s,"bytes_read":%s,"non2xx":%s,"server_cpu_pct":%s,"services_cpu_pct":%s,"idle_servers_cpu_pct":%s,"foreign_cpu_pct":%s,"foreign_top":"%s"%s}' \
    "$side" "$s" "$c" "$result" "${bytes:-0}" "$non2xx" \
    "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$CLK_TCK" -v d="$DURATION_S" 'BEGIN {printf "%.1f", 100 * (b - a) / t / d}')" \
    "$(awk -v a="$sv0" -v b="$sv1" -v t="$CLK_TCK" -v d="$DURATION_S" 'BEGIN {printf "%.1f", 100 * (b - a) / t / d}')" \
    "$(awk -v a="$o0" -v b="$o1" -v t="$CLK_TCK" -v d="$DURATION_S" 'BEGIN {printf "%.1f", 100 * (b - a) / t / d}')" \
    "$(awk -v m="$((m1 - m0))" -v o="$((t1 - t0))" -v t="$CLK_TCK" -v d="$DURATION_S" 'BEGIN {x = 100 * (m - o) / t / d; printf "%.1f", x < 0 ? 0 : x}')" \
    "$(foreign_top "$WORK/ticks0" "$WORK/ticks1")" "$extra")
  echo "$line" >>"$PAIR_FILE"
  printf '  %-4s %-3s c=%-4s %8.0f req/s  p50 %7.2f ms  p99 %8.2f ms  errors %s  non-2xx %s  others %s%% CPU\n' "$side" "$s" "$c" \
    "$(jq .wrk.rps <<<"$line")" "$(jq .wrk.p50_ms <<<"$line")" "$(jq .wrk.p99_ms <<<"$line")" "$(jq .wrk.errors <<<"$line")" "$non2xx" \
    "$(jq .foreign_cpu_pct <<<"$line")" >&2
}

sample() { # $1 side, $2 scenario, $3 method, $4 url, [$5 body]: status and body size of one request
  local tok code
  if [[ $1 = peer ]]; then tok=$PT; else tok=$OT; fi
  if [[ $3 = POST ]]; then
    code=$(curl -s -o "$WORK/sample.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' -d "$5" "$4")
  else
    code=$(curl -s -o "$WORK/sample.json" -w '%{http_code}' -H "Authorization: Bearer $tok" "$4")
  fi
  printf '{"side":"%s","scenario":"%s","status":%s,"body_bytes":%s}\n' "$1" "$2" "$code" "$(wc -c <"$WORK/sample.json")" >>"$OUT/payloads.jsonl"
  cp "$WORK/sample.json" "$OUT/raw/sample-$1-$2.json"
}

log "load: starting both servers (only the one under load gets requests; the other's CPU is recorded)"
flush_peer
flush_ours
start_peer
start_ours /dev/null
sleep 1
IDLE_RSS_PEER=$(rss_kb "$PEER_PID" VmRSS)
IDLE_RSS_OURS=$(rss_kb "$OURS_PID" VmRSS)

IFS=$'\t' read -r PT PP PO < <(head -1 "$PEER_FIX/projects.tsv")
: >"$OUT/payloads.jsonl"
sample peer a GET "$PEER_URL/projects/$PP"
sample ours a GET "$OURS_URL/projects/$OP"
sample peer b GET "$PEER_URL/projects/$PP?include=tasks"
sample ours b GET "$OURS_URL/projects/$OP?join=tasks"
sample peer c GET "$PEER_URL/organizations/$PO/projects?limit=20"
sample ours c GET "$OURS_URL$LIST_PATH"
sample peer e GET "$PEER_URL/organizations/$PO/reports/summary"
sample ours e GET "$OURS_URL/reports/organizations/$OO/summary"
sample peer d POST "$PEER_URL/organizations/$PO/projects" '{"name":"bench-sample","description":"Created by the wrk POST scenario.","status":"planning"}'
sample ours d POST "$OURS_URL/projects" "{\"organizationId\":\"$OO\",\"name\":\"bench-sample\",\"description\":\"Created by the wrk POST scenario.\",\"status\":\"planning\"}"

sidx=0
for s in $SCENARIOS; do
  log "scenario $s"
  if [[ $s = a ]]; then
    # Every project cached before (a) is measured, on both (the peer's prime.js, 16 in flight).
    lock
    (cd "$PEER" && env "${peer_env[@]}" BASE_URL="$PEER_URL" node dist/scripts/prime.js "$PEER_FIX") >&2 || die "priming the peer failed"
    (cd "$PEER" && env "${peer_env[@]}" BASE_URL="$OURS_URL" node dist/scripts/prime.js "$OURS_FIX") >&2 || die "priming ours failed"
    unlock
  fi
  if [[ $s = e0 ]]; then
    # The main server's 60 s report entries would be hits for the second one: empty the cache.
    flush_ours
    start_ours2
  fi
  pair=$sidx # which side goes first alternates from one concurrency to the next, and per scenario
  for c in $CONNECTIONS; do
    for attempt in 1 2; do
      : >"$PAIR_FILE"
      wait_quiet
      lock
      if ((pair % 2 == 0)); then
        run_one peer "$s" "$c"
        run_one ours "$s" "$c"
      else
        run_one ours "$s" "$c"
        run_one peer "$s" "$c"
      fi
      unlock
      # Processes this run did not start (others' builds and tests ignore the lock) took more
      # than BUSY_PCT of a core during either run: run the pair once more, within RETRIES.
      busy=$(jq -s 'map(.foreign_cpu_pct) | max' "$PAIR_FILE")
      if ((attempt == 1 && RETRIES > 0)) && awk -v b="$busy" -v t="$BUSY_PCT" 'BEGIN {exit !(b > t)}'; then
        log "other processes used ${busy}% of a core during $s c=$c ($(jq -rs 'map(.foreign_top) | join("; ")' "$PAIR_FILE")): running the pair again"
        cat "$PAIR_FILE" >>"$OUT/runs-disturbed.jsonl"
        RETRIES=$((RETRIES - 1))
        continue
      fi
      cat "$PAIR_FILE" >>"$OUT/runs.jsonl"
      break
    done
    pair=$((pair + 1))
  done
  if [[ $s = e0 ]]; then
    stop_pid "$OURS2_PID"
    OURS2_PID=
  fi
  if [[ $s = d ]]; then
    np=$("${PEER_PSQL[@]}" -c "WITH d AS (DELETE FROM projects WHERE name LIKE 'bench-%' RETURNING 1) SELECT count(*) FROM d")
    no=$("${OURS_PSQL[@]}" -c "WITH d AS (DELETE FROM projects WHERE name LIKE 'bench-%' RETURNING 1) SELECT count(*) FROM d")
    echo "{\"deleted_after_d\":{\"peer\":$np,\"ours\":$no}}" | tee "$OUT/d-rows.json" >&2
  fi
  sidx=$((sidx + 1))
done

# --- 7. memory, report -------------------------------------------------------------------------------
printf '{"side":"peer","rss_idle_kb":%s,"rss_after_kb":%s,"hwm_kb":%s}\n{"side":"ours","rss_idle_kb":%s,"rss_after_kb":%s,"hwm_kb":%s}\n' \
  "$IDLE_RSS_PEER" "$(rss_kb "$PEER_PID" VmRSS)" "$(rss_kb "$PEER_PID" VmHWM)" \
  "$IDLE_RSS_OURS" "$(rss_kb "$OURS_PID" VmRSS)" "$(rss_kb "$OURS_PID" VmHWM)" | tee "$OUT/memory.jsonl" >&2
stop_pid "$PEER_PID"
PEER_PID=
stop_pid "$OURS_PID"
OURS_PID=

cat >"$OUT/env.json" <<EOF
{"date":"$(date -u +%Y-%m-%dT%H:%MZ)","cpu":"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)","nproc":$(nproc),
 "node":"$(node -v)","go":"$($GO env GOVERSION)","peer_postgres":"$("$PG_BIN/postgres" --version | awk '{print $3}')",
 "ours_postgres":"$("${OURS_PSQL[@]}" -c 'SHOW server_version')","redis":"$(redis-server --version | awk '{print $3}' | cut -d= -f2)",
 "wrk":"$({ wrk --version 2>&1 || true; } | head -1 | awk '{print $1, $2}')","threads":$THREADS,"warmup_s":$WARMUP_S,"duration_s":$DURATION_S,
 "connections":"$CONNECTIONS","scenarios":"$SCENARIOS","match_pg":$MATCH_PG,"busy_pct":$BUSY_PCT,"wall_s":$(($(date +%s) - BEGAN))}
EOF

node - "$OUT" >"$REPORT" <<'JS'
'use strict';
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const jsonl = (f) => fs.existsSync(path.join(dir, f))
  ? fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const env = JSON.parse(fs.readFileSync(path.join(dir, 'env.json'), 'utf8'));
const runs = jsonl('runs.jsonl');
const cold = jsonl('coldstart.jsonl');
const mem = jsonl('memory.jsonl');
const payloads = jsonl('payloads.jsonl');
const NAMES = {
  a: 'a) GET project (both cached)',
  b: 'b) project + tasks (ours cached 60 s, peer uncached)',
  b0: 'b0) project + tasks (both uncached: ours cache=0)',
  c: 'c) list 20 of an org (both cached 60 s)',
  e: 'e) report summary (ours cached 60 s, peer uncached)',
  e0: 'e0) report summary (both uncached: ours TTL 1 ms)',
  d: 'd) POST project (201)',
};
const AIM = { a: 10, b: 6, b0: 6, c: 8, d: 4, e: 20, e0: 5 };
const P99_AIM = { a: 5 };
const f = (n, d = 1) => (n === undefined || n === null || Number.isNaN(n) ? 'n/a' : Number(n).toFixed(d));
const int = (n) => Math.round(n).toLocaleString('en-US');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const out = [];
out.push('# scaleapi vs the NestJS + TypeORM + Redis peer (make bench-peer)', '');
out.push(`Run ${env.date} on ${env.cpu} (${env.nproc} vCPU), in ${Math.round(env.wall_s / 60)} min. ` +
  `wrk ${env.wrk}, -t${env.threads}, ${env.warmup_s} s warm-up (discarded) then ${env.duration_s} s measured, --latency --timeout 10s, ` +
  `the peer's run and ours back to back under one lock for each row (which goes first alternating). ` +
  `Node ${env.node}, Go ${env.go}, PostgreSQL ${env.peer_postgres} (peer) / ${env.ours_postgres} (ours), Redis ${env.redis}. ` +
  `Peer PostgreSQL settings ${env.match_pg ? 'matched to ours (fsync, full_page_writes, synchronous_commit, jit off)' : 'left at its defaults (fsync on): ours runs with fsync off'}.`, '');
out.push('| Scenario | Conns | Peer req/s | Ours req/s | Ratio | Aim | Peer p50 / p99 ms | Ours p50 / p99 ms | p99 ratio | Errors peer / ours | Met? |');
out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
const order = ['a', 'b', 'b0', 'c', 'e', 'e0', 'd'];
const conns = [...new Set(runs.map((r) => r.connections))].sort((a, b) => a - b);
const notes = [];
for (const s of order) {
  for (const c of conns) {
    const p = runs.find((r) => r.side === 'peer' && r.scenario === s && r.connections === c);
    const o = runs.find((r) => r.side === 'ours' && r.scenario === s && r.connections === c);
    if (!p || !o) continue;
    const ratio = o.wrk.rps / p.wrk.rps;
    const p99r = p.wrk.p99_ms / o.wrk.p99_ms;
    const errs = (r) => r.wrk.errors + (r.non2xx > r.wrk.err_status ? r.non2xx - r.wrk.err_status : 0);
    let met = ratio >= AIM[s];
    let aim = `≥${AIM[s]}×`;
    if (P99_AIM[s]) { met = met && p99r >= P99_AIM[s]; aim += `, p99 ≤ ÷${P99_AIM[s]}`; }
    if (errs(o) > 0) met = false;
    const busy = Math.max(p.foreign_cpu_pct, o.foreign_cpu_pct);
    const flag = busy > env.busy_pct ? ` (others used ${f(busy, 0)}% of a core)` : '';
    out.push(`| ${NAMES[s]} | ${c} | ${int(p.wrk.rps)} | ${int(o.wrk.rps)} | ${f(ratio)}× | ${aim} | ${f(p.wrk.p50_ms, 2)} / ${f(p.wrk.p99_ms, 2)} | ${f(o.wrk.p50_ms, 2)} / ${f(o.wrk.p99_ms, 2)} | ${f(p99r)}× | ${errs(p)} / ${errs(o)} | ${met ? 'yes' : 'no'}${flag} |`);
    if (o.replica_report_scans !== undefined) {
      notes.push(`- e0 c${c}: ours ran ${int(o.replica_report_scans)} report queries on the replica for ${int(o.requests_incl_warmup)} requests (warm-up included): ` +
        `${f((100 * o.replica_report_scans) / o.requests_incl_warmup, 1)}% of requests read the database (the rest joined a concurrent identical read, or hit an entry under 1 ms old).`);
    }
  }
}
out.push('');
const mp = mem.find((m) => m.side === 'peer');
const mo = mem.find((m) => m.side === 'ours');
const cp = cold.filter((x) => x.side === 'peer').map((x) => x.coldStartMs);
const co = cold.filter((x) => x.side === 'ours').map((x) => x.coldStartMs);
out.push('| Measure | Peer | Ours | Peer ÷ ours | Aim | Met? |', '|---|---:|---:|---:|---:|---|');
if (mp && mo) {
  const r = mp.rss_after_kb / mo.rss_after_kb;
  out.push(`| RSS after the runs (MiB) | ${f(mp.rss_after_kb / 1024)} | ${f(mo.rss_after_kb / 1024)} | ${f(r)}× | ≥5× | ${r >= 5 ? 'yes' : 'no'} |`);
  out.push(`| Peak RSS, VmHWM (MiB) | ${f(mp.hwm_kb / 1024)} | ${f(mo.hwm_kb / 1024)} | ${f(mp.hwm_kb / mo.hwm_kb)}× | | |`);
  out.push(`| RSS idle after start (MiB) | ${f(mp.rss_idle_kb / 1024)} | ${f(mo.rss_idle_kb / 1024)} | ${f(mp.rss_idle_kb / mo.rss_idle_kb)}× | | |`);
}
if (cp.length && co.length) {
  const r = median(cp) / median(co);
  out.push(`| Cold start, median (ms) | ${f(median(cp))} (${cp.map((x) => f(x, 0)).join(', ')}) | ${f(median(co))} (${co.map((x) => f(x, 0)).join(', ')}) | ${f(r)}× | ≥20× | ${r >= 20 ? 'yes' : 'no'} |`);
}
out.push('');
out.push('Per request (one sample each, body bytes; wrk\'s bytes read per request include headers):', '');
out.push('| Scenario | Peer status / body B | Ours status / body B | Peer B/req (wrk) | Ours B/req (wrk) | Server CPU, peer · ours (per concurrency) | Services\' CPU, peer · ours | CPU µs per request, server + services, peer · ours | Idle servers\' CPU during a run (max) | Others\' CPU during a run (max; % of one core) |');
out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const s of order) {
  const rs = runs.filter((r) => r.scenario === s);
  if (!rs.length) continue;
  const base = s.replace('0', '');
  const sp = payloads.find((x) => x.side === 'peer' && x.scenario === base);
  const so = payloads.find((x) => x.side === 'ours' && x.scenario === base);
  const bpr = (side) => rs.filter((r) => r.side === side).map((r) => f(r.bytes_read / r.wrk.requests, 0)).join(' / ');
  const cpu = (side) => rs.filter((r) => r.side === side).map((r) => f(r.server_cpu_pct, 0) + '%').join(' / ');
  const svc = (side) => rs.filter((r) => r.side === side).map((r) => f(r.services_cpu_pct, 0) + '%').join(' / ');
  // The CPU percentages are of one core over the measured seconds; wrk counts the requests.
  const perReq = (side) => rs.filter((r) => r.side === side)
    .map((r) => f((10000 * (r.server_cpu_pct + r.services_cpu_pct) * env.duration_s) / r.wrk.requests, 0)).join(' / ');
  const idle = Math.max(...rs.map((r) => r.idle_servers_cpu_pct));
  const foreign = Math.max(...rs.map((r) => r.foreign_cpu_pct));
  out.push(`| ${s} | ${sp ? `${sp.status} / ${sp.body_bytes}` : ''} | ${so ? `${so.status} / ${so.body_bytes}` : ''} | ${bpr('peer')} | ${bpr('ours')} | ${cpu('peer')} · ${cpu('ours')} | ${svc('peer')} · ${svc('ours')} | ${perReq('peer')} · ${perReq('ours')} | ${f(idle)}% | ${f(foreign)}% |`);
}
out.push('');
if (notes.length) out.push(...notes, '');
out.push('Where the two do not do the same work (read before quoting a ratio):', '',
  '- Data: the same rows and ids on both. Ours has no `blocked` task status, so the peer\'s blocked tasks are `in_progress` in ours; neither has due dates, so ours\' `overdueTasks` is 0.',
  '- Every request: the peer verifies the JWT and runs a membership EXISTS in PostgreSQL; ours verifies the JWT (remembered per token), checks the session in Redis (so logout takes effect at once) and reads the memberships from its cache.',
  '- b: ours caches the joined representation for the list TTL (60 s); the peer never caches it. b0 (cache=0) is the like-for-like row: ours then reads memberships, the project and the join from PostgreSQL, three statements to the peer\'s two.',
  '- c: both serve a cached page for 60 s per organization with the same 20 projects, newest first; ours\' page also carries count, total, page and pageCount.',
  '- e: the peer never caches the report, so e compares ours\' cache with the peer\'s database work; e0 is the like-for-like row (the share of ours\' e0 requests that read the database is above). Ours answers from one statement over denormalised, index-only scans; the peer\'s two queries join tasks to projects and scan all tasks.',
  '- d: ours maintains more indexes on projects (see shared/migrations) and deletes the new row\'s cache key and bumps the organization\'s list generation in Redis on each insert; the peer invalidates nothing. Both re-plan their INSERT on each request (unnamed statements; ours through PgBouncer in transaction mode, with its membership check in a PL/pgSQL function whose plan each server connection keeps).',
  '- Logging: ours writes one JSON line with its metrics per request (to /dev/null here); the peer logs errors only.',
  '- Services: ours also runs a streaming replica and PgBouncer on the same cores; the peer\'s `replica` connection is its primary. ' +
    (env.match_pg ? 'Both PostgreSQL servers run with fsync, full_page_writes and synchronous_commit off (MATCH_PG=1).' : 'The peer\'s PostgreSQL keeps fsync on (MATCH_PG=0); ours runs with it off, which favours ours on d.'),
  '- The peer\'s RESULTS.md was measured on another machine; compare the ratios here, measured back to back on one machine, not absolute figures across the two.', '');
out.push(`Raw wrk output, server logs and JSON lines: ${path.relative(process.cwd(), dir) || dir}/.`, '');
process.stdout.write(out.join('\n'));
JS
log "done in $(($(date +%s) - BEGAN)) s: $REPORT"
cat "$REPORT"
