# scaleapi — the commands a developer and CI use. `make help` lists them.
#
# The two that set everything up on a fresh machine:
#   make run    the whole API on http://127.0.0.1:3000 (no Docker)
#   make test   every test, against real PostgreSQL (+ replica), PgBouncer and Redis (+ cluster)

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
GO           ?= go
FUNCTIONS    := auth organizations entities reports health migrate
# The deployed build: Lambda provided.al2023 on Graviton. cmd/local overrides GOARCH for the host.
GOOS         ?= linux
GOARCH       ?= arm64
BUILD_FLAGS  := -trimpath -tags lambda.norpc -ldflags='-s -w -buildid='
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# `sam build` passes ARTIFACTS_DIR; `make build` writes dist/<function>/bootstrap instead.
ARTIFACTS_DIR ?= dist

.PHONY: help run test test-shards lint generate build build-server bench bench-go bench-lambda bench-peer chaos deps clean fuzz fuzz-api migrate plan security $(addprefix build-,$(FUNCTIONS))

help: ## this list
	@grep -E '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

deps: ## install PostgreSQL, PgBouncer and Redis if missing (apt-get on Debian/Ubuntu)
	@bash scripts/ensure-deps.sh

# Built, then exec'd rather than `go run`: go run exits 1 whenever it is interrupted, which would
# turn a clean Ctrl-C into a make error.
run: deps ## serve the API on http://127.0.0.1:3000 (embedded defaults unless DATABASE_URL/REDIS_URL are set; SCHEMA=file serves another .apsorc)
	$(GO) build -o .local/bin/local ./cmd/local
	exec .local/bin/local $(if $(SCHEMA),-schema $(SCHEMA)) $(RUN_FLAGS)

test: deps ## run every test against real services started once for the run
	$(GO) run ./cmd/devservices run -- $(GO) test -count=1 -timeout 15m $(TEST_FLAGS) ./...

# The whole suite again with every test's organizations spread over three shards: the tests that
# serve requests through the resource engine, a function or server mode read
# SCALEAPI_TEST_SHARD_COUNT (devtest.ShardCount) and start that many primaries' worth of
# databases. The rest run as in `make test`: about a minute more than listing the packages that
# route, and no list to forget a package in.
test-shards: deps ## run every test again with the organizations spread over three shards
	SCALEAPI_TEST_SHARD_COUNT=3 $(GO) run ./cmd/devservices run -- $(GO) test -count=1 -timeout 15m $(TEST_FLAGS) ./...

lint: ## gofmt, go vet and staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# What the .apsorc derives and something other than the engine reads: the next migration (and
# shared/migrations/schema.json), template.yaml's EntitiesFunction events and
# shared/openapi/openapi.json. CI runs `go run ./cmd/generate -check`, which fails on a stale one.
generate: ## write the files the .apsorc derives: the next migration, EntitiesFunction's events, openapi.json
	$(GO) run ./cmd/generate

# Every Go fuzz target of the module, found by the script (a new one needs no edit here), each for
# FUZZTIME (default 6s), keeping what the fuzzer found in the packages' testdata/fuzz/ (bounded);
# a crasher fails it. FUZZ_TARGETS narrows the targets (a regexp: FUZZ_TARGETS='FuzzParse|FuzzCursor').
fuzz: ## run every Go fuzz target FUZZTIME (6s) each; keep the new corpus in testdata/fuzz/
	$(if $(FUZZTIME),FUZZTIME=$(FUZZTIME) )bash scripts/fuzz.sh $(FUZZ_TARGETS)

# gosec and govulncheck, both pinned in the script; the vulnerability database is built from the
# pinned golang.org/x/vulndb module, which the module proxy serves (vuln.go.dev may be out of
# reach). Every finding is fixed or answered: inline for gosec, in the script for govulncheck.
security: ## gosec and govulncheck (pinned; offline vulnerability database): clean or every finding answered
	bash scripts/security.sh

# What CI runs: schemathesis (the version .ci/requirements.txt pins, installed under .local/ if
# missing) with every check, a fixed seed and a bounded number of cases, against a fresh stack the
# script starts and stops itself. FUZZ_FLAGS adds schemathesis flags (e.g. --include-path /tasks).
fuzz-api: deps ## fuzz the API against its OpenAPI document (schemathesis, all checks, ~3 min)
	bash scripts/schemathesis.sh $(FUZZ_FLAGS)

build: $(addprefix build-,$(FUNCTIONS)) ## every function as dist/<name>/bootstrap for provided.al2023/arm64

# One bootstrap per function. `sam build` (BuildMethod: makefile) calls build-<LogicalId> with
# ARTIFACTS_DIR set; the lower-case targets are for humans. Beside each bootstrap goes the
# tracing collector's configuration (deploy/lambda/collector.yaml; template.yaml's Tracing).
define function_target
build-$(1):
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build $(BUILD_FLAGS) -o $(if $(filter dist,$(ARTIFACTS_DIR)),dist/$(1),$(ARTIFACTS_DIR))/bootstrap ./functions/$(1)
	cp deploy/lambda/collector.yaml $(if $(filter dist,$(ARTIFACTS_DIR)),dist/$(1),$(ARTIFACTS_DIR))/collector.yaml
endef
$(foreach f,$(FUNCTIONS),$(eval $(call function_target,$(f))))

# Server mode (functions/server): every function in one process on $$PORT, for the Dockerfile,
# docker-compose.scale.yml, deploy/k8s and Lambda Web Adapter. dist/server/server.
build-server: ## server mode: every function in one binary, dist/server/server (GOARCH=amd64 for this machine)
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build $(BUILD_FLAGS) -o $(if $(filter dist,$(ARTIFACTS_DIR)),dist/server,$(ARTIFACTS_DIR))/server ./functions/server

build-AuthFunction: ; $(MAKE) --no-print-directory build-auth
build-OrganizationsFunction: ; $(MAKE) --no-print-directory build-organizations
build-EntitiesFunction: ; $(MAKE) --no-print-directory build-entities
build-ReportsFunction: ; $(MAKE) --no-print-directory build-reports
build-HealthFunction: ; $(MAKE) --no-print-directory build-health
# The migration custom resource's function (template.yaml's MigrateFunction, not an API route).
build-MigrateFunction: ; $(MAKE) --no-print-directory build-migrate

bench: deps ## load-test a stack it starts itself, then make run's embedded defaults, against the targets; report in bench-results/
	$(GO) run ./cmd/loadgen bench $(BENCH_FLAGS)

# Faults one after another under an open-loop mix (loadgen chaos, cmd/loadgen/chaos.go), then every
# acknowledged write read back; about 2½ minutes on a warm build cache. CHAOS_FLAGS adds loadgen
# chaos flags (e.g. -faults redis-kill,failover -rate 200).
chaos: deps ## kill, pause, slow and fail over every dependency under load; prove no acknowledged write is lost (report in bench-results/chaos.txt)
	$(GO) run ./cmd/loadgen chaos $(CHAOS_FLAGS)

bench-go: deps ## the hot paths' Go benchmarks (benchstat-friendly), against real services
	@mkdir -p bench-results
	$(GO) run ./cmd/devservices run -- $(GO) test -run '^$$' -bench . -benchmem -count 6 ./shared/query ./shared/auth ./shared/ratelimit ./shared/cache ./shared/lambdahttp ./shared/domain ./shared/metrics ./cmd/local/gateway ./cmd/local/metricsview | tee bench-results/go-bench.txt

# The Lambda boundary in process (functions/internal/function/lambdabench): each route's real
# lambda.Handler, built as main builds it, invoked with recorded API Gateway events against the
# real services. cpu-µs/op, p50/p99, allocations and round trips per invocation, plus a CPU profile
# of the cached GET. Under flock /tmp/bench.lock so that two benchmarks never share the cores.
bench-lambda: deps ## Lambda handlers in process: CPU µs, p50/p99, allocs, Redis/PG round trips per route
	@mkdir -p bench-results
	flock /tmp/bench.lock $(GO) run ./cmd/devservices run -- $(GO) test -run '^$$' -bench . -benchmem -count 3 ./functions/internal/function/lambdabench | tee bench-results/lambda-bench.txt
	flock /tmp/bench.lock $(GO) run ./cmd/devservices run -- $(GO) test -run '^$$' -bench 'Invoke/projects/get-cached$$' -benchtime 20000x -cpuprofile bench-results/lambda-get-cached.pprof -o bench-results/lambdabench.test ./functions/internal/function/lambdabench > /dev/null

# The seed's own stack (shared/peers/nestjs-apso: NestJS + TypeORM + Redis, its wrk scenarios) and
# server mode on the same data, each scenario and concurrency back to back, every wrk run under
# flock /tmp/bench.lock; ~20 min. DURATION_S, WARMUP_S, CONNECTIONS, SCENARIOS: see the script.
bench-peer: deps ## server mode vs the NestJS peer, same data and wrk scenarios; table in bench-results/peer.md
	GO=$(GO) bash scripts/bench-peer.sh

# The capacity planner (cmd/plan): the seed's four user bands and a given load, sized from
# bench-results/lambda-bench.txt (make bench-lambda; without it the command says so and names the
# committed sample, cmd/plan/testdata/lambda-bench.txt). PLAN_FLAGS adds flags: the load
# (-users, -rps) and every assumption (go run ./cmd/plan -h).
plan: ## capacity plan for the seed's user bands and a given load (PLAN_FLAGS='-users 50000 -rps 2000'), from make bench-lambda's report
	$(GO) run ./cmd/plan $(PLAN_FLAGS)

migrate: ## apply migrations to DATABASE_URL (the primary, not the pooler: goose holds a session lock)
	$(GO) run ./cmd/migrate up

clean: ## remove build output and local data
	rm -rf dist .aws-sam .local
