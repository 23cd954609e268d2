#!/usr/bin/env bash
# Installs the system tools the test suite and the platform use, from Debian's packages, when missing:
# SoftHSM2 (PKCS#11 tests), OpenSSL (interop), poppler-utils (pdfsig), NSS tools (certutil, the trust store pdfsig
# reads), xmlsec1, qpdf, YARA, wrk (benchmarks), Chromium (the console's browser tests), unzip (judges the
# message log's ASiC-E evidence containers), nats-server (the fault tests start NATS servers of their own),
# gcc (builds the fault-injecting PKCS#11 module the token tests put in front of SoftHSM2, at the end),
# jemalloc (preloaded into serving processes by scripts/start.sh).
# Safe to run again: it installs only what is not there.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have softhsm2-util || need+=(softhsm2)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
have openssl || need+=(openssl)
have pdfsig || need+=(poppler-utils)
have certutil || need+=(libnss3-tools)
have xmlsec1 || need+=(xmlsec1)
have qpdf || need+=(qpdf)
have yara || need+=(yara)
have wrk || need+=(wrk)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -x /usr/bin/chromium ] || need+=(chromium)
have pg_isready || need+=(postgresql-client)
have unzip || need+=(unzip)
have nats-server || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
have gcc || need+=(gcc libc6-dev)
# jemalloc, which scripts/start.sh and the exchange bench preload into serving processes (docs/operations.md)
[ -n "$(TRUC_MALLOC= bash "$(dirname "$0")/malloc.sh")" ] || need+=(libjemalloc2)

# the tests' fault-injecting PKCS#11 module (test/helpers/pkcs11-fault), built once the compiler is there
build_fault_module() { bash "$(dirname "$0")/build-pkcs11-fault.sh"; }

if [ ${#need[@]} -eq 0 ]; then
  echo "install-deps: all system tools present"
  build_fault_module
  exit 0
fi
# unique list
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "install-deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-deps: done"
build_fault_module
