# syntax=docker/dockerfile:1
# One image for every Arxos service: SERVICES picks what a container runs (README "Deploying").
#   docker build -t arxos .
#   docker run -e SERVICES=gateway -p 3000:3000 arxos
#   docker run arxos node dist/scripts/migrate.js up

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: every dependency, TypeScript compiled to dist/ ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json moleculer.config.ts ./
COPY services services
COPY shared shared
COPY scripts scripts
RUN npm run build

# --- production dependencies only, installed apart so the runtime stage gets no compiler or dev tool ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    OPS_PORT=9400
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules node_modules
COPY --from=build --chown=root:root /app/dist dist
COPY --chown=root:root package.json ./
# the node image's unprivileged user (uid 1000); the code stays root-owned and read-only to it
USER node
# PORT: the gateway's public API; OPS_PORT: every process's /health/live, /health/ready, /metrics
EXPOSE 3000 9400
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPS_PORT||9400)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM reaches node directly (exec form): readiness fails first, then the broker drains
CMD ["node", "dist/scripts/run-service.js"]
