#!/usr/bin/env bash
# Prints the path of jemalloc's shared library when the machine has it (Debian: libjemalloc2), nothing
# otherwise. Serving processes preload it (scripts/start.sh, docs/operations.md): a security server makes and
# frees many small native buffers per message, and jemalloc serves them with less CPU than glibc's malloc
# (docs/PERFORMANCE.md, `exchange`). TRUC_MALLOC=system prints nothing: glibc's allocator is kept.
set -euo pipefail
[ "${TRUC_MALLOC:-}" = system ] && exit 0
for f in $(ldconfig -p 2>/dev/null | awk '/libjemalloc\.so\.2 .*x86-64|libjemalloc\.so\.2 .*AArch64|libjemalloc\.so\.2 \(libc6\)/ {print $NF}') \
  /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2; do
  if [ -e "$f" ]; then
    echo "$f"
    exit 0
  fi
done
