# Colibri: one process, one image. Embedded hosts keep their data under /data.
#   docker build -t colibri .
#   docker run -p 7181:7181 -v colibri-data:/data colibri
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY native ./native
COPY src ./src
COPY test ./test
# Installs dependencies, builds the native addon (node-gyp) and the TypeScript (prepare).
RUN npm install --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf native/build/Release/obj.target native/build/Release/.deps

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    COLIBRI_DATA_DIR=/data \
    COLIBRI_PORT=7181
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/native/build/Release ./native/build/Release
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7181
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD node -e "fetch('http://127.0.0.1:7181/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "--initial-old-space-size=64", "dist/src/cli/main.js", "server", "--host", "0.0.0.0"]
