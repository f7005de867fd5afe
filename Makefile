# k8sdrv — see README.md. `make help` lists the targets; a newcomer starts with
#   make demo   a sample job through k8sdrv on a local cluster
#   make unit   the seconds-long loop: unit and golden-file tests, no cluster
#   make test   lint, unit tests and the e2e suite on the local KWOK cluster
SHELL := bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
# The commit's time, not the clock's, so that one commit always builds the
# same bytes (make release's SHA256SUMS can be reproduced).
DATE ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# urfave/cli renders man pages and Markdown only when built without this
# tag; k8sdrv renders its man page in a test (make man), so the binary
# leaves the renderer out: every call of k8sdrv (one per stage) skips its
# start-up work (docs/BENCHMARKS.md).
TAGS := urfave_cli_no_docs
BIN := bin/k8sdrv

.PHONY: build man release test-release help test test-real test-hostcheck unit e2e bench demo cluster-up cluster-down cluster-bin gitlab-runner-bin lint golden clean

build: ## bin/k8sdrv, version-stamped (the default target)
	CGO_ENABLED=0 go build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/k8sdrv

# Static binaries, their image archives and SBOMs, SHA256SUMS
# (hack/release.sh, hack/release/). Two architectures take a few minutes on
# 2 cores, so make test leaves it to make test-release.
DIST ?= dist
release: ## static linux/amd64+arm64 binaries, image archives, SBOMs, SHA256SUMS into dist/
	DIST=$(DIST) VERSION=$(VERSION) COMMIT=$(COMMIT) DATE=$(DATE) LDFLAGS='$(LDFLAGS)' TAGS='$(TAGS)' hack/release.sh

# The artifacts are checked (hack/release/dist_test.go), then built again
# elsewhere and compared byte for byte: a release can be reproduced.
test-release: release ## make release, its artifacts checked, then rebuilt and compared byte for byte
	set -o pipefail; K8SDRV_DIST=$(CURDIR)/$(DIST) K8SDRV_VERSION=$(VERSION) go test -count=1 -run '^TestIntegrationDist$$' -v ./hack/release | grep -E '^(---|ok|FAIL)|_test.go'
	@$(MAKE) --no-print-directory release DIST=bin/dist-again >/dev/null
	diff $(DIST)/SHA256SUMS bin/dist-again/SHA256SUMS && echo "test-release: rebuilt to the same bytes"

# The page is rendered from the command tree by a test, which make unit
# runs to check that docs/k8sdrv.1 is current.
man: ## docs/k8sdrv.1, the man page, from the command tree
	go test -count=1 -run '^TestManPage$$' ./cmd/k8sdrv -update-man

# One line per target from its `## ` comment.
help: ## this list
	@awk -F ':.*## ' '/^[a-z][a-z0-9-]*:.*## / { printf "  make %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

unit: ## unit and golden-file tests, no cluster: seconds once Go has cached them
	go test -short ./...

lint: ## gofmt, go vet, shellcheck (apt-get install shellcheck)
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting" && false)
	go vet ./...
	shellcheck -s sh scripts/*.sh
	shellcheck -x -P SCRIPTDIR hack/cluster/*.sh hack/gitlab-runner/*.sh hack/*.sh .ci/run e2e/testdata/*.sh

# e2e runs the built binary as gitlab-runner does against the local cluster.
e2e: build cluster-bin ## the e2e suite alone, on the local KWOK cluster
	K8SDRV_BINARY=$(CURDIR)/$(BIN) go test -count=1 -timeout 20m ./e2e/...

# The local cluster's binaries are built first, outside go test's timeout:
# on a fresh machine that takes about 10 minutes. No kubelet is started: the
# real single-node cluster is make test-real's.
test: lint build cluster-bin gitlab-runner-bin test-hostcheck ## lint, unit tests, the e2e suite on KWOK; no kubelet (cold about 15 min)
	K8SDRV_BINARY=$(CURDIR)/$(BIN) go test -count=1 -timeout 30m ./...

# The e2e suite on the real single-node cluster (make cluster-up CLUSTER=real):
# real containers, real exec exit codes, services that answer, enforced
# limits; tests that need KWOK's simulation are skipped, saying why. The
# Debian packages it needs are installed first; a cluster it started is taken
# down again and the host compared with before (hack/cluster/hostcheck.sh).
test-real: build gitlab-runner-bin ## the e2e suite on a real node (root; installs Debian packages), host compared before/after
	K8SDRV_BINARY=$(CURDIR)/$(BIN) hack/test-real.sh

# Runs as part of make test; the cases that need root say SKIPPED without it.
test-hostcheck: ## hostcheck.sh (test-real's host comparison) sees the cluster's leftovers and nothing else
	@hack/test-hostcheck.sh

cluster-bin: ## the local cluster's binaries, built once into ~/.cache/k8sdrv
	@hack/cluster/build.sh

# A real gitlab-runner (its own code from the module proxy, see
# hack/gitlab-runner/NOTES.md) for the e2e tests that run jobs through it.
gitlab-runner-bin: ## gitlab-runner for the e2e tests, built once into ~/.cache/k8sdrv
	@hack/gitlab-runner/build.sh >/dev/null

bench: build ## the e2e benchmarks on KWOK and the real node; rewrites docs/BENCHMARKS.md
	K8SDRV_BINARY=$(CURDIR)/$(BIN) hack/bench.sh

# Many jobs at once on a KWOK cluster of its own with SCALE_NODES simulated
# nodes (e2e/scale_test.go): SCALE_JOBS jobs at each concurrency of
# SCALE_LEVELS; fails on a failed job or a pod left. A smoke run:
#   make bench-scale SCALE_JOBS=20 SCALE_LEVELS=5,10
SCALE_JOBS ?= 500
SCALE_LEVELS ?= 50,100,200
SCALE_NODES ?= 100
.PHONY: bench-scale
bench-scale: build cluster-bin ## SCALE_JOBS jobs at each of SCALE_LEVELS concurrent on 100 KWOK nodes; rewrites its part of docs/BENCHMARKS.md and docs/bench-scale.svg
	K8SDRV_BINARY=$(CURDIR)/$(BIN) SCALE_JOBS=$(SCALE_JOBS) SCALE_LEVELS=$(SCALE_LEVELS) SCALE_NODES=$(SCALE_NODES) hack/bench-scale.sh

demo: build ## a sample job through k8sdrv on a real node (root), on KWOK where that cannot run
	hack/demo.sh

# `make cluster-up CLUSTER=real` (and cluster-down): a real single-node cluster
# (kubelet + containerd on this host, needs root) instead of KWOK; see
# hack/cluster/NOTES.md. CLUSTER from the command line reaches the scripts.
cluster-up: ## start the local KWOK cluster (CLUSTER=real: the real node, root); prints KUBECONFIG=
	@hack/cluster/up.sh

cluster-down: ## stop it (CLUSTER=real: and leave the host as it was)
	@hack/cluster/down.sh

# Every Fuzz function of the module in turn (go test -fuzz takes one target
# at a time), FUZZTIME each; go test -list finds them, -short keeping the e2e
# TestMain from starting its cluster. One worker by default, so that the
# machine keeps a core for other work. go test ./... runs their seeds; a
# failing input is written to the package's testdata/fuzz/ and, committed
# with its fix, stays a seed.
FUZZTIME ?= 1m
FUZZWORKERS ?= 1
.PHONY: fuzz
fuzz: ## every fuzz target for FUZZTIME each (default 1m), one worker (FUZZWORKERS)
	@set -o pipefail; go test -short -list '^Fuzz' ./... | \
	awk '/^Fuzz/ { name[n++] = $$1 } /^ok/ { for (i = 0; i < n; i++) print $$2, name[i]; n = 0 }' | \
	while read -r pkg name; do \
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel $(FUZZWORKERS) "$$pkg" || exit 1; \
	done

# The fault scenarios at full size (docs/RELIABILITY.md): 1,000 jobs, 100
# stages under random connection cuts, a 10-minute silent stage behind an
# idle-closing proxy, ten API server restarts mid-stage and mid-prepare.
# make test runs the short versions of the same tests.
.PHONY: soak
soak: build cluster-bin ## the fault scenarios at full size on KWOK (about half an hour); not part of make test
	@mkdir -p bin; echo "soak: full log in bin/soak.log"
	@set -o pipefail; K8SDRV_E2E_SOAK=1 K8SDRV_BINARY=$(CURDIR)/$(BIN) go test -count=1 -timeout 3h -v \
		-run '^TestIntegration(Soak|StagesUnderRandomCuts|SilentStageBehindIdleClosingProxy|APIServerRestartMid(Stage|Prepare)|LocalValidationMatchesTheAPIServer)$$' ./e2e/ 2>&1 | \
		tee bin/soak.log | grep -E '^(--- FAIL|FAIL|ok)|: (soak|random cuts|silent|API server restarted|differential)'

golden: ## rewrite the pod builder's golden files (review the diff like code)
	go test ./podbuilder -update

clean: ## remove bin/ and dist/
	rm -rf bin $(DIST)
