# workbot build. `make run` talks to real Slack when both tokens are set and starts the local sandbox
# otherwise; `make test` is what CI (.ci/run) runs.

GO        ?= go
BIN       := bin/workbot
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOBIN     := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test bench bench-all loadtest fuzz lint staticcheck tidy-check clean

all: lint test build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/workbot

run: build
	@if [ -n "$$SLACK_BOT_TOKEN" ] && [ -n "$$SLACK_APP_TOKEN" ]; then \
		exec ./$(BIN) run; \
	else \
		echo "SLACK_BOT_TOKEN/SLACK_APP_TOKEN not set: starting the local sandbox (see README.md to connect real Slack)"; \
		exec ./$(BIN) sandbox; \
	fi

# With WORKBOT_TEST_POSTGRES set (.ci/run sets it), the end-to-end tests run a second time on PostgreSQL.
test:
	$(GO) test -race -count=1 ./...
	@if [ -n "$$WORKBOT_TEST_POSTGRES" ]; then \
		echo "end-to-end tests on PostgreSQL"; \
		WORKBOT_E2E_STORE=postgres $(GO) test -race -count=1 ./bot; \
	fi

# The benchmarks run with the collector settings the binary sets for itself (cmd/workbot/gc.go).
BENCH_GOGC ?= 300
BENCH_GOMEMLIMIT ?= 120MiB

# make bench: the scale benchmarks (docs/benchmarks.md) on the 1M-item fixture, which is built once
# (about four minutes) and cached in $$TMPDIR/workbot-fixtures (WORKBOT_FIXTURE_DIR to move it), the
# fixture's space report, then the load test.
bench:
	WORKBOT_SCALE=1m $(GO) test -count=1 -run TestSpaceOfScale -v ./storage/fixture
	GOGC=$(BENCH_GOGC) GOMEMLIMIT=$(BENCH_GOMEMLIMIT) WORKBOT_SCALE=1m $(GO) test -run '^$$' -bench 'BenchmarkScale(Mine|Home|List|Load|Assign|Digest)' -benchtime 200x -timeout 30m ./bot
	GOGC=$(BENCH_GOGC) GOMEMLIMIT=$(BENCH_GOMEMLIMIT) WORKBOT_SCALE=1m $(GO) test -run '^$$' -bench 'BenchmarkScaleIntake' -benchtime 3000x -timeout 30m ./bot
	$(MAKE) loadtest

# make loadtest: 200 mixed envelopes a second for 60 s through the local Slack to the real binary on a
# copy of the 1M-item fixture: ack latency, missed acks, start-up on a cold page cache, RSS.
loadtest:
	WORKBOT_LOADTEST=1 WORKBOT_SCALE=1m $(GO) test -count=1 -v -run TestLoad -timeout 30m ./cmd/workbot/loadtest

# make bench-all: every benchmark of every package, the small ones included.
bench-all:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Each fuzz target for FUZZTIME; new findings land in the build cache, and a failure's input in
# testdata/fuzz (commit it: it becomes a seed that make test runs).
FUZZTIME ?= 30s
FUZZ_TARGETS := FuzzCommand FuzzEnvelope FuzzRenderers

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./bot || exit 1; \
	done

lint: staticcheck
	@if git grep -n -e '^<<<<<<< ' -e '^>>>>>>> ' -- . >/dev/null 2>&1; then echo "merge conflict markers:"; git grep -n -e '^<<<<<<< ' -e '^>>>>>>> ' -- .; exit 1; fi
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

staticcheck:
	@test -x $(GOBIN)/staticcheck && $(GOBIN)/staticcheck -version | grep -q '$(STATICCHECK_VERSION:v%=%)' || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

tidy-check:
	$(GO) mod tidy -diff

clean:
	rm -rf bin
