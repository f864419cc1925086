#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short while and keeps what the fuzzer found.
# `make fuzz` runs it; so does CI (.ci/run, step "fuzz").
#
#   scripts/fuzz.sh [NAME-REGEXP]     # e.g. scripts/fuzz.sh 'FuzzParse|FuzzCursor'
#
# Targets are found, not listed: every `func FuzzXxx(f *testing.F)` in a _test.go file of the
# module, so a new target is fuzzed from the commit that adds it. Each runs alone with
# `go test -run '^$' -fuzz '^Name$' -fuzztime $FUZZTIME` (none needs the services: the packages'
# TestMain starts them only for the tests that ask).
#
# What the fuzzer found is kept: after each run the entries it added to the build cache's corpus
# ($(go env GOCACHE)/fuzz/<import path>/<Name>/, one file per input, named by a hash of its
# content) are copied into the package's testdata/fuzz/<Name>/, where every plain `go test`
# replays them as seeds, so coverage the fuzzer reached once stays checked. The copy is bounded:
# at most $FUZZCORPUS files per target (the smallest new ones first, none over
# $FUZZENTRYBYTES), and a file already there by name, that is by content, is never copied again;
# once a target's directory is full the tree stops changing.
#
# A crasher fails the script: go test has written it to testdata/fuzz/<Name>/, and the script
# prints that path and the command that replays it. The other targets still run.
#
# Settings (environment):
#   FUZZTIME          fuzzing time per target, baseline coverage included (default 6s: with
#                     the builds, 15 targets take about 2 minutes warm on 2 cores)
#   FUZZMINIMIZETIME  how long to minimize each new input (default 200x: 200 runs; the go
#                     default of 60s would spend a short run minimizing instead of fuzzing)
#   FUZZCORPUS        most corpus files kept per target (default 48)
#   FUZZENTRYBYTES    largest corpus file kept, in bytes (default 16384)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-6s}
minimize=${FUZZMINIMIZETIME:-200x}
cap=${FUZZCORPUS:-48}
max_bytes=${FUZZENTRYBYTES:-16384}
only=${1:-.}
cache=$(go env GOCACHE)/fuzz
log=.local/fuzz
mkdir -p "$log"

# Every fuzz target as "dir name", in a stable order. testdata holds fixtures, not the module's
# packages.
targets=$(grep -rE --include='*_test.go' --exclude-dir=testdata --exclude-dir=.git --exclude-dir=.local \
	--exclude-dir=dist --exclude-dir=.aws-sam -o '^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' . |
	while IFS=: read -r file decl; do
		name=${decl#func }
		echo "$(dirname "${file#./}") ${name%%(*}"
	done | sort -u | grep -E " ($only)" || true)
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz target matches $only" >&2
	exit 1
fi

# The import path of each package directory: the build cache keeps a corpus under it.
declare -A pkgs
while read -r dir pkg; do
	pkgs[${dir#"$PWD"/}]=$pkg
done < <(go list -e -f '{{.Dir}} {{.ImportPath}}' ./...)
pkgs[.]=$(go list -e -f '{{.ImportPath}}' .)

# keep copies the new corpus entries of target $2 in package directory $1 from the build cache.
keep() {
	local dir=$1 name=$2 src dst have added=0
	src=$cache/${pkgs[$dir]}/$name
	dst=$dir/testdata/fuzz/$name
	[ -d "$src" ] || return 0
	mkdir -p "$dst"
	have=$(find "$dst" -maxdepth 1 -type f | wc -l)
	# The smallest first: small inputs make the best seeds, and keep the tree small.
	while read -r size file; do
		[ "$have" -lt "$cap" ] || break
		[ "$size" -le "$max_bytes" ] || continue
		[ -e "$dst/$file" ] && continue
		cp "$src/$file" "$dst/$file"
		have=$((have + 1)) added=$((added + 1))
	done < <(find "$src" -maxdepth 1 -type f -printf '%s %f\n' | sort -n)
	echo "fuzz: $dir $name: kept $added new corpus entries ($have in $dst)"
}

failed=()
start=$SECONDS
while read -r dir name; do
	echo "=== fuzz $dir $name ($fuzztime)"
	out=$log/$(echo "$dir" | tr / _)_$name.log
	status=0
	go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "./$dir" >"$out" 2>&1 || status=$?
	if [ "$status" -ne 0 ] && ! grep -q 'Failing input written to' "$out" &&
		grep -q '^    context deadline exceeded$' "$out" &&
		! grep -E '^    .*[^[:space:]]' "$out" | grep -qv '^    context deadline exceeded$'; then
		# Go's fuzzing coordinator can report the end of a duration -fuzztime as this error
		# when a worker is mid-input at that moment (go.dev/issue/75804, fixed in Go 1.27): no
		# input failed, and none was written. Anything else is a failure.
		echo "fuzz: $dir $name: the fuzztime deadline race of go.dev/issue/75804, not a failure"
		status=0
	fi
	if [ "$status" -eq 0 ]; then
		grep -E '^(ok|PASS|fuzz: elapsed)' "$out" | tail -n 2
	else
		cat "$out"
		crasher=$(sed -n 's/^.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*$/\1/p' "$out" | tail -n 1)
		if [ -n "$crasher" ]; then
			echo "fuzz: $dir $name: crasher $dir/$crasher; replay: go test -run '^$name/${crasher##*/}\$' ./$dir"
			failed+=("$dir $name: $dir/$crasher")
		else
			failed+=("$dir $name: go test failed, see $out")
		fi
	fi
	keep "$dir" "$name"
done <<<"$targets"

echo "fuzz: $(wc -l <<<"$targets") targets in $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
	exit 1
fi
