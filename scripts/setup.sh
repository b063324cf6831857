#!/usr/bin/env bash
# Installs whatever backdoor-lab is missing on a Debian/Ubuntu machine, then builds it.
# Safe to run again: each step is skipped when already done.
#   bash scripts/setup.sh           libtorch, OpenBLAS, npm packages, the native addon, TypeScript
#   bash scripts/setup.sh --bench   also the references the benchmarks compare with (PyTorch's Python API, numpy, PIL)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found: install $* by hand"; exit 1
  fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"; $SUDO apt-get update -qq >/dev/null; APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
has_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Toolchain for the native addon.
missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

# libtorch: LIBTORCH, a Python torch, or Debian's libtorch-dev (native/find-libtorch.cjs).
if ! node native/find-libtorch.cjs describe >/dev/null 2>&1; then
  apt_install libtorch-dev
fi
log "libtorch: $(node native/find-libtorch.cjs describe)"

# Debian's libtorch calls the system BLAS; the reference BLAS is ~30x slower than OpenBLAS.
if command -v dpkg-query >/dev/null 2>&1 && ldd "$(node native/find-libtorch.cjs libdir)/libtorch_cpu.so" 2>/dev/null | grep -q 'libblas.so.3'; then
  has_pkg libopenblas0-openmp || has_pkg libopenblas0-pthread || has_pkg libopenblas0 || apt_install libopenblas0-openmp
fi

# Headless Chromium for the report's rendering test (Debian's package; tests skip without it).
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || apt_install chromium

if [ "${1:-}" = "--bench" ]; then
  /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1 || apt_install python3-torch python3-numpy
  /usr/bin/python3 -c 'import PIL, numpy' >/dev/null 2>&1 || apt_install python3-pil python3-numpy
fi

# npm packages (skipped when package.json has not changed since the last install).
stamp=node_modules/.bdlab-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ]; then
  log "npm install"
  npm install --no-audit --no-fund --loglevel=error >&2
  touch "$stamp"
fi

# The native addon (rebuilt when its sources or the libtorch it found change).
addon=native/build/Release/bdlab_native.node
lt="$(node native/find-libtorch.cjs describe)"
if [ ! -f "$addon" ] || [ native/src/addon.cc -nt "$addon" ] || [ native/binding.gyp -nt "$addon" ] \
   || [ "$(cat native/build/.libtorch 2>/dev/null)" != "$lt" ]; then
  log "building the native addon"
  npx --no-install node-gyp rebuild --directory native --jobs max >/tmp/bdlab-native-build.log 2>&1 \
    || { tail -30 /tmp/bdlab-native-build.log >&2; log "native build failed (full log: /tmp/bdlab-native-build.log)"; exit 1; }
  echo "$lt" > native/build/.libtorch
fi

log "compiling TypeScript"
npx --no-install tsc -p tsconfig.json
log "ready"
