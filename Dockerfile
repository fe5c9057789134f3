# One image for every Node process of the platform: notifyd (any roles), users-demo, mailcatcher.
#   docker build -t cinema-notify .
#   docker run cinema-notify                         # notifyd, all roles
#   docker run cinema-notify node dist/cmd/users-demo/main.js
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so source edits reuse this layer.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --include=dev --no-audit --no-fund

COPY --chown=node:node . .
# tsc into dist/, SQL migrations next to the compiled migrator, admin bundle if the project has one;
# then drop the build-only packages.
RUN bash scripts/build.sh && npm prune --omit=dev --no-audit --no-fund

EXPOSE 50051 8080
CMD ["node", "dist/cmd/notifyd/main.js"]
