# k8sdrv — see README.md. The first two targets a newcomer runs:
#   make demo   local cluster + a sample job through k8sdrv
#   make test   unit tests and the e2e suite (brings the local cluster up)
SHELL := bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/k8sdrv

.PHONY: build test test-real unit e2e bench demo cluster-up cluster-down cluster-bin gitlab-runner-bin lint golden clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/k8sdrv

unit:
	go test -short ./...

lint:
	gofmt -l . | (! grep .) || (echo "gofmt: files above need formatting" && false)
	go vet ./...
	shellcheck -s sh scripts/*.sh
	shellcheck -x -P SCRIPTDIR hack/cluster/*.sh hack/gitlab-runner/*.sh hack/*.sh .ci/run

# e2e runs the built binary as gitlab-runner does against the local cluster.
e2e: build cluster-bin
	K8SDRV_BINARY=$(CURDIR)/$(BIN) go test -count=1 -timeout 20m ./e2e/...

# The local cluster's binaries are built first, outside go test's timeout:
# on a fresh machine that takes about 10 minutes.
# Then the e2e suite again on the real single-node cluster (test-real); a
# machine that cannot start a real node says SKIPPED instead.
test: lint build cluster-bin gitlab-runner-bin
	K8SDRV_BINARY=$(CURDIR)/$(BIN) go test -count=1 -timeout 30m ./...
	K8SDRV_BINARY=$(CURDIR)/$(BIN) K8SDRV_REAL_OPTIONAL=1 hack/test-real.sh

# The e2e suite on the real single-node cluster (make cluster-up CLUSTER=real):
# real containers, real exec exit codes, services that answer, enforced
# limits; tests that need KWOK's simulation are skipped, saying why. A
# cluster it started is taken down again and the host compared with before.
test-real: build gitlab-runner-bin
	K8SDRV_BINARY=$(CURDIR)/$(BIN) hack/test-real.sh

cluster-bin:
	@hack/cluster/build.sh

# A real gitlab-runner (its own code from the module proxy, see
# hack/gitlab-runner/NOTES.md) for the e2e tests that run jobs through it.
gitlab-runner-bin:
	@hack/gitlab-runner/build.sh >/dev/null

bench: build
	K8SDRV_BINARY=$(CURDIR)/$(BIN) hack/bench.sh

demo: build
	hack/demo.sh

# `make cluster-up CLUSTER=real` (and cluster-down): a real single-node cluster
# (kubelet + containerd on this host, needs root) instead of KWOK; see
# hack/cluster/NOTES.md. CLUSTER from the command line reaches the scripts.
cluster-up:
	@hack/cluster/up.sh

cluster-down:
	@hack/cluster/down.sh

golden:
	go test ./podbuilder -update

clean:
	rm -rf bin
