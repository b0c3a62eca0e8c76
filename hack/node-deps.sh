#!/usr/bin/env bash
# Installs and builds what the local real node needs, each step skipped when already done:
# - from Debian: runc (crun fails on this host's hybrid cgroups), the CNI plugins (bridge, host-local,
#   loopback, portmap), iptables (kube-proxy's mode), conntrack (kube-proxy flushes UDP entries), iproute2;
# - containerd 2 from the Go module proxy via the wrapper module hack/containerd-bin: Kubernetes after 1.35
#   no longer supports containerd 1.x, which is what bookworm ships (1.6.20). CGO off, so no btrfs/devmapper;
# - two OCI image archives built here (no registry is reachable): the pod sandbox image (localhost/mio-pause)
#   and the test workload (localhost/mio-netcheck), from hack/node-images.
# Caches live outside the repository, keyed by version / source hash. Prints the node bin dir on the last
# line of stdout: containerd, containerd-shim-runc-v2, ctr, pause.tar, netcheck.tar, images.env.
# Env: MIO_NODE_DIR (cache dir override), MIO_SKIP_APT=1 (packages are provided otherwise).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CONTAINERD=v2.4.2
PAUSE_REF=localhost/mio-pause:1 NETCHECK_REF=localhost/mio-netcheck:1
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/machine-identity-operator
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
log() { printf '[node-deps %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
t0=$(date +%s)

pkgs=(runc containernetworking-plugins iptables conntrack iproute2)
if [ "${MIO_SKIP_APT:-}" != 1 ]; then
  missing=(); for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
      apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
  fi
fi
for b in runc iptables conntrack ip /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/cni/portmap; do
  command -v "$b" >/dev/null || { log "missing $b after install"; exit 1; }
done

CBIN=$CACHE/bin/containerd-$CONTAINERD
if [ ! -f "$CBIN/.ok" ]; then
  log "building containerd $CONTAINERD (cold: ~3 min on 2 cores)"
  mkdir -p "$CBIN"
  LDF="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD"
  (cd "$here/containerd-bin" &&
    go build -trimpath -tags urfave_cli_no_docs -ldflags "$LDF" -o "$CBIN/" \
      github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr &&
    go build -trimpath -tags urfave_cli_no_docs,no_grpc -ldflags "$LDF" -o "$CBIN/" \
      github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2)
  touch "$CBIN/.ok"
  log "built containerd in $(( $(date +%s) - t0 ))s"
fi

# the image archives are keyed by their sources, so an edit rebuilds them and nothing else does
src_hash=$(cd "$here/node-images" && cat go.mod ./*/*.go oci-archive.sh | sha256sum | cut -c1-12)
IMG=$CACHE/node-images/$src_hash
if [ ! -f "$IMG/.ok" ]; then
  log "building image archives $PAUSE_REF $NETCHECK_REF"
  mkdir -p "$IMG/bin"
  (cd "$here/node-images" && go build -trimpath -ldflags "-s -w" -o "$IMG/bin/" ./pause ./netcheck)
  "$here/node-images/oci-archive.sh" "$IMG/bin/pause" "$PAUSE_REF" "$IMG/pause.tar" 65535
  "$here/node-images/oci-archive.sh" "$IMG/bin/netcheck" "$NETCHECK_REF" "$IMG/netcheck.tar" 65532
  touch "$IMG/.ok"
fi

OUT=$CACHE/bin/node-containerd-$CONTAINERD-images-$src_hash
mkdir -p "$OUT"
for f in containerd containerd-shim-runc-v2 ctr; do ln -sfn "$CBIN/$f" "$OUT/$f"; done
for f in pause.tar netcheck.tar; do ln -sfn "$IMG/$f" "$OUT/$f"; done
printf 'PAUSE_IMAGE=%s\nNETCHECK_IMAGE=%s\n' "$PAUSE_REF" "$NETCHECK_REF" > "$OUT/images.env"
log "node dependencies ready in $(( $(date +%s) - t0 ))s: $("$OUT/containerd" --version), $(runc --version | head -1)"
echo "$OUT"
