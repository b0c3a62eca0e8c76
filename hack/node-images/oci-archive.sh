#!/usr/bin/env bash
# Packs one static binary into a single-layer OCI image archive (image layout tar) that
# `ctr -n k8s.io images import` accepts: no daemon, no registry, byte-for-byte reproducible
# (sorted tar, mtime 0, uid/gid 0), so its digest only changes when the binary does.
# Usage: oci-archive.sh <binary> <image-ref, e.g. localhost/mio-pause:1> <out.tar> [uid]
set -euo pipefail
bin=$1 ref=$2 out=$3 user=${4:-65535}
name=$(basename "$bin")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root" "$work/oci/blobs/sha256"
install -m 0755 "$bin" "$work/root/$name"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/root" -cf "$work/layer.tar" "$name"
blob() { # file mediaType -> writes the blob, prints a descriptor
  local d s; d=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1")
  cp "$1" "$work/oci/blobs/sha256/$d"
  jq -cn --arg m "$2" --arg d "sha256:$d" --argjson s "$s" '{mediaType:$m,digest:$d,size:$s}'
}
layer=$(blob "$work/layer.tar" application/vnd.oci.image.layer.v1.tar)
jq -cn --arg diff "$(jq -r .digest <<<"$layer")" --arg ep "/$name" --arg u "$user" '{
  architecture:"amd64", os:"linux",
  config:{Entrypoint:[$ep], User:$u, WorkingDir:"/"},
  rootfs:{type:"layers", diff_ids:[$diff]},
  history:[{created_by:"hack/node-images/oci-archive.sh"}]}' > "$work/config.json"
config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)
jq -cn --argjson c "$config" --argjson l "$layer" \
  '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json", config:$c, layers:[$l]}' > "$work/manifest.json"
manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
# containerd names the imported image after io.containerd.image.name; other tools read ref.name
jq -cn --argjson m "$manifest" --arg ref "$ref" --arg tag "${ref##*:}" \
  '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json",
    manifests:[$m + {annotations:{"io.containerd.image.name":$ref, "org.opencontainers.image.ref.name":$tag}}]}' \
  > "$work/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$work/oci/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/oci" -cf "$out.tmp" .
mv "$out.tmp" "$out"
