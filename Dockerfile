# syntax=docker/dockerfile:1
# machine-identity-operator image: TypeScript compiled in a build stage, run on a slim Node 24
# runtime with production dependencies only, as the non-root user 65532.
#
#   docker build -t machine-identity-operator:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# Without Docker or a registry, `npm run image` builds this same file with podman on a locally made
# node:24-bookworm-slim equivalent (NODE_IMAGE=localhost/mio-node-base:...) into an OCI archive.
#
# NODE_IMAGE is a tag, not yet a digest: pin it where you build, e.g.
#   --build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:<digest>
# with the multi-platform index digest printed by
#   docker buildx imagetools inspect node:24-bookworm-slim --format '{{json .Manifest.Digest}}'
# (or `crane digest node:24-bookworm-slim`); refresh it the same way when the tag moves (Node or Debian
# security releases). The default stays a tag because no registry was reachable where this was written
# and a digest that cannot be checked is worse than none.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: type-check src/ with tsc, then bundle it with esbuild into dist/ (scripts/bundle.ts: one file per
# entry point, unused parts of the dependencies dropped, which the operator's memory depends on) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
RUN npx --no-install tsc -p tsconfig.build.json \
 && node scripts/bundle.ts \
 && test -f dist/main.js

# ---- deps: production dependencies only (the `node` devDependency is left out, so the image's own node runs) ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts \
 && test ! -e node_modules/.bin/node

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="machine-identity-operator" \
      org.opencontainers.image.description="Kubernetes operator that issues, renews, polices and inventories TLS machine identities" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# A fixed non-root identity (65532, as in distroless "nonroot"), and no package managers at runtime.
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin nonroot \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
WORKDIR /app
ENV NODE_ENV=production
# package.json carries "type": "module", which makes dist/*.js ES modules.
COPY --chown=0:0 package.json ./
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "dist/main.js"]
