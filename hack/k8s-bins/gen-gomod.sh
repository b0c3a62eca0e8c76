#!/usr/bin/env bash
# Regenerates the wrapper module for one Kubernetes version from upstream's own go.mod, in
# hack/k8s-bins/v1.<minor>/ (one wrapper per supported minor; a go.mod pins exactly one version):
# every k8s.io staging module that upstream maps to ./staging is replaced by its published v0.X.Y.
# When the module proxy does not serve a staging module at exactly v0.X.Y (it lacks some 1.32 patch
# releases), the newest served v0.X.Z below it is used instead and listed in a comment in go.mod.
# The control-plane commands and the node commands (kubelet, kube-proxy) are all listed as tools so
# `go mod tidy` keeps every package they need; building is what costs, and only what is asked is built.
# usage: K8S=v1.37.2 bash hack/k8s-bins/gen-gomod.sh
set -euo pipefail
cd "$(dirname "$0")"
K8S=${K8S:?set K8S, e.g. K8S=v1.37.2}; STAGING=v0.${K8S#v1.}
MINOR=${K8S#v1.}; MINOR=${MINOR%%.*}
DIR=v1.$MINOR
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
UP=$(cd "$tmp" && go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$UP" ] || { echo "could not download k8s.io/kubernetes@$K8S" >&2; exit 1; }
mkdir -p "$DIR"
PATCH=${K8S##*.}
fallbacks=""
staging_version() { # module -> the version to use (exact, or the newest served patch of the same minor below it)
  local served best
  served=$(cd "$tmp" && go list -m -versions "$1" 2>/dev/null | tr ' ' '\n' | grep -E "^v0\.$MINOR\.[0-9]+\$" || true)
  if [ -z "$served" ] || grep -qx "$STAGING" <<<"$served"; then echo "$STAGING"; return; fi
  best=$(sed "s/^v0\.$MINOR\.//" <<<"$served" | awk -v p="$PATCH" '$1 <= p' | sort -n | tail -1)
  [ -n "$best" ] || { echo "$STAGING"; return; }
  echo "v0.$MINOR.$best"
}
repl=""
for m in $(sed -nE "s#^[[:space:]]*(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+[[:space:]]*\$#\1#p" "$UP"); do
  v=$(staging_version "$m")
  [ "$v" = "$STAGING" ] || fallbacks+=" $m@$v"
  repl+=$'\t'"$m => $m $v"$'\n'
done
{
  printf 'module local.test/k8sbins\n\n'
  grep -E '^(go|godebug) ' "$UP"
  printf '\ntool (\n'
  printf '\tk8s.io/kubernetes/cmd/%s\n' kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy
  printf ')\n\nrequire k8s.io/kubernetes %s\n\n' "$K8S"
  printf 'replace (\n%s)\n' "$repl"
} > "$DIR/go.mod"
rm -f "$DIR/go.sum"
(cd "$DIR" && go mod tidy)
# after tidy, which drops free-standing comments
[ -z "$fallbacks" ] || printf '\n// The module proxy lacks these staging modules at %s; the nearest served patch is used:\n//%s\n' "$STAGING" "$fallbacks" >> "$DIR/go.mod"
echo "$DIR: replace lines: $(grep -c ' => k8s.io/' "$DIR/go.mod")"
