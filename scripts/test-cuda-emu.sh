#!/usr/bin/env bash
# The GPU test suite (test/gpu/*.gpu.ts: CUDA vs CPU) against the CUDA emulator: builds the
# emulation addon (CMake MMPREF_CUDA_EMULATE=ON: native/cuda/*.cu compiled by g++ against
# native/cuda/emu/) into build-emu/ (never build/Release), runs every GPU test file on it, and
# prints "executed K of N __global__ kernels". Fails when a test fails or skips, or K < N.
#   --asan   the same with AddressSanitizer + UBSan (build-emu-asan/, Debug), a smaller scale
# Env: MMPREF_GPU_TEST_SCALE (test sizes, 1 = a real GPU's; default 0.25 here),
#      MMPREF_EMU_SEED (thread order between barriers; 0 = index order), MMPREF_EMU_THREADS.
set -uo pipefail
cd "$(dirname "$0")/.."
ASAN=0
[ "${1:-}" = "--asan" ] && ASAN=1
if [ $ASAN = 1 ]; then
  OUT=build-emu-asan ADDON=build-emu-asan/Debug/mmpref.node
  CFG=(-B Debug --CDMMPREF_SANITIZE=ON)
else
  OUT=build-emu ADDON=build-emu/Release/mmpref.node
  CFG=()
fi
START=$(date +%s)
mkdir -p "$OUT"
npx cmake-js build -O "$OUT" "${CFG[@]}" --CDMMPREF_CUDA_EMULATE=ON >"$OUT/emu-build.log" 2>&1 ||
  { tail -40 "$OUT/emu-build.log"; echo "emulation build failed"; exit 1; }
echo "emulation addon: $ADDON ($(( $(date +%s) - START )) s)"
npx tsc -p . || exit 1

# the emulator catches deliberately wrong kernels (tail off by one, missing __syncthreads, wrong
# shuffle lane) and passes the correct one
WK=$(mktemp -d)
if [ $ASAN = 0 ]; then
  g++ -std=c++17 -O1 -fno-strict-aliasing -Wall -Wno-unknown-pragmas -I native/cuda/emu -xc++ native/cuda/emu/test/wrong_kernels.cu \
    -xnone native/cuda/emu/emu.cc -lpthread -o "$WK/wrong_kernels" && "$WK/wrong_kernels" 2>/dev/null
  wrc=$?
else
  wrc=0
fi
rm -rf "$WK"

LOG=$(mktemp)
export MMPREF_ADDON_PATH="$PWD/$ADDON" MMPREF_EMU_KERNEL_LOG="$LOG"
export MMPREF_GPU_TEST_SCALE="${MMPREF_GPU_TEST_SCALE:-0.25}"
if [ $ASAN = 1 ]; then
  export LD_PRELOAD="$(g++ -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
fi
TAP=$(mktemp)
node --test --test-reporter=tap dist/test/gpu/*.gpu.js >"$TAP" 2>&1
rc=$?
unset LD_PRELOAD
grep -E '^# (tests|pass|fail|skipped|cancelled|todo) ' "$TAP" | tr '\n' ' '; echo
grep -E '^\s*not ok|mmpref CUDA emulator:' "$TAP" | head -40
[ $rc = 0 ] || { tail -60 "$TAP"; }

# every __global__ kernel in native/cuda must have run
node -e '
  const fs = require("fs"), path = require("path");
  const dir = "native/cuda", names = new Set();
  for (const f of fs.readdirSync(dir).filter((f) => /\.(cu|cuh)$/.test(f)))
    for (const m of fs.readFileSync(path.join(dir, f), "utf8").matchAll(/__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s*)?(\w+)\s*\(/g))
      names.add(m[1]);
  const ran = new Set(fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean));
  const missing = [...names].filter((n) => !ran.has(n)).sort();
  console.log(`executed ${names.size - missing.length} of ${names.size} __global__ kernels`);
  if (missing.length) { console.log("never executed: " + missing.join(", ")); process.exit(1); }
' "$LOG"
krc=$?
fails=$(sed -nE 's/^# fail ([0-9]+)/\1/p' "$TAP")
skips=$(sed -nE 's/^# skipped ([0-9]+)/\1/p' "$TAP")
cancelled=$(sed -nE 's/^# cancelled ([0-9]+)/\1/p' "$TAP")
tests=$(sed -nE 's/^# tests ([0-9]+)/\1/p' "$TAP")
rm -f "$LOG" "$TAP"
echo "cuda-emu$([ $ASAN = 1 ] && echo ' (asan)'): ${tests:-0} tests, ${fails:-?} failed, ${skips:-?} skipped ($(( $(date +%s) - START )) s)"
[ $wrc = 0 ] && [ $rc = 0 ] && [ $krc = 0 ] && [ "${fails:-1}" = 0 ] && [ "${skips:-1}" = 0 ] && [ "${cancelled:-1}" = 0 ] && [ "${tests:-0}" -gt 0 ]
