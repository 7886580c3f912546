#!/usr/bin/env bash
# install-tools.sh installs or builds the real components that bgrender's
# tests run against (see internal/kubetest). It is idempotent and returns
# quickly when everything is already in place, so CI and `make tools` can call
# it unconditionally.
#
# What it provides:
#   etcd            from the Debian package etcd-server (/usr/bin/etcd)
#   kube-apiserver  built from k8s.io/kubernetes (tools module in
#                   hack/tools/apiserver) into .tools/bin/kube-apiserver
#
# Usage: hack/install-tools.sh [component...]
#   Without arguments every component is installed. Components: etcd,
#   kube-apiserver.
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

install_etcd() {
	if command -v etcd >/dev/null 2>&1; then
		log "etcd: $(command -v etcd) (present)"
		return
	fi
	if [ -x /usr/bin/etcd ]; then
		log "etcd: /usr/bin/etcd (present)"
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "etcd is missing and apt-get is not available; install etcd (>= 3.4) and put it on PATH or set ETCD_BIN"
	log "etcd: installing Debian package etcd-server"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server
	[ -x /usr/bin/etcd ] || command -v etcd >/dev/null 2>&1 || die "etcd-server installed but no etcd binary found"
	# Debian starts the service where systemd runs; tests start their own
	# etcd, so stop it if it did start.
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
		as_root systemctl disable --now etcd || true
	fi
}

install_kube_apiserver() {
	local out="$TOOLS_BIN/kube-apiserver"
	if stamp_ok "$out" "$KUBE_VERSION"; then
		log "kube-apiserver: $out $KUBE_VERSION (present)"
		return
	fi
	# The version variables are what release builds set; without them the
	# server reports v0.0.0-master, which breaks clients (e.g. Helm's
	# kubeVersion checks) that look at /version.
	local pkg=k8s.io/component-base/version
	local ldflags="-s -w"
	ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION"
	ldflags+=" -X $pkg.gitMajor=$(echo "$KUBE_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')"
	ldflags+=" -X $pkg.gitMinor=$(echo "$KUBE_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')"
	ldflags+=" -X $pkg.gitTreeState=clean"
	go_build_tool "$REPO/hack/tools/apiserver" "$out" "$KUBE_VERSION" \
		-trimpath -ldflags "$ldflags" k8s.io/kubernetes/cmd/kube-apiserver
}

# Later components go here, built the same way from their own tools module
# under hack/tools/<name> (see TESTBED.md for the recipes):
#
# install_helm3() { ... go_build_tool "$REPO/hack/tools/helm3" "$REPO/.tools/helm3/helm" "$HELM3_VERSION" helm.sh/helm/v3/cmd/helm; }
# install_helm4() { ... go_build_tool "$REPO/hack/tools/helm4" "$REPO/.tools/helm4/helm" "$HELM4_VERSION" helm.sh/helm/v4/cmd/helm; }
# install_gitea() { ... CGO_ENABLED=1 go_build_tool "$REPO/hack/tools/gitea" "$TOOLS_BIN/gitea" "$GITEA_VERSION" -tags "sqlite sqlite_unlock_notify" code.gitea.io/gitea; }
#
# and add their names to ALL_COMPONENTS below.

ALL_COMPONENTS=(etcd kube-apiserver)

main() {
	local components=("$@")
	[ "${#components[@]}" -gt 0 ] || components=("${ALL_COMPONENTS[@]}")
	local c
	for c in "${components[@]}"; do
		case "$c" in
		etcd) install_etcd ;;
		kube-apiserver) install_kube_apiserver ;;
		*) die "unknown component $c (known: ${ALL_COMPONENTS[*]})" ;;
		esac
	done
}

main "$@"
