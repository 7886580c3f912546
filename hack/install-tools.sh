#!/usr/bin/env bash
# install-tools.sh installs or builds the real components that bgrender's
# tests run against (see internal/testbed/kubetest). It is idempotent and returns
# quickly when everything is already in place, so CI and `make tools` can call
# it unconditionally.
#
# What it provides:
#   etcd            etcd v3.6, built from the tools module in hack/tools/etcd
#                   into .tools/bin/etcd (Debian's 3.4 makes kube-apiserver
#                   1.37's WatchList stall client-go informers)
#   kube-apiserver  built from k8s.io/kubernetes (tools module in
#                   hack/tools/apiserver) into .tools/bin/kube-apiserver
#   kube-controller-manager, kube-scheduler
#                   the same way, from the same module, into .tools/bin
#                   (see internal/testbed/loop)
#   kube-proxy      the same way (nftables mode; the loop bed's data plane,
#                   internal/testbed/loop DataPlane)
#   nftables        the nft command (Debian package nftables), which
#                   kube-proxy's nftables mode runs
#   metrics-server  sigs.k8s.io/metrics-server, built with `go install
#                   sigs.k8s.io/metrics-server/cmd/metrics-server@V` (its own
#                   k8s.io v0.33 modules) into .tools/bin/metrics-server; the
#                   loop bed's opt-in metrics chain (internal/testbed/loop
#                   Metrics)
#   kwok            sigs.k8s.io/kwok (fake nodes and pods), built with
#                   `go install sigs.k8s.io/kwok/cmd/kwok@V` into .tools/bin/kwok
#   flux-source     Flux's source-controller, from the tools module in
#                   hack/tools/flux-source, into .tools/bin/source-controller;
#                   its CRDs stay in the Go module cache (config/crd/bases)
#   flux-kustomize  Flux's kustomize-controller, from hack/tools/flux-kustomize,
#                   into .tools/bin/kustomize-controller (CRDs likewise)
#   helm3           Helm 3, built with `go install helm.sh/helm/v3/cmd/helm@V`
#                   into .tools/helm3/helm (see internal/testbed/helmtest)
#   helm4           Helm 4, built with `go install helm.sh/helm/v4/cmd/helm@V`
#                   into .tools/helm4/helm
#   gitea           Gitea, built from the tools module in hack/tools/gitea
#                   into .tools/bin/gitea (cgo, for SQLite)
#   prometheus      from the Debian package prometheus
#   iproute2        the ip command (network namespaces in the tests)
#   kube-score      a manifest linter (go install), into .tools/bin/kube-score
#   gateway-api-crds
#                   sigs.k8s.io/gateway-api downloaded into the Go module
#                   cache, whose standard-channel CRDs (config/crd/standard)
#                   e2e/gateway_test.go installs in the test API server
#   actionlint      the GitHub Actions workflow linter (go install), into
#                   .tools/bin/actionlint
#   argo-rollouts   the Argo Rollouts controller, from the tools module in
#                   hack/tools/argo-rollouts (built with GOTOOLCHAIN=go1.27.3),
#                   into .tools/bin/rollouts-controller; its CRDs
#                   (manifests/crds) stay in the Go module cache
#   traefik         Traefik v3.6, from the tools module in hack/tools/traefik
#                   (its go.mod copies Traefik's replace and exclude lines),
#                   into .tools/bin/traefik; the loop bed's real Gateway
#                   (internal/testbed/loop Gateway). Cold (empty Go caches):
#                   1,150 CPU-seconds, 17 minutes on 2 cores busy with other
#                   builds, about 10 on quiet ones
#
# Usage: hack/install-tools.sh [component...]
#   Without arguments every component is installed. Components: etcd,
#   kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
#   metrics-server, nftables, kwok,
#   flux-source, flux-kustomize, helm3, helm4, gitea, prometheus, iproute2,
#   kube-score, gateway-api-crds, actionlint, argo-rollouts, traefik.
#
# Environment:
#   TOOLS_BIN   where built binaries go (default: <repo>/.tools/bin)
#   FORCE=1     rebuild even if the version stamp matches
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="${TOOLS_BIN:-$REPO/.tools/bin}"
FORCE="${FORCE:-0}"

# Pinned versions. Change a version here and the next run rebuilds the tool.
KUBE_VERSION="v1.37.2" # must match hack/tools/apiserver/go.mod
ETCD_VERSION="v3.6.16" # must match hack/tools/etcd/go.mod
METRICS_SERVER_VERSION="v0.8.0"
KWOK_VERSION="v0.8.0"  # must match internal/testbed/loop (kwok-stages.yaml)
FLUX_SOURCE_VERSION="v1.9.6"    # must match hack/tools/flux-source/go.mod and internal/testbed/loop
FLUX_KUSTOMIZE_VERSION="v1.9.6" # must match hack/tools/flux-kustomize/go.mod and internal/testbed/loop
HELM3_VERSION="v3.22.0"
HELM4_VERSION="v4.3.1"
GATEWAY_API_VERSION="v1.6.3" # must match go.mod and e2e/gateway_test.go
ARGO_ROLLOUTS_VERSION="v1.10.2" # must match hack/tools/argo-rollouts/go.mod and internal/testbed/loop
ARGO_ROLLOUTS_TOOLCHAIN="go1.27.3" # Argo Rollouts' go.mod asks for Go 1.26.10
TRAEFIK_VERSION="v3.6.12" # must match hack/tools/traefik/go.mod (v3.7 cannot be built from the module proxy)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install-tools: %s\n' "$*" >&2; exit 1; }

# as_root runs a command as root, through sudo when not already root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# stamp_ok BIN VERSION: true when BIN exists and BIN.version holds VERSION.
stamp_ok() {
	local bin="$1" want="$2"
	[ "$FORCE" != 1 ] || return 1
	[ -x "$bin" ] || return 1
	[ -f "$bin.version" ] || return 1
	[ "$(cat "$bin.version")" = "$want" ]
}

# write_stamp BIN VERSION
write_stamp() { printf '%s\n' "$2" >"$1.version"; }

# go_build_tool MODULE_DIR OUT VERSION [go build args...]: builds a command
# from a tools module under hack/tools into OUT (atomically, via a temporary
# file) and records VERSION in OUT.version. This is the building block for
# every tool built from the Go module proxy.
go_build_tool() {
	local moddir="$1" out="$2" version="$3"
	shift 3
	command -v go >/dev/null 2>&1 || die "go is not on PATH"
	mkdir -p "$(dirname "$out")"
	rm -f "$out.version"
	local tmp="$out.tmp.$$"
	log "building $(basename "$out") $version (this takes a few minutes the first time)"
	local start=$SECONDS
	(cd "$moddir" && GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -o "$tmp" "$@")
	mv -f "$tmp" "$out"
	write_stamp "$out" "$version"
	log "built $out in $((SECONDS - start))s"
}

# ---------------------------------------------------------------------------
# Components. Each install_<name> function must be idempotent and fast when
# the component is already present.
# ---------------------------------------------------------------------------

# debian_install COMMAND PACKAGE SERVICE HINT: makes sure COMMAND is on PATH
# (or in /usr/bin), installing the Debian PACKAGE when it is not. Debian
# starts a packaged SERVICE where systemd runs; the tests start their own,
# so it is stopped. HINT says what to do without apt-get.
debian_install() {
	local cmd="$1" pkg="$2" service="$3" hint="$4"
	if command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/bin/$cmd" ] || [ -x "/usr/sbin/$cmd" ]; then
		log "$cmd: $(command -v "$cmd" || ls /usr/bin/"$cmd" /usr/sbin/"$cmd" 2>/dev/null | head -1) (present)"
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is not available; $hint"
	log "$cmd: installing Debian package $pkg"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg"
	command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/bin/$cmd" ] || [ -x "/usr/sbin/$cmd" ] || die "$pkg installed but no $cmd found"
	if [ -n "$service" ] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
		as_root systemctl disable --now "$service" || true
	fi
}

# install_etcd: etcd v3.6 into .tools/bin/etcd, from the tools module in
# hack/tools/etcd (the main package of go.etcd.io/etcd/server/v3). Debian's
# etcd-server (3.4) lacks the watch progress notifications kube-apiserver
# 1.37's WatchList relies on: client-go informers (controllers, kwok, Flux)
# then re-list in a loop and a Deployment takes tens of seconds to roll out.
# internal/testbed/kubetest prefers this binary and falls back to an etcd on PATH only
# with --feature-gates=WatchList=false.
install_etcd() {
	local out="$TOOLS_BIN/etcd"
	if stamp_ok "$out" "$ETCD_VERSION"; then
		log "etcd: $out $ETCD_VERSION (present)"
		return
	fi
	CGO_ENABLED=0 go_build_tool "$REPO/hack/tools/etcd" "$out" "$ETCD_VERSION" \
		-trimpath -ldflags "-s -w" go.etcd.io/etcd/server/v3
}

# kube_ldflags: the version variables that release builds of Kubernetes set;
# without them a binary reports v0.0.0-master, which breaks clients (e.g.
# Helm's kubeVersion checks) that look at /version.
kube_ldflags() {
	local pkg=k8s.io/component-base/version
	local ldflags="-s -w"
	ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION"
	ldflags+=" -X $pkg.gitMajor=$(echo "$KUBE_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
	ldflags+=" -X $pkg.gitMinor=$(echo "$KUBE_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
	ldflags+=" -X $pkg.gitTreeState=clean"
	printf '%s' "$ldflags"
}

# install_kube NAME: k8s.io/kubernetes/cmd/NAME at KUBE_VERSION into
# .tools/bin/NAME, from the tools module in hack/tools/apiserver.
install_kube() {
	local name="$1"
	local out="$TOOLS_BIN/$name"
	if stamp_ok "$out" "$KUBE_VERSION"; then
		log "$name: $out $KUBE_VERSION (present)"
		return
	fi
	go_build_tool "$REPO/hack/tools/apiserver" "$out" "$KUBE_VERSION" \
		-trimpath -ldflags "$(kube_ldflags)" "k8s.io/kubernetes/cmd/$name"
}

install_kube_apiserver() { install_kube kube-apiserver; }
install_kube_controller_manager() { install_kube kube-controller-manager; }
install_kube_scheduler() { install_kube kube-scheduler; }
install_kube_proxy() { install_kube kube-proxy; }

# install_metrics_server: sigs.k8s.io/metrics-server with go install, its
# own go.mod deciding the k8s.io modules (v0.33): built against Kubernetes'
# v0.37 modules from hack/tools/apiserver it panics at start ("cannot find
# model definition for io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics":
# its generated OpenAPI names predate the models' new names).
install_metrics_server() {
	local out="$TOOLS_BIN/metrics-server"
	if stamp_ok "$out" "$METRICS_SERVER_VERSION"; then
		log "metrics-server: $out $METRICS_SERVER_VERSION (present)"
		return
	fi
	CGO_ENABLED=0 go_install_tool "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" "$out" "$METRICS_SERVER_VERSION" \
		-trimpath -ldflags "-s -w"
}

# go_install_tool PKG@VERSION OUT STAMP [go install args...]: builds a command
# straight from the Go module proxy with `go install PKG@VERSION` (the
# module's own go.mod and go.sum decide every dependency; no tools module is
# needed) into OUT, atomically: go install writes into a temporary GOBIN next
# to OUT and the binary is then renamed into place. It runs from a temporary
# directory with GOWORK=off so that no surrounding module or workspace is
# involved. STAMP is recorded in OUT.version.
go_install_tool() {
	local pkgver="$1" out="$2" stamp="$3"
	shift 3
	command -v go >/dev/null 2>&1 || die "go is not on PATH"
	local dir name
	dir="$(dirname "$out")"
	name="$(basename "${pkgver%@*}")"
	mkdir -p "$dir"
	rm -f "$out.version"
	local tmpbin tmpwd
	tmpbin="$(mktemp -d "$dir/.install.XXXXXX")"
	tmpwd="$(mktemp -d)"
	log "building $(basename "$dir")/$(basename "$out") $stamp (about a minute the first time)"
	local start=$SECONDS
	if ! (cd "$tmpwd" && GOWORK=off GOFLAGS=-mod=mod GOBIN="$tmpbin" go install "$@" "$pkgver"); then
		rm -rf "$tmpbin" "$tmpwd"
		die "go install $pkgver failed"
	fi
	mv -f "$tmpbin/$name" "$out"
	rm -rf "$tmpbin" "$tmpwd"
	write_stamp "$out" "$stamp"
	log "built $out in $((SECONDS - start))s"
}

# install_helm MAJOR VERSION: Helm MAJOR at VERSION into .tools/helmMAJOR/helm.
#
# A plain `go install` leaves Helm reporting "v3.22"/"v4.3" (the source
# default); release builds set the version through ldflags, and so do we so
# that `helm version` and .Capabilities.HelmVersion read e.g. v3.22.0. Helm 3
# also takes the default Kubernetes version of `helm template`
# (.Capabilities.KubeVersion) from ldflags, which its Makefile derives from
# the client-go it builds with (k8s.io/client-go v0.37.x -> 1.37); without
# them it would claim v1.20.0. Helm 4 reads client-go's version from the
# binary's build info at run time, so it needs nothing more.
install_helm() {
	local major="$1" version="$2"
	local out="$REPO/.tools/helm$major/helm"
	if stamp_ok "$out" "$version"; then
		log "helm$major: $out $version (present)"
		return
	fi
	local mod="helm.sh/helm/v$major"
	local ldflags="-s -w -X $mod/internal/version.version=$version"
	ldflags+=" -X $mod/internal/version.gitTreeState=clean"
	if [ "$major" = 3 ]; then
		local kmaj=1 kmin=37 # client-go v0.37.x in helm v3.22.0's go.mod
		ldflags+=" -X $mod/pkg/chartutil.k8sVersionMajor=$kmaj -X $mod/pkg/chartutil.k8sVersionMinor=$kmin"
		ldflags+=" -X $mod/pkg/lint/rules.k8sVersionMajor=$kmaj -X $mod/pkg/lint/rules.k8sVersionMinor=$kmin"
	fi
	CGO_ENABLED=0 go_install_tool "$mod/cmd/helm@$version" "$out" "$version" -trimpath -ldflags "$ldflags"
	local got
	got="$("$out" version --template '{{.Version}}' 2>/dev/null || true)"
	if [ "$got" != "$version" ]; then
		rm -f "$out.version" # so that the next run builds again
		die "$out reports version '$got', want $version"
	fi
}

install_helm3() { install_helm 3 "$HELM3_VERSION"; }
install_helm4() { install_helm 4 "$HELM4_VERSION"; }

# install_kwok: kwok into .tools/bin/kwok with `go install` (kwok's own
# go.mod decides its dependencies). The stage configuration it runs with is a
# copy of five files of the same version, in internal/testbed/loop.
install_kwok() {
	local out="$TOOLS_BIN/kwok"
	if stamp_ok "$out" "$KWOK_VERSION"; then
		log "kwok: $out $KWOK_VERSION (present)"
		return
	fi
	CGO_ENABLED=0 go_install_tool "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "$out" "$KWOK_VERSION" \
		-trimpath -ldflags "-s -w"
}

# install_kube_score: kube-score, a widely used manifest linter, into
# .tools/bin/kube-score; e2e/TestKubeScore judges the rendered examples
# with it.
install_kube_score() {
	local version="v1.20.0"
	local out="$TOOLS_BIN/kube-score"
	if stamp_ok "$out" "$version"; then
		log "kube-score: $out $version (present)"
		return
	fi
	CGO_ENABLED=0 go_install_tool "github.com/zegl/kube-score/cmd/kube-score@$version" "$out" "$version" \
		-trimpath -ldflags "-s -w"
}

# install_flux NAME MODULE VERSION: a Flux controller into .tools/bin/NAME
# from the tools module hack/tools/flux-<short name>. Its CRDs
# (config/crd/bases of MODULE) are read by internal/testbed/loop from the Go
# module cache, so the module is downloaded even when the binary is present
# (quick when it is).
install_flux() {
	local name="$1" mod="$2" version="$3"
	local moddir="$REPO/hack/tools/flux-${name%-controller}"
	local out="$TOOLS_BIN/$name"
	(cd "$moddir" && GOWORK=off GOFLAGS=-mod=mod go mod download "$mod")
	if stamp_ok "$out" "$version"; then
		log "$name: $out $version (present)"
		return
	fi
	CGO_ENABLED=0 go_build_tool "$moddir" "$out" "$version" -trimpath -ldflags "-s -w" "$mod"
}

install_flux_source() { install_flux source-controller github.com/fluxcd/source-controller "$FLUX_SOURCE_VERSION"; }
install_flux_kustomize() { install_flux kustomize-controller github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_VERSION"; }

# install_gitea: Gitea into .tools/bin/gitea, from the tools module in
# hack/tools/gitea (its go.mod copies the replace lines of Gitea's own). Gitea
# needs cgo for SQLite. internal/testbed/giteatest runs it with STATIC_ROOT_PATH set
# to the module's folder in the Go module cache, where its locale files are.
install_gitea() {
	local version="v1.26.0" # must match hack/tools/gitea/go.mod
	local out="$TOOLS_BIN/gitea"
	# The locale files must be in the module cache even when the binary is
	# present (quick when they are).
	(cd "$REPO/hack/tools/gitea" && GOWORK=off go mod download code.gitea.io/gitea)
	if stamp_ok "$out" "$version"; then
		log "gitea: $out $version (present)"
		return
	fi
	command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 || die "gitea needs a C compiler for SQLite (cgo); install gcc"
	CGO_ENABLED=1 go_build_tool "$REPO/hack/tools/gitea" "$out" "$version" \
		-trimpath -tags "sqlite sqlite_unlock_notify" \
		-ldflags "-s -w -X main.Version=${version#v}" code.gitea.io/gitea
}

# install_iproute2: the ip command, with which internal/testbed/netnstest creates
# the network namespaces of the service-proxy tests.
install_iproute2() {
	debian_install ip iproute2 "" "install iproute2"
}

# install_nftables: the nft command (>= 1.0.1), which kube-proxy's
# nftables mode runs; the loop bed runs kube-proxy in a network namespace of
# its own, so the host's rules are never touched.
install_nftables() {
	debian_install nft nftables "" "install nftables (>= 1.0.1)"
}

# install_prometheus: Prometheus from the Debian package prometheus (2.42 on
# Debian 12); internal/testbed/promtest starts it with its own config.
install_prometheus() {
	debian_install prometheus prometheus prometheus "install Prometheus (>= 2.x) and put it on PATH or set PROMETHEUS_BIN"
}

# install_gateway_api_crds: the module sigs.k8s.io/gateway-api into the Go
# module cache (from a temporary folder, so no go.mod is touched); the e2e
# tests install its standard-channel CRDs (config/crd/standard/*.yaml) in
# the test API server. Quick when the module is already there.
install_gateway_api_crds() {
	command -v go >/dev/null 2>&1 || die "go is not on PATH"
	local mod="sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
	local dir
	dir="$(go env GOMODCACHE)/$mod/config/crd/standard"
	if [ "$FORCE" != 1 ] && [ -f "$dir/gateway.networking.k8s.io_httproutes.yaml" ]; then
		log "gateway-api-crds: $mod in the Go module cache (present)"
		return
	fi
	local tmp
	tmp="$(mktemp -d)"
	log "gateway-api-crds: downloading $mod into the Go module cache"
	(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download "$mod") || {
		rm -rf "$tmp"
		die "go mod download $mod failed"
	}
	rm -rf "$tmp"
	[ -f "$dir/gateway.networking.k8s.io_httproutes.yaml" ] || die "$mod downloaded but has no config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"
}

# install_actionlint: actionlint, the linter of GitHub Actions workflows,
# into .tools/bin/actionlint (go install); e2e/ci_test.go checks
# examples/ci/github-actions.yaml with it.
install_actionlint() {
	local version="v1.7.12"
	local out="$TOOLS_BIN/actionlint"
	if stamp_ok "$out" "$version"; then
		log "actionlint: $out $version (present)"
		return
	fi
	CGO_ENABLED=0 go_install_tool "github.com/rhysd/actionlint/cmd/actionlint@$version" "$out" "$version" \
		-trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=$version"
}

# install_argo_rollouts: the Argo Rollouts controller into
# .tools/bin/rollouts-controller, from the tools module in
# hack/tools/argo-rollouts. Argo Rollouts' go.mod asks for a newer Go than
# the repo's, so this build alone runs with GOTOOLCHAIN=$ARGO_ROLLOUTS_TOOLCHAIN
# (the go command fetches that toolchain). Its CRDs (manifests/crds) are read
# from the Go module cache by e2e/rollouts_test.go and internal/testbed/loop,
# so the module is downloaded even when the binary is present (quick when
# it is).
install_argo_rollouts() {
	local mod="github.com/argoproj/argo-rollouts"
	local moddir="$REPO/hack/tools/argo-rollouts"
	local out="$TOOLS_BIN/rollouts-controller"
	(cd "$moddir" && GOTOOLCHAIN="$ARGO_ROLLOUTS_TOOLCHAIN" GOWORK=off GOFLAGS=-mod=mod go mod download "$mod")
	if stamp_ok "$out" "$ARGO_ROLLOUTS_VERSION"; then
		log "argo-rollouts: $out $ARGO_ROLLOUTS_VERSION (present)"
		return
	fi
	GOTOOLCHAIN="$ARGO_ROLLOUTS_TOOLCHAIN" CGO_ENABLED=0 go_build_tool "$moddir" "$out" "$ARGO_ROLLOUTS_VERSION" \
		-trimpath -ldflags "-s -w" "$mod/cmd/rollouts-controller"
}

# install_traefik: Traefik into .tools/bin/traefik, from the tools module in
# hack/tools/traefik. The version is set as Traefik's release builds set it;
# the loop bed starts it with --global.checkNewVersion=false (a release
# version would otherwise ask the network for newer releases) and without
# anonymous usage reports.
install_traefik() {
	local out="$TOOLS_BIN/traefik"
	if stamp_ok "$out" "$TRAEFIK_VERSION"; then
		log "traefik: $out $TRAEFIK_VERSION (present)"
		return
	fi
	local pkg=github.com/traefik/traefik/v3/pkg/version
	CGO_ENABLED=0 go_build_tool "$REPO/hack/tools/traefik" "$out" "$TRAEFIK_VERSION" \
		-trimpath -ldflags "-s -w -X $pkg.Version=$TRAEFIK_VERSION -X $pkg.Codename=ramequin" \
		github.com/traefik/traefik/v3/cmd/traefik
}

# Later components go here, built the same way (a tools module under
# hack/tools and go_build_tool, or go_install_tool; see TESTBED.md for the
# recipes), and their names go into ALL_COMPONENTS below.

ALL_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy metrics-server nftables kwok flux-source flux-kustomize helm3 helm4 gitea prometheus iproute2 kube-score gateway-api-crds actionlint argo-rollouts traefik)

main() {
	local components=("$@")
	[ "${#components[@]}" -gt 0 ] || components=("${ALL_COMPONENTS[@]}")
	local c
	for c in "${components[@]}"; do
		case "$c" in
		etcd) install_etcd ;;
		kube-apiserver) install_kube_apiserver ;;
		kube-controller-manager) install_kube_controller_manager ;;
		kube-scheduler) install_kube_scheduler ;;
		kube-proxy) install_kube_proxy ;;
		metrics-server) install_metrics_server ;;
		nftables) install_nftables ;;
		kwok) install_kwok ;;
		flux-source) install_flux_source ;;
		flux-kustomize) install_flux_kustomize ;;
		helm3) install_helm3 ;;
		helm4) install_helm4 ;;
		gitea) install_gitea ;;
		prometheus) install_prometheus ;;
		iproute2) install_iproute2 ;;
		kube-score) install_kube_score ;;
		gateway-api-crds) install_gateway_api_crds ;;
		actionlint) install_actionlint ;;
		argo-rollouts) install_argo_rollouts ;;
		traefik) install_traefik ;;
		*) die "unknown component $c (known: ${ALL_COMPONENTS[*]})" ;;
		esac
	done
}

main "$@"
