#!/usr/bin/env bash
# Builds (or reuses) the real Kubernetes binaries from pinned Go modules, envtest-style:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes via the wrapper
# module hack/k8s-bins/v1.<minor>/, one per supported version), etcd (hack/etcd-bin), kwok and helm
# (plain go install); with --node (or MIO_NODE_BINS=1) also kubelet and kube-proxy, which only the real
# node needs, so the default (kwok) path does not pay for them.
# The cache lives outside the repository, keyed by version, so fresh clones reuse it.
# Prints the bin directory on the last line of stdout.
# Env: MIO_K8S_VERSION (one of the supported versions below; default DEFAULT_K8S),
#      MIO_BIN_DIR (cache dir), KUBEBUILDER_ASSETS (use prebuilt kube-apiserver/etcd/kubectl from there),
#      MIO_<NAME>_BIN (per-binary override, e.g. MIO_KUBE_APISERVER_BIN, MIO_KUBELET_BIN),
#      MIO_NODE_BINS=1 (same as --node).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Supported Kubernetes versions, each with its wrapper module hack/k8s-bins/v1.<minor>/ (made by
# `K8S=<version> bash hack/k8s-bins/gen-gomod.sh`): the oldest (extended support), the previous, the current.
SUPPORTED_K8S="v1.32.13 v1.36.3 v1.37.2"
DEFAULT_K8S=v1.37.2
K8S=${MIO_K8S_VERSION:-$DEFAULT_K8S}; ETCD=v3.6.14; KWOK=v0.8.0; HELM=v3.21.4
NODE=${MIO_NODE_BINS:-0}
for a in "$@"; do
  case "$a" in
    --node) NODE=1 ;;
    *) echo "usage: $0 [--node]" >&2; exit 2 ;;
  esac
done
case " $SUPPORTED_K8S " in *" $K8S "*) ;; *) echo "MIO_K8S_VERSION=$K8S is not one of: $SUPPORTED_K8S" >&2; exit 2 ;; esac
MINOR=${K8S#v1.}; MINOR=${MINOR%%.*}
WRAPPER="$here/k8s-bins/v1.$MINOR"
grep -qE "^[[:space:]]*(require )?k8s\.io/kubernetes $K8S( |\$)" "$WRAPPER/go.mod" 2>/dev/null \
  || { echo "$WRAPPER/go.mod does not pin k8s.io/kubernetes $K8S: run K8S=$K8S bash hack/k8s-bins/gen-gomod.sh" >&2; exit 2; }
BIN=${MIO_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/machine-identity-operator/bin/k8s-$K8S-etcd-$ETCD-kwok-$KWOK-helm-$HELM}
mkdir -p "$BIN"
# one build per directory at a time: parallel test runs or worktrees that start at once would otherwise each
# compile the same modules (seen: four concurrent builds of one version, each ~4× slower on 2 cores); the
# waiter then finds the binaries made and only checks them
if command -v flock >/dev/null; then exec 9>"$BIN/.build.lock"; flock 9; fi
# one directory holds one version (MIO_BIN_DIR is not keyed by version): refuse to mix
if [ -f "$BIN/.k8s-version" ] && [ "$(cat "$BIN/.k8s-version")" != "$K8S" ]; then
  echo "$BIN holds Kubernetes $(cat "$BIN/.k8s-version"), not $K8S: use another MIO_BIN_DIR" >&2; exit 2
fi
echo "$K8S" > "$BIN/.k8s-version"
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
log() { printf '[bins %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
t0=$(date +%s)

# an override (env or KUBEBUILDER_ASSETS) wins; it is linked into the cache dir so callers use one path
link_override() { # name envvar
  local v=${!2:-}
  if [ -z "$v" ] && [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$1" ]; then v="$KUBEBUILDER_ASSETS/$1"; fi
  if [ -n "$v" ]; then ln -sf "$v" "$BIN/$1"; log "$1: using $v"; return 0; fi
  return 1
}
# a marker records the recipe (flags) a binary was built with; a changed recipe rebuilds it
have() { [ -x "$BIN/$1" ] && [ -f "$BIN/.$1.ok" ] && [ "$(cat "$BIN/.$1.ok")" = "${2:-}" ]; }

# version stamps, so `--version` and the apiserver's /version say $K8S (a module build has no git tree)
K8S_LDF="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDF+=" -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
done
build_k8s() { # what (for the log) recipe-marker binaries...
  local what=$1 recipe=$2 needed=() pkgs=() b t1
  shift 2
  for b in "$@"; do
    link_override "$b" "MIO_$(echo "$b" | tr 'a-z-' 'A-Z_')_BIN" && continue
    have "$b" "$recipe" || needed+=("$b")
  done
  [ ${#needed[@]} -gt 0 ] || return 0
  log "building ${needed[*]} $K8S ($what; cold, empty Go caches: minutes on 2 cores; warm: seconds)"
  t1=$(date +%s)
  for b in "${needed[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$WRAPPER" && go build -trimpath -tags selinux,notest -ldflags "$K8S_LDF" -o "$BIN/" "${pkgs[@]}")
  for b in "${needed[@]}"; do echo "$recipe" > "$BIN/.$b.ok"; done
  log "built ${needed[*]} in $(( $(date +%s) - t1 ))s"
}
build_k8s "control plane" "" kube-apiserver kube-controller-manager kube-scheduler kubectl
# kubelet and kube-proxy build as static binaries (CGO_ENABLED=0, as upstream releases them)
if [ "$NODE" = 1 ]; then build_k8s "node" "cgo=$CGO_ENABLED" kubelet kube-proxy; fi

if ! link_override etcd MIO_ETCD_BIN && ! have etcd; then
  log "building etcd $ETCD"
  (cd "$here/etcd-bin" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  touch "$BIN/.etcd.ok"
fi
if ! link_override kwok MIO_KWOK_BIN && ! have kwok; then
  log "building kwok $KWOK"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK"
  touch "$BIN/.kwok.ok"
fi
# kwok's stage definitions are read in place from the module cache
STAGES="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK/kustomize/stage/fast"
if [ ! -d "$STAGES" ]; then (cd "$(mktemp -d)" && go mod download "sigs.k8s.io/kwok@$KWOK"); fi
ln -sfn "$STAGES" "$BIN/kwok-stages"
# helm's default Kubernetes version for `helm template`/`lint` (else v1.20 and kubeVersion checks fail)
HELM_LDF="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do HELM_LDF+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$MINOR"; done
if ! link_override helm MIO_HELM_BIN && ! have helm "$HELM_LDF"; then
  log "building helm $HELM"
  GOBIN="$BIN" go install -trimpath -ldflags "$HELM_LDF" "helm.sh/helm/v3/cmd/helm@$HELM"
  echo "$HELM_LDF" > "$BIN/.helm.ok"
fi
log "all binaries ready in $(( $(date +%s) - t0 ))s: $("$BIN/kube-apiserver" --version)"
echo "$BIN"
