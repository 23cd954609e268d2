#!/usr/bin/env bash
# Runs the whole test suite: installs system tools and npm dependencies when missing, makes sure the local
# PostgreSQL answers (the store's tests run against it as well as against PGlite), then runs Vitest.
# Extra arguments go to Vitest (e.g. a test file filter).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/build-web.sh   # the web console (/console/), when web/dist is missing or stale
# the compiled `truc` (dist/cli/), when older than src/; without it bin/truc.js runs the sources
node scripts/build-cli.mjs --if-stale || echo "the truc build failed: truc runs the sources" >&2
bash scripts/services.sh
exec npx vitest run "$@"
