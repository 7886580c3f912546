# bgrender's developer entry points. `make test` is what CI runs: it installs
# or builds every real component the tests use (see hack/install-tools.sh),
# then runs vet, every test, and a short fuzzing pass.

GO ?= go
FUZZTIME ?= 20s

.PHONY: all build example tools test test-short vet fuzz bench golden image

all: build

build:
	$(GO) build -trimpath -o bin/bgrender ./cmd/bgrender
	$(GO) build -trimpath -o bin/bgrender-chart ./cmd/bgrender-chart

# Render the article's example to standard output.
example:
	$(GO) run ./cmd/bgrender render examples/seed/app.yaml

# Install Prometheus, iproute2 and nftables (Debian packages) and build etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kwok, Flux's
# source-controller and kustomize-controller, Helm 3, Helm 4, Gitea,
# kube-score and Traefik (the loop bed's Gateway) into
# .tools/ (idempotent, quick when present); also the Argo Rollouts
# controller (with Go 1.27.3, fetched for that build only).
tools:
	hack/install-tools.sh

vet:
	$(GO) vet ./...

# Every test against the real components, then a short fuzzing pass.
test: tools vet
	$(GO) test -count=1 -timeout 60m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./spec
	$(GO) test -run '^$$' -fuzz '^FuzzRun$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./postrender

# Unit tests only: tests that need real components are skipped.
test-short:
	$(GO) test -short ./...

# Rewrite golden files after an intended output change; review the diff.
golden:
	$(GO) test ./cmd/bgrender ./rollouts ./promote -update

KUSTOMIZE_VERSION ?= v5.8.1

# Speed and memory: Go benchmarks, process start-up time, post-rendering
# against kustomize build and a bare kyaml read-and-write, and a promote on a
# large GitOps repository against the git CLI.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./render ./postrender
	$(GO) run ./bench/startup -n 200
	test -x .tools/kustomize/kustomize || GOBIN=$(CURDIR)/.tools/kustomize GOWORK=off GOFLAGS=-mod=mod $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	$(GO) run ./bench/postrender -runs 5
	$(GO) run ./bench/gitops

# The container image, without Docker: a static bgrender (CGO_ENABLED=0,
# -trimpath) in an OCI image layout at $(IMAGE_DIR), written by hack/image
# (go-containerregistry): bgrender as entrypoint, user 65532, a CA bundle,
# no shell. The same tree gives the same digest. Push it with
# `crane push $(IMAGE_DIR) REGISTRY/bgrender:TAG` or
# `skopeo copy oci:$(IMAGE_DIR) docker://REGISTRY/bgrender:TAG`.
IMAGE_DIR ?= bin/image
IMAGE_TAG ?= bgrender:latest
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)

image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags "-s -w" -o bin/linux-$(IMAGE_ARCH)/bgrender ./cmd/bgrender
	cd hack/image && GOWORK=off $(GO) run . -binary $(CURDIR)/bin/linux-$(IMAGE_ARCH)/bgrender \
		-out $(abspath $(IMAGE_DIR)) -tag $(IMAGE_TAG) -arch $(IMAGE_ARCH)
