# syntax=docker/dockerfile:1
#
# One image per process, chosen with SERVICE (checkout, inventory, orders, notifier, gateway):
#
#   docker build --build-arg SERVICE=checkout -t codflow-checkout .
#
# The image runs the service (`node dist/main.js`); the migration Job runs the same image with
# `node dist/migrate.js` (every service but the gateway). `pnpm test:image` performs this file's
# build steps in a temporary folder and starts every service from what they produce, with the
# environment the prod overlay gives its container (scripts/image/check.ts).

FROM node:24.22.3-bookworm-slim AS build
# pnpm as package.json's packageManager names it (corepack cannot fetch it everywhere)
RUN npm install --global pnpm@10.34.9
WORKDIR /build/workspace
# the store, from the lockfile alone: this layer is rebuilt only when dependencies change
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
COPY patches patches
RUN pnpm fetch
COPY . .
# the steps below are what `pnpm test:image` runs, in this order, from the same folder layout
RUN pnpm install --offline --frozen-lockfile
RUN pnpm build
ARG SERVICE
# A runtime folder holding the service's package.json, dist/ (its `files`) and its production
# dependencies alone, from the lockfile, patches applied. inject-workspace-packages: pnpm 10
# deploys only injected workspace packages, set here so development keeps live symlinks.
# node-linker=hoisted: a flat node_modules, because the bundle inlines @codflow/shared and so
# imports shared's dependencies (pino, nats…) from dist/, where only a flat layout finds them.
RUN test -n "$SERVICE" || { echo "set --build-arg SERVICE=<checkout|inventory|orders|notifier|gateway>" >&2; exit 1; } \
  && pnpm deploy --filter "@codflow/$SERVICE" --prod \
    --config.inject-workspace-packages=true --config.node-linker=hoisted ../runtime

FROM node:24.22.3-bookworm-slim
ENV NODE_ENV=production
# V8 on Node 24 grows the young generation past Node 20's 16 MB semi-spaces: each service then
# held ~100 MB more RSS for the same work, with no CPU saved that the benchmark could tell
# apart from its noise (docs/benchmark-log.md, a fifth session). A pod's own NODE_OPTIONS
# replaces this line: keep the flag there.
ENV NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /app
# owned by root, so the service cannot change its own code
COPY --from=build /build/runtime /app
USER 10001:10001
CMD ["node", "dist/main.js"]
