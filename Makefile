# rarenet: build, test, benchmark. Every target works on a fresh machine with only Go.
GO      ?= go
MODULES := shared services/ingest services/scorer services/enricher services/windower services/notify services/console services/sources services/rarenet e2e
BINS    := rarenet ingest scorer enricher windower notify
# The commit the binaries are built from, for their `version`: Go stamps none in workspace
# mode or in a linked git worktree.
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell test -n "$$(git status --porcelain 2>/dev/null)" && echo -dirty)
LDFLAGS := -X github.com/rarenet/rarenet/shared/cli.commit=$(COMMIT)

.PHONY: all build test test-short vet fmt-check bench bench-quick quality screenshots demo clean generate generate-check

all: build

## build: the all-in-one, the four stage binaries and the notifier into bin/
build:
	@mkdir -p bin
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./services/rarenet/cmd/rarenet ./services/ingest/cmd/ingest \
		./services/scorer/cmd/scorer ./services/enricher/cmd/enricher ./services/windower/cmd/windower \
		./services/notify/cmd/notify

## test: vet and every test of every module, end-to-end ones included (e2e takes over go test's
## default 10 minutes on a loaded 2-core machine)
test: vet
	@set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 -timeout 30m ./...); done

## test-short: unit tests only (no binaries built, no separate processes)
test-short:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -short -count=1 ./...); done

vet:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fmt-check:
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt needed"; exit 1; }

## generate: recompile the eBPF sensor's BPF objects (Debian: clang-19 llvm-19 libbpf-dev)
generate:
	cd services/sources/sense && $(GO) generate .

## generate-check: regenerate the BPF objects and fail if they differ from the committed ones
generate-check: generate
	@git diff --exit-code --stat -- 'services/sources/sense/connect_*' && test -z "$$(git status --porcelain -- 'services/sources/sense/connect_*')" || \
		{ echo "the committed BPF objects of services/sources/sense are stale: run make generate and commit them"; exit 1; }

## bench: parser and model benchmarks, then issue 12's four figures against baselines measured in
## the same run (docs/performance.md): replay vs raw JetStream, peak RSS at two input sizes, cluster
## scale-out and per-bucket cost, live rates; each for ECS NDJSON and raw auditd. Ends with a table of
## the figures, PASS or BELOW TARGET each (a figure below its target does not fail the run; an error
## does). ~40 min on a 2-core machine; make bench-quick (BENCH_QUICK=1): a smoke run of small inputs
bench:
	cd services/ingest && $(GO) test -run '^$$' -bench . -benchmem ./format/...
	cd services/sources && $(GO) test -run '^$$' -bench . -benchmem ./collect/ ./chunk/
	cd services/scorer && $(GO) test -run '^$$' -bench . -benchmem ./rare/
	cd services/sources && $(GO) test -run '^$$' -bench RecordToDocument -benchmem ./sense/
	cd services/sources && $(GO) test -run '^$$' -bench ConnectOverhead -benchtime 20000x ./sense/
	cd services/scorer && $(GO) test -run '^$$' -bench BenchmarkModelFootprint -benchtime 1x .
	cd e2e && $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 120m -v .

## bench-quick: only issue 12's figures, on small inputs with one round each (a smoke run of the
## harness, ~10 min; its figures are not issue 12's)
bench-quick:
	cd e2e && BENCH_QUICK=1 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m -v .

## quality: regenerate docs/quality.md (every scenario's fleets, both profiles and a baseline; about 30 min on 2 idle cores)
quality:
	cd e2e && $(GO) run ./cmd/quality > ../docs/quality.md.new && mv ../docs/quality.md.new ../docs/quality.md

## screenshots: the console's screenshots in docs/console/, taken by its browser test (needs Chromium)
screenshots:
	cd services/console && RARENET_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run TestBrowser -v .

## demo: replay the bundled sample (a generated 3-day fleet history) and print the signals
demo: build
	bin/rarenet replay --stats /dev/stderr testdata/sample/fleet-3d.ndjson.gz

clean:
	rm -rf bin
