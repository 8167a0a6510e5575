#!/usr/bin/env bash
# Runs dist/ the way production does: production dependencies only, NODE_ENV=production,
# against a MongoDB (the emulator here), then checks /health, /health/ready and a clean SIGTERM exit.
set -euo pipefail
repo=$(pwd)
work=$(mktemp -d)
trap 'kill $emu_pid $srv_pid 2>/dev/null || true; rm -rf "$work"' EXIT
emu_pid=""; srv_pid=""

cp -r dist package.json package-lock.json "$work/"
(cd "$work" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)

npx tsx emulator/cli.ts --port 0 > "$work/emulator.log" 2>&1 &
emu_pid=$!
for _ in $(seq 1 100); do grep -q 'mongodb://' "$work/emulator.log" && break; sleep 0.1; done
uri=$(grep -o 'mongodb://[^ ]*' "$work/emulator.log" | head -1)
[ -n "$uri" ] || { echo "emulator did not start"; cat "$work/emulator.log"; exit 1; }

port=$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")
(cd "$work" && NODE_ENV=production PORT=$port HOST=127.0.0.1 MONGODB_URI="${uri%%\?*}smoke?${uri#*\?}" \
  REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="smoke:$$:" MONGODB_AUTO_INDEX=true \
  JWT_SECRET=smoke-test-secret-0123456789abcdef0123456789 LOG_LEVEL=warn node dist/src/server.js) &
srv_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/health"; echo
curl -sf "http://127.0.0.1:$port/health/ready"; echo
kill -TERM $srv_pid
wait $srv_pid && echo "server exited 0 on SIGTERM"
srv_pid=""
cd "$repo"
