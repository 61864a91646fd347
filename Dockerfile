# syntax=docker/dockerfile:1
# The control plane's image: one image, two programs. The web is the default command; the
# worker is `node build/server/worker.js`. Migrations: `node --import tsx
# server/database/migrate-command.ts` (compose's migrate service, the chart's hook Job).
#
# BASE_IMAGE is pinned to one Node release; where no registry is reachable, build on a local
# stand-in (deploy/image/make-local-base.sh) with --build-arg BASE_IMAGE=localhost/caw-base:20.20.2.
ARG BASE_IMAGE=node:20.20.2-bookworm-slim

FROM ${BASE_IMAGE} AS build
# node-pty compiles from source (this machine's and, cross-compiled, arm64's for the agent);
# the agent build compresses its downloads with zstd.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates g++ make python3 zstd g++-aarch64-linux-gnu \
 && rm -rf /var/lib/apt/lists/*
# node-gyp uses the headers beside this Node instead of downloading them.
ENV npm_config_nodedir=/usr/local
# Behind a TLS-intercepting proxy, mount its CA bundle and name it here (build stage only;
# deploy/image/smoke-test.sh does): --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/build-ca.crt:ro
# --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/certs/build-ca.crt
ARG NODE_EXTRA_CA_CERTS=
WORKDIR /src
# patches/ before npm ci: its postinstall patches postgres.js (ADR 0025), and fails if it cannot.
COPY package.json package-lock.json .npmrc ./
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY . .
# The Remix build, the bundled program entries (build/server) and both agents (dist/), then
# only the production dependencies are kept for the runtime stage.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE} AS runtime
# A fixed uid/gid (the Helm chart's runAsUser) that owns nothing but its data folder.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin app \
 && mkdir -p /var/lib/cloud-ai-workspaces \
 && chown app:app /var/lib/cloud-ai-workspaces
WORKDIR /app
# NODE_OPTIONS: the flags of server/process/node-flags.ts (the young generation's size).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=64" \
    HOST=0.0.0.0 \
    PORT=3000 \
    WORKER_PORT=9464 \
    DATA_DIR=/var/lib/cloud-ai-workspaces
# Owned by root and read-only to the app user: the program cannot rewrite itself.
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build ./build
COPY --from=build /src/public ./public
COPY --from=build /src/dist ./dist
# The migrate command runs from source (tsx is a production dependency).
COPY --from=build /src/server ./server
COPY --from=build /src/db ./db
COPY --from=build /src/protocol ./protocol
COPY --from=build /src/cloud-init ./cloud-init
COPY --from=build /src/deploy/image/healthcheck.mjs ./deploy/image/healthcheck.mjs
USER 10001:10001
EXPOSE 3000 9464
# node is PID 1 (no npm, no shell in between): SIGTERM reaches the program, which drains.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "deploy/image/healthcheck.mjs"]
CMD ["node", "build/server/web.js"]
