#!/usr/bin/env bash
# CPU tests under AddressSanitizer + UndefinedBehaviorSanitizer (TOOLCHAIN.md §9): a CPU-only
# Debug build in build-asan/ (never shadows build/Release), preloaded ASan runtime, leaks off
# (Node and vitest themselves "leak" at exit), UBSan fatal. Extra args go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js rebuild -O build-asan -B Debug --CDMMPREF_ENABLE_CUDA=OFF --CDMMPREF_SANITIZE=ON >build-asan.log 2>&1 ||
  { tail -40 build-asan.log; exit 1; }
export MMPREF_ADDON_PATH="$PWD/build-asan/Debug/mmpref.node"
export LD_PRELOAD="$(g++ -print-file-name=libasan.so)"
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
exec npx vitest run "$@"
