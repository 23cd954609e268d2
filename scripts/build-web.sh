#!/usr/bin/env bash
# Builds the web console into web/dist when it is missing or older than anything it is built from
# (sources, Vite configuration, locked dependencies). scripts/start.sh, scripts/test.sh and the browser
# tests call this; `npm run build:web` always builds.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=web/dist/index.html
if [ ! -f "$stamp" ] || [ -n "$(find web/src web/public web/index.html web/vite.config.ts web/tsconfig.json package-lock.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo "building the web console (web/dist)" >&2
  npm run --silent build:web >&2
fi
