#!/usr/bin/env bash
# Scans the module for security problems with two pinned tools and fails on any finding that is
# neither fixed nor answered. `make security` runs it; so does CI (.ci/run, step "security").
#
#   gosec        the source, every rule. A finding is fixed, or answered on its line with
#                `// #nosec Gxxx -- why` (gosec is run to require both the rule and the reason).
#   govulncheck  the module's dependencies and the standard library, against the Go
#                vulnerability database, at symbol level: a vulnerable function the code can
#                reach. A finding is fixed (upgrade), or answered in $answers below.
#
# The vulnerability database is not fetched from vuln.go.dev, which may be out of reach (this
# project's machines reach only package registries): it is built from the pinned module
# golang.org/x/vulndb, whose data/osv holds every report as OSV JSON, with that module's own
# cmd/indexdb, into the v1 layout govulncheck reads with -db file:// (index/db.json,
# index/modules.json, ID/<id>.json). The build is cached in .local/vulndb/<version>/. Bumping
# $vulndb_version to a newer pseudo-version (`go list -m golang.org/x/vulndb@latest`) is how the
# database is updated.
#
# Test code is not scanned by gosec: _test.go files (gosec's default) and the fixture programs
# under testdata/ are built only by the tests, run against throwaway loopback services, and ship
# in no function or command. Their findings (fixtures read by path, servers started, math/rand
# test data, errors of cleanups) would each carry the same reason, about a hundred times, and
# bury the answers that matter.
set -euo pipefail
cd "$(dirname "$0")/.."

gosec=github.com/securego/gosec/v2/cmd/gosec@v2.30.0
govulncheck=golang.org/x/vuln/cmd/govulncheck@v1.9.0
vulndb_version=v0.0.0-20261105234957-e22db6528018

# Files whose gosec findings are answered here instead of on their lines, because their owners
# edit them and this script's maintainers may not: a path regexp, the rules, and why. Each is to
# move to inline `#nosec` answers and leave this list. Nothing else is excluded.
gosec_answered=(
	# The load generator: a developer's benchmark tool against loopback services it starts.
	# Reports and logs under its -out directory, world-readable like any build output; the
	# binaries it builds and runs are the project's own (go build, cmd/local), with arguments
	# of its own, not through a shell; the data directory is 0755 so that PostgreSQL, run as
	# its own user when loadgen runs as root, reaches it.
	'(^|/)cmd/loadgen/drive\.go$:G301,G304,G306'
	'(^|/)cmd/loadgen/chaos\.go$:G104,G301,G306'
	'(^|/)cmd/loadgen/stack\.go$:G204,G301,G302,G304'
	'(^|/)cmd/loadgen/internal/report/report\.go$:G306'
	# Its workload is seeded math/rand, so that a run can be repeated: nothing is secret. The
	# conversions are of a generator's index and a count, never negative. The unchecked errors
	# are of a response body's Close once it has been read (load.go, chaos.go).
	'(^|/)cmd/loadgen/internal/chaos/load\.go$:G104,G404'
	'(^|/)cmd/loadgen/internal/load/workload\.go$:G115,G404'
	'(^|/)cmd/loadgen/internal/seed/seed\.go$:G404'
	# The test and dev harness, which starts PostgreSQL, PgBouncer and Redis on loopback. It
	# runs the servers' binaries where it found them, makes their directories, configuration
	# (trust authentication on loopback: no secret in it), logs and pid files readable by the
	# servers' own user, converts that user's uid and gid (uint32 on every system it runs on),
	# and ignores the errors of cleanups (closing a probe listener or connection whose result
	# was already read, stopping or removing what it started) that have no one to report to.
	'(^|/)shared/devservices/[^/]+\.go$:G104,G115,G204,G301,G302,G304,G306'
	# The transaction retry's backoff jitter (rand.N): spreads retries, nothing relies on it
	# being unpredictable.
	'(^|/)shared/db/tx\.go$:G404'
)

# govulncheck findings that can't be fixed here, each: ID, the Go version it was assessed on (the
# answer lapses on any other, so a toolchain change re-opens it), why.
#
# The standard library's fixes ship in Go releases, and the toolchain is the machine's
# (GOTOOLCHAIN=local): go1.26.8, the newest Go installed here and in CI. The fix is a Go upgrade to
# go1.26.10 or later (go1.26.9 for all but GO-2026-6809); until then, where each can be reached:
answers='
GO-2026-6603 go1.26.8 HTTP/2 server: the functions serve no HTTP (events come through the Lambda Runtime API); cmd/local serves on loopback, and server mode (functions/server) serves HTTP/1.1 without TLS, where net/http speaks no HTTP/2
GO-2026-6611 go1.26.8 HTTP/2 window updates: no HTTP/2 server in a function (as GO-2026-6603); HTTP/2 clients (AWS SDK) talk to AWS endpoints only
GO-2026-6612 go1.26.8 HTTP/2 server flow control: no HTTP/2 server in a function (as GO-2026-6603)
GO-2026-6613 go1.26.8 HTTP/1 server CONNECT: no handler answers CONNECT (server mode included), and the functions serve no HTTP (as GO-2026-6603)
GO-2026-6617 go1.26.8 HTTP/2 server HPACK race: no HTTP/2 server in a function (as GO-2026-6603)
GO-2026-6605 go1.26.8 HTTP/1 client after a rejected CONNECT: no client here sends CONNECT (no proxy is configured)
GO-2026-6610 go1.26.8 HTTP/2 client framing: the clients talk to AWS endpoints (Secrets Manager, RDS IAM) and loopback only
GO-2026-6608 go1.26.8 MIME header memory limit: reached by net/http reading headers, whose only peers in a function are the Runtime API and AWS endpoints; server mode reads the headers clients send, behind nginx or a load balancer that bounds them (deploy/nginx), and is exposed until the Go upgrade; nothing here parses multipart forms
GO-2026-6607 go1.26.8 TLS server memory via ECH references: nothing here serves TLS; the code is a TLS client only (RDS, ElastiCache, AWS endpoints)
GO-2026-6809 go1.26.8 x509 denylist of compromised intermediates: reached by the TLS clients (RDS, ElastiCache, AWS), which rely on the system trust store until Go is go1.26.10
'

status=0

echo "=== gosec ($gosec)"
started=$SECONDS
rules=$(IFS=';'; echo "${gosec_answered[*]}")
if go run "$gosec" -quiet -fmt text -exclude-dir testdata -nosec-require-rules -nosec-require-justification \
	-exclude-rules "$rules" ./...; then
	echo "gosec: no finding unanswered ($((SECONDS - started))s)"
else
	echo "gosec: findings above: fix each, or answer it on its line with // #nosec Gxxx -- why" >&2
	status=1
fi

echo "=== govulncheck ($govulncheck)"
started=$SECONDS
db=$PWD/.local/vulndb/$vulndb_version
if [ ! -s "$db/index/db.json" ]; then
	info=$(go mod download -json "golang.org/x/vulndb@$vulndb_version")
	src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")
	infofile=$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",$/\1/p' <<<"$info")
	modified=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$infofile")
	if [ ! -d "$src/data/osv" ] || [ -z "$modified" ]; then
		echo "govulncheck: golang.org/x/vulndb@$vulndb_version has no data/osv or no time" >&2
		exit 1
	fi
	mkdir -p "$(dirname "$db")"
	tmp=$(mktemp -d "$db.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	go run "golang.org/x/vulndb/cmd/indexdb@$vulndb_version" -vulns "$src/data/osv" -out "$tmp"
	# The reports in the module carry no modified times (vuln.go.dev sets them from the
	# repository's history when it deploys), so the database would say it was last modified in
	# year 1: it is as of the snapshot's commit, which the module proxy records.
	printf '{"modified":"%s"}\n' "$modified" >"$tmp/index/db.json"
	# -db file:// reads the .json files; the .json.gz copies are for serving over HTTP.
	find "$tmp" -name '*.json.gz' -delete
	rm -rf "$db"
	mv "$tmp" "$db"
	trap - EXIT
fi
echo "vulnerability database: golang.org/x/vulndb@$vulndb_version, as of $(sed -n 's/.*"modified":"\([^"]*\)".*/\1/p' "$db/index/db.json"), $(find "$db/ID" -name '*.json' | wc -l) reports"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# govulncheck exits 0 with -format json whatever it finds; the findings are judged below.
go run "$govulncheck" -db "file://$db" -format json ./... >"$out"
if ! ANSWERS=$answers GOVERSION=$(go env GOVERSION) python3 - "$out" <<'EOF'; then
import json, os, sys

# The JSON stream: one object per message; a finding whose trace starts at a function is one the
# code can reach (symbol level), the others are only imported or required.
text, objs, i = open(sys.argv[1]).read(), [], 0
dec = json.JSONDecoder()
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    obj, i = dec.raw_decode(text, i)
    objs.append(obj)
osv = {o["osv"]["id"]: o["osv"] for o in objs if "osv" in o}
called, imported = {}, set()
for o in objs:
    f = o.get("finding")
    if not f:
        continue
    if f["trace"][0].get("function"):
        called.setdefault(f["osv"], f)
    else:
        imported.add(f["osv"])

answers = {}
for line in os.environ["ANSWERS"].strip().splitlines():
    vid, goversion, why = line.split(" ", 2)
    answers[vid] = (goversion, why)

failed = False
for vid in sorted(called):
    f = called[vid]
    # The trace runs from the vulnerable symbol (first) to the module's own code (last).
    t = f["trace"]
    where = next((fr for fr in reversed(t) if fr.get("position")), t[-1])
    pos = where.get("position", {})
    desc = "%s %s (%s@%s, fixed in %s), reached from %s:%s %s" % (
        vid, osv.get(vid, {}).get("summary", ""), t[0].get("module"), t[0].get("version"),
        f.get("fixed_version", "no release"), os.path.relpath(pos.get("filename", "?")), pos.get("line", "?"),
        where.get("function", ""))
    a = answers.get(vid)
    if a and a[0] == os.environ["GOVERSION"]:
        print("answered: %s\n          %s" % (desc, a[1]))
    else:
        print("UNANSWERED: %s" % desc)
        failed = True
for vid in sorted(set(answers) - set(called)):
    print("stale answer (no longer found: remove it): %s" % vid)
rest = sorted(imported - set(called))
if rest:
    print("imported or required, but no vulnerable function is reached (nothing to answer): " + ", ".join(rest))
sys.exit(1 if failed else 0)
EOF
	echo "govulncheck: unanswered findings above: upgrade the dependency (go get), or answer in scripts/security.sh" >&2
	status=1
fi
echo "govulncheck: done ($((SECONDS - started))s)"
exit "$status"
