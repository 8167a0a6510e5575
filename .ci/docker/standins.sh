#!/usr/bin/env bash
# Builds local stand-ins for the public images docker-compose.yml and the Dockerfile name, for a
# machine whose Docker engine cannot reach Docker Hub (this workplace: the npm registry and Debian's
# mirror only). With registry access none of this is needed: `docker compose up` pulls the real ones.
#
#   node:20-bookworm-slim  Debian bookworm (debootstrap) + this machine's Node 20, npm and CA bundle,
#                          user node (1000)
#   redis:7                Debian bookworm + Debian's redis-server 7, protected mode off as in the official image
#   ticketing/mongo-emulator  the project's MongoDB wire-protocol emulator, started like a fresh
#                          `mongod --replSet rs0`, with mongosh for the health check. There is no mongod to be had
#                          here, so compose runs against it through .ci/docker/compose.standins.yml;
#                          it stands in for mongo:7 and is NOT MongoDB (see emulator/README.md).
#
# Usage: bash .ci/docker/standins.sh   (needs a running dockerd, debootstrap, and root)
set -euo pipefail
# The classic builder: BuildKit would try to fetch its Dockerfile frontend from Docker Hub.
export DOCKER_BUILDKIT=0
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${STANDINS_DIR:-/tmp/ticketing-standins}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$work"

if ! docker image inspect ticketing/debian:bookworm >/dev/null 2>&1; then
  if [ ! -x "$work/rootfs/bin/sh" ]; then
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror"
  fi
  tar -C "$work/rootfs" -c . | docker import - ticketing/debian:bookworm
fi

# Node: the host's own binary and npm, so the image runs exactly the Node the tests ran on.
ctx="$work/node-context"
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$(command -v node)" "$ctx/node"
# This machine reaches the npm registry through an egress proxy with its own CA; the image trusts
# what the host trusts, as the host's npm does.
cp "${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" "$ctx/ca-certificates.crt"
cp -r "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$ctx/npm"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM ticketing/debian:bookworm
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/bash node
CMD ["node"]
DOCKERFILE
docker build -q -t node:20-bookworm-slim "$ctx"

# Redis: the official image compiles protected mode off; Debian's needs it on the command line.
rctx="$work/redis-context"
rm -rf "$rctx" && mkdir -p "$rctx"
cat > "$rctx/entrypoint.sh" <<'SH'
#!/bin/sh
if [ "$1" = "redis-server" ]; then shift; exec redis-server --protected-mode no "$@"; fi
exec "$@"
SH
chmod 755 "$rctx/entrypoint.sh"
cat > "$rctx/Dockerfile" <<'DOCKERFILE'
FROM ticketing/debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["redis-server"]
DOCKERFILE
docker build -q --network host -t redis:7 "$rctx"

# The emulator, from this checkout (it is dev tooling: tsx and mingo are dev dependencies). Its own
# context: the API image's .dockerignore leaves emulator/ out.
ectx="$work/emulator-context"
rm -rf "$ectx" && mkdir -p "$ectx"
cp -r "$repo/package.json" "$repo/package-lock.json" "$repo/tsconfig.json" "$repo/emulator" "$ectx/"
cp "$repo/.ci/docker/emulator.Dockerfile" "$ectx/Dockerfile"
docker build -q --network host -t ticketing/mongo-emulator "$ectx"
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E 'node:20|redis:7|ticketing/'
