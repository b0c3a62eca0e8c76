#!/usr/bin/env bash
# Builds (or reuses) the real control-plane binaries from pinned Go modules, envtest-style:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes via the wrapper
# module in hack/k8s-bins), etcd (hack/etcd-bin), kwok and helm (plain go install).
# The cache lives outside the repository, keyed by version, so fresh clones reuse it.
# Prints the bin directory on the last line of stdout.
# Env: MIO_BIN_DIR (cache dir), KUBEBUILDER_ASSETS (use prebuilt kube-apiserver/etcd/kubectl from there),
#      MIO_<NAME>_BIN (per-binary override, e.g. MIO_KUBE_APISERVER_BIN), MIO_BINS="apiserver ..." (subset).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K8S=v1.36.3; ETCD=v3.6.14; KWOK=v0.8.0; HELM=v3.21.4
MINOR=${K8S#v1.}; MINOR=${MINOR%%.*}
BIN=${MIO_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/machine-identity-operator/bin/k8s-$K8S-etcd-$ETCD-kwok-$KWOK-helm-$HELM}
mkdir -p "$BIN"
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

k8s_needed=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  envname="MIO_$(echo "$b" | tr 'a-z-' 'A-Z_')_BIN"
  link_override "$b" "$envname" && continue
  have "$b" || k8s_needed+=("$b")
done
if [ ${#k8s_needed[@]} -gt 0 ]; then
  log "building ${k8s_needed[*]} $K8S (cold, empty Go caches: ~4 min on 2 cores; warm: seconds)"
  NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ); LDF="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDF+=" -X $p.gitVersion=$K8S -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=$NOW"
  done
  pkgs=(); for b in "${k8s_needed[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$here/k8s-bins" && go build -trimpath -tags selinux,notest -ldflags "$LDF" -o "$BIN/" "${pkgs[@]}")
  for b in "${k8s_needed[@]}"; do touch "$BIN/.$b.ok"; done
  log "built ${k8s_needed[*]} in $(( $(date +%s) - t0 ))s"
fi

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
