#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis (the version .ci/requirements.txt
# pins), every check on, and fails on any failure. `make fuzz-api` runs it; so does CI (.ci/run).
#
#   scripts/schemathesis.sh [extra schemathesis run flags...]
#
# It starts cmd/local (what `make run` serves) in the background on a free loopback port with its
# embedded PostgreSQL and Redis in a fresh temporary -data-dir, waits for GET /health, registers a
# user, creates an organization and a project for the run to work in, runs schemathesis against
# the document the server serves (GET /openapi.json), and stops everything it started, also on
# failure or Ctrl-C. Nothing listens beyond 127.0.0.1.
#
# Reproducible and bounded: a fixed seed and a fixed number of examples per operation, so the same
# tree generates the same cases (FUZZ_SEED and FUZZ_MAX_EXAMPLES override them for exploring), and a
# hard timeout (FUZZ_TIMEOUT, seconds) on the fuzzer itself. The report (JUnit XML) and the server's
# log go to .local/fuzz-api/.
#
# Settings and their reasons are in scripts/schemathesis.toml; what the hooks do to generated
# cases, and why, is in scripts/schemathesis_hooks.py. No operation or check is excluded; the
# hooks drop one kind of false failure (use_after_free right after a recover, which undeletes),
# and the summary counts it ("Filtered").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seed=${FUZZ_SEED:-20261202}
max_examples=${FUZZ_MAX_EXAMPLES:-30}
fuzz_timeout=${FUZZ_TIMEOUT:-420}
out=$root/.local/fuzz-api

log() { printf 'fuzz-api: %s\n' "$*" >&2; }

# --- the fuzzer: the pinned schemathesis, from PATH when it is that version (CI installs
# .ci/requirements.txt), else into a virtualenv under .local/ from PyPI.
pinned=$(sed -n 's/^schemathesis==\([^ ]*\).*/\1/p' .ci/requirements.txt)
[[ -n $pinned ]] || { log "no schemathesis== pin in .ci/requirements.txt"; exit 1; }
st=${SCHEMATHESIS:-schemathesis}
if ! "$st" --version 2>/dev/null | grep -qx "schemathesis, version $pinned"; then
  venv=$root/.local/fuzz-venv
  st=$venv/bin/schemathesis
  if ! "$st" --version 2>/dev/null | grep -qx "schemathesis, version $pinned"; then
    log "installing schemathesis $pinned into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$pinned"
  fi
fi

# --- the server
mkdir -p "$out" .local/bin
go build -o .local/bin/local ./cmd/local
# Under /tmp and world-readable: as root, the embedded PostgreSQL and Redis run as an unprivileged
# user (shared/devservices) that must reach their data directories.
tmp=$(mktemp -d /tmp/scaleapi-fuzz.XXXXXX)
chmod 0755 "$tmp"
server_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    # SIGTERM: cmd/local drains, stops the functions, then PostgreSQL and Redis cleanly.
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [[ -f $tmp/local.log ]] && cp "$tmp/local.log" "$out/local.log"
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The embedded services, not whatever the environment points at: the run creates users and data.
# The rate limit is raised because the fuzzer sends thousands of requests a minute as one user and
# one IP; at the template's 600 most answers would be 429s (declared, and so passing) that test
# nothing. The limiter itself is tested in shared/ratelimit.
env -u DATABASE_URL -u DATABASE_READER_URL -u REDIS_URL -u REDIS_CLUSTER -u JWT_SECRET -u JWT_SECRET_ARN \
  RATE_LIMIT_PER_MINUTE=1000000 \
  .local/bin/local -addr 127.0.0.1:0 -data-dir "$tmp/data" -build-dir "$tmp/build" >"$tmp/local.log" 2>&1 &
server_pid=$!

# request METHOD URL [JSON [TOKEN]] prints the response body; any status but 2xx fails. Python,
# which the fuzzer needs anyway, rather than curl, which a CI image may lack.
request() {
  python3 - "$@" <<'PY'
import sys, urllib.request
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(url, data=data, method=method)
if data is not None:
    req.add_header("Content-Type", "application/json")
if len(sys.argv) > 4:
    req.add_header("Authorization", "Bearer " + sys.argv[4])
with urllib.request.urlopen(req, timeout=10) as resp:
    sys.stdout.write(resp.read().decode())
PY
}

base=""
for _ in $(seq 1 600); do
  kill -0 "$server_pid" 2>/dev/null || { log "cmd/local exited:"; tail -n 40 "$tmp/local.log" >&2; exit 1; }
  base=$(sed -n 's|.*Listening on \(http://127\.0\.0\.1:[0-9]*\).*|\1|p' "$tmp/local.log" | head -n 1)
  [[ -n $base ]] && request GET "$base/health" >/dev/null 2>&1 && break
  base=""
  sleep 0.5
done
[[ -n $base ]] || { log "GET /health did not answer 200 within 300 s"; tail -n 40 "$tmp/local.log" >&2; exit 1; }
log "serving on $base"

# --- the fixtures: a user, its organization and a project, a second user, and a second session
# for logout.
# post PATH JSON [TOKEN] prints the response body; any status but 2xx fails the run.
post() { request POST "$base$1" "${@:2}"; }
# field PATH reads a dotted path (user.id) out of the JSON on stdin.
field() {
  python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}
email="fuzz-$(date +%s)-$$@example.com"
password="fuzz-password-$RANDOM$RANDOM"
registered=$(post /auth/register "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Fuzz\"}")
token=$(field accessToken <<<"$registered")
user_id=$(field user.id <<<"$registered")
org_id=$(post /organizations '{"name":"Fuzz"}' "$token" | field id)
project_id=$(post /projects "{\"organizationId\":\"$org_id\",\"name\":\"Fuzz\"}" "$token" | field id)
# A second user for the membership routes: POST /organizations/{id}/members adds a registered
# email, DELETE …/members/{userId} removes a member (the hooks point valid cases at these).
member_email="fuzz-member-$(date +%s)-$$@example.com"
member_id=$(post /auth/register "{\"email\":\"$member_email\",\"password\":\"$password\",\"name\":\"Member\"}" | field user.id)
# POST /auth/logout ends the session of the token it is sent with. It gets a session of its own
# (scripts/schemathesis.toml), so the run's token stays alive; its first case ends that session,
# the later ones answer 401, both declared.
logout_token=$(post /auth/login "{\"email\":\"$email\",\"password\":\"$password\"}" | field accessToken)

# --- the run
export FUZZ_BASE_URL=$base FUZZ_TOKEN=$token FUZZ_LOGOUT_TOKEN=$logout_token
export FUZZ_USER_ID=$user_id FUZZ_ORG_ID=$org_id FUZZ_PROJECT_ID=$project_id
export FUZZ_MEMBER_ID=$member_id FUZZ_MEMBER_EMAIL=$member_email
cmd=(
  "$st" --config-file scripts/schemathesis.toml
  run "$base/openapi.json" --url "$base"
  --checks all
  --seed "$seed" --max-examples "$max_examples"
  -H "Authorization: Bearer $token"
  --report junit --report-dir "$out"
  "$@"
)
log "schemathesis $pinned, seed $seed, $max_examples examples per operation"
set +e
timeout --signal=INT --kill-after=30 "$fuzz_timeout" "${cmd[@]}"
status=$?
set -e
case $status in
  0) log "no failures" ;;
  124 | 130 | 137) log "the fuzzer ran past ${fuzz_timeout} s and was stopped"; exit 1 ;;
  *) log "schemathesis failed (status $status); report in $out, server log in $out/local.log"; exit "$status" ;;
esac
