# One image for the four services; pick one with the command, e.g.
#   docker run sluice node dist/services/collector/main.js
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY shared shared
COPY services services
COPY scripts scripts
COPY bin bin
COPY schemas schemas
COPY test test
# The image has its own Node 24: the project's pinned Node package is not needed in it.
RUN npm run build && npm prune --omit=dev && rm -rf node_modules/node-linux-* node_modules/.bin/node

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY schemas schemas
USER node
CMD ["node", "dist/services/collector/main.js"]
