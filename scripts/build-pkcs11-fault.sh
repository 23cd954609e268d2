#!/usr/bin/env bash
# Builds the fault-injecting PKCS#11 module the token tests use (test/helpers/pkcs11-fault/fault.c: it
# forwards to SoftHSM2 and pulls the token out or locks the PIN on demand) into
# test/helpers/pkcs11-fault/libtruc-pkcs11-fault.so, when missing or older than its source. Tests only:
# the platform never loads it. Without a C compiler it says so and exits 0 — the tests that need the
# module then print why they skip (and fail on CI, where install-deps.sh has put gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
src=test/helpers/pkcs11-fault/fault.c
out=test/helpers/pkcs11-fault/libtruc-pkcs11-fault.so
if [ -e "$out" ] && [ "$out" -nt "$src" ] && [ "${1:-}" != "--force" ]; then
  exit 0
fi
cc="${CC:-}"
if [ -z "$cc" ]; then
  for c in gcc cc clang; do
    if command -v "$c" >/dev/null 2>&1; then cc="$c"; break; fi
  done
fi
if [ -z "$cc" ]; then
  echo "build-pkcs11-fault: no C compiler (gcc): the token fault tests will skip" >&2
  exit 0
fi
tmp="$out.$$.tmp"
"$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -o "$tmp" "$src" -ldl -pthread
mv -f "$tmp" "$out"
echo "build-pkcs11-fault: built $out"
