#!/usr/bin/env bash
# Regenerates go.mod for the Kubernetes wrapper module from upstream's own go.mod:
# every k8s.io staging module that upstream maps to ./staging is replaced by its published v0.X.Y.
# usage: K8S=v1.36.3 bash hack/k8s-bins/gen-gomod.sh
set -euo pipefail
cd "$(dirname "$0")"
K8S=${K8S:-v1.36.3}; STAGING=v0.${K8S#v1.}
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
UP=$(cd "$tmp" && go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$UP" ] || { echo "could not download k8s.io/kubernetes@$K8S" >&2; exit 1; }
{
  printf 'module local.test/k8sbins\n\n'
  grep -E '^(go|godebug) ' "$UP"
  printf '\ntool (\n'
  printf '\tk8s.io/kubernetes/cmd/%s\n' kube-apiserver kube-controller-manager kube-scheduler kubectl
  printf ')\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S"
  sed -nE "s#^[[:space:]]*(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+[[:space:]]*\$#\t\1 => \1 $STAGING#p" "$UP"
  printf ')\n'
} > go.mod
go mod tidy
echo "replace lines: $(grep -c ' => k8s.io/' go.mod)"
