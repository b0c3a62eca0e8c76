#!/usr/bin/env bash
# Builds (or reuses) the real CA servers the external-CA tests run against, from pinned Go modules,
# into a version-keyed cache outside the repository (like hack/control-plane-bins.sh).
# Prints the bin directory on the last line of stdout. Env: MIO_CA_BIN_DIR, MIO_CFSSL_BIN, MIO_STEP_CA_BIN, MIO_PEBBLE_DIR (overrides).
# BIND 9 (the RFC 2136 peer of the DNS-01 tests) comes from Debian: .ci/run installs bind9.
set -euo pipefail
CFSSL=v1.6.5; STEPCA=v0.30.2; PEBBLE=v2.10.1
BIN=${MIO_CA_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/machine-identity-operator/ca-servers/cfssl-$CFSSL-stepca-$STEPCA-pebble-$PEBBLE}
mkdir -p "$BIN"
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
log() { printf '[ca-servers %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
t0=$(date +%s)
if [ -n "${MIO_CFSSL_BIN:-}" ]; then ln -sf "$MIO_CFSSL_BIN" "$BIN/cfssl"; log "cfssl: using $MIO_CFSSL_BIN"
elif [ ! -x "$BIN/cfssl" ] || [ ! -f "$BIN/.cfssl.ok" ]; then
  log "building cfssl $CFSSL (CGO_ENABLED=0: the SQL certificate database, unused here, is stubbed)"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "github.com/cloudflare/cfssl/cmd/cfssl@$CFSSL"
  touch "$BIN/.cfssl.ok"
fi
if [ -n "${MIO_STEP_CA_BIN:-}" ]; then ln -sf "$MIO_STEP_CA_BIN" "$BIN/step-ca"; log "step-ca: using $MIO_STEP_CA_BIN"
elif [ ! -x "$BIN/step-ca" ] || [ ! -f "$BIN/.step-ca.ok" ]; then
  log "building step-ca $STEPCA (CGO_ENABLED=0: no YubiKey/PKCS#11 KMS; about 2 minutes cold)"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "github.com/smallstep/certificates/cmd/step-ca@$STEPCA"
  touch "$BIN/.step-ca.ok"
fi
if [ -n "${MIO_PEBBLE_DIR:-}" ]; then ln -sf "$MIO_PEBBLE_DIR/pebble" "$BIN/pebble"; ln -sf "$MIO_PEBBLE_DIR/pebble-challtestsrv" "$BIN/pebble-challtestsrv"; log "pebble: using $MIO_PEBBLE_DIR"
elif [ ! -x "$BIN/pebble" ] || [ ! -x "$BIN/pebble-challtestsrv" ] || [ ! -f "$BIN/.pebble.ok" ]; then
  log "building pebble $PEBBLE and pebble-challtestsrv (the ACME test CA and its DNS server)"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE" "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE"
  touch "$BIN/.pebble.ok"
fi
# the Gateway API HTTPRoute CRD, for the ACME gatewayHTTPRoute solver test (from the module proxy, like the binaries)
GATEWAY_API=v1.6.3
if [ ! -f "$BIN/httproutes-$GATEWAY_API.yaml" ]; then
  log "fetching the Gateway API $GATEWAY_API HTTPRoute CRD"
  dir=$(cd "${TMPDIR:-/tmp}" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp "$dir/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" "$BIN/httproutes-$GATEWAY_API.yaml"
fi
"$BIN/cfssl" version >&2 || true
log "CA servers ready in $(( $(date +%s) - t0 ))s"
echo "$BIN"
