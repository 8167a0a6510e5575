#!/usr/bin/env bash
# Runs dist/ the way production does: production dependencies only, NODE_ENV=production,
# against a MongoDB (the emulator here). First proves that production refuses to start on the
# emulator (DESIGN.md 5); then starts it with ALLOW_MONGODB_EMULATOR=true (for CI smoke runs of the
# built server only; never in production) and checks /health, /health/ready and a clean SIGTERM exit.
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
server_env=(NODE_ENV=production PORT="$port" HOST=127.0.0.1 MONGODB_URI="${uri%%\?*}smoke?${uri#*\?}"
  REDIS_URL=redis://127.0.0.1:6379 REDIS_KEY_PREFIX="smoke:$$:" MONGODB_AUTO_INDEX=true
  JWT_SECRET=smoke-test-secret-0123456789abcdef0123456789 LOG_LEVEL=warn
  TICKET_SIGNING_KEY="$(node -e "process.stdout.write(JSON.stringify(require('crypto').generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })))")")

# 1. Without the opt-out, production must refuse the emulator: a non-zero exit naming the problem.
# (A server that starts anyway is stopped by the timeout: exit 124, also a failure.)
refused=0
(cd "$work" && env -u ALLOW_MONGODB_EMULATOR "${server_env[@]}" timeout 30 node dist/src/server.js) \
  > "$work/refused.log" 2>&1 || refused=$?
if [ "$refused" -eq 0 ] || [ "$refused" -eq 124 ] || ! grep -q 'points at the MongoDB emulator' "$work/refused.log"; then
  echo "production did not refuse to start on the MongoDB emulator (exit $refused):"; cat "$work/refused.log"; exit 1
fi
echo "production refused the emulator (exit $refused): $(grep -o 'MONGODB_URI: points at the MongoDB emulator[^,]*' "$work/refused.log" | head -1)"

# 2. The smoke run proper, on the emulator by explicit opt-out.
(cd "$work" && env "${server_env[@]}" ALLOW_MONGODB_EMULATOR=true node dist/src/server.js) &
srv_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/health"; echo
curl -sf "http://127.0.0.1:$port/health/ready"; echo
# prom-client must be a production dependency: the built server answers /metrics from dist/ alone.
metrics=$(curl -sf "http://127.0.0.1:$port/metrics")
grep -m1 '^http_request_duration_seconds_count' <<<"$metrics"
kill -TERM $srv_pid
wait $srv_pid && echo "server exited 0 on SIGTERM"
srv_pid=""
cd "$repo"
