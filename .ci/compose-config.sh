#!/usr/bin/env bash
# `docker compose config` on the project's compose file (issue 9 asks that it passes). Needs no
# Docker engine, only the client with the Compose v2 plugin. Where the plugin is missing, it comes
# from Debian's docker-compose package (trixie ships Compose v2; bookworm only the old 1.29), unpacked
# into a private DOCKER_CONFIG so nothing on the machine changes.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker compose version >/dev/null 2>&1; then
  tools="${COMPOSE_TOOLS_DIR:-/tmp/ticketing-compose-v2}"
  if [ ! -x "$tools/docker/cli-plugins/docker-compose" ]; then
    mkdir -p "$tools/lists/partial" "$tools/docker/cli-plugins"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${DEBIAN_MIRROR:-http://deb.debian.org/debian} trixie main" > "$tools/sources.list"
    apt_opts=(-qq -o "Dir::Etc::SourceList=$tools/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$tools/lists")
    apt-get "${apt_opts[@]}" update
    (cd "$tools" && apt-get "${apt_opts[@]}" download docker-compose 2>/dev/null)
    dpkg-deb -x "$tools"/docker-compose_*.deb "$tools/pkg"
    cp "$tools/pkg/usr/libexec/docker/cli-plugins/docker-compose" "$tools/docker/cli-plugins/"
  fi
  # The client looks for plugins under DOCKER_CONFIG; keep any existing client config readable.
  export DOCKER_CONFIG="$tools/docker"
fi
docker compose version
docker compose -f docker-compose.yml config --quiet && echo "docker-compose.yml: docker compose config passes"
docker compose -f docker-compose.yml -f .ci/docker/compose.standins.yml config --quiet \
  && echo "with .ci/docker/compose.standins.yml: docker compose config passes"
