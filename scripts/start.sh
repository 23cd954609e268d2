#!/usr/bin/env bash
# Quick start: installs the npm dependencies and builds the web console when needed, then runs every role
# in one process on the embedded default (PGlite and sealed software keys in ./data, HTTP on 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/build-web.sh   # the web console (/console/), when web/dist is missing or stale
# the compiled `truc` (dist/cli/), when older than src/; without it bin/truc.js runs the sources
node scripts/build-cli.mjs --if-stale || echo "the truc build failed: truc runs the sources" >&2
# jemalloc when the machine has it (Debian: libjemalloc2; TRUC_MALLOC=system keeps glibc's): less CPU for the
# many small native buffers of each message (docs/operations.md)
jemalloc=$(bash scripts/malloc.sh || true)
if [ -n "$jemalloc" ] && [[ "${LD_PRELOAD:-}" != *jemalloc* ]]; then
  export LD_PRELOAD="$jemalloc${LD_PRELOAD:+:$LD_PRELOAD}"
fi
# the old space starts at 128 MB: fewer full collections while large bodies are in flight (docs/operations.md)
exec node --initial-old-space-size=128 bin/truc.js start "$@"
