#!/usr/bin/env bash
# The linux-arm64 prebuild: CPU-only cross build with Debian's aarch64 toolchain (no cross CUDA
# toolkit is installable here), baseline armv8-a (no -march), same portable link as linux-x64
# (static libstdc++, glibc symbol versions <= 2.28; CMakeLists.txt). Needs:
#   apt-get install g++-aarch64-linux-gnu cmake
# Writes prebuilds/linux-arm64/mmpref.node (stripped) and checks it with scripts/check-glibc.sh.
# Without the cross compiler it warns and packs without linux-arm64, unless MMPREF_REQUIRE_ARM64=1
# (scripts/ci-install.sh sets it; a release must). MMPREF_SKIP_ARM64=1 skips it silently.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${MMPREF_SKIP_ARM64:-}" = 1 ]; then echo "prebuild-arm64: skipped (MMPREF_SKIP_ARM64=1)"; exit 0; fi
command -v aarch64-linux-gnu-g++ >/dev/null || {
  echo "prebuild-arm64: WARNING: aarch64-linux-gnu-g++ not found (apt-get install g++-aarch64-linux-gnu): packing WITHOUT prebuilds/linux-arm64"
  rm -f prebuilds/linux-arm64/mmpref.node
  [ "${MMPREF_REQUIRE_ARM64:-}" = 1 ] && exit 1
  exit 0
}
ROOT=$PWD
B=build-arm64
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S . -B "$B" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/aarch64-linux-gnu.cmake" -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_JS_INC=$ROOT/node_modules/node-api-headers/include;$ROOT/node_modules/node-addon-api" \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ROOT/$B/Release"
fi
cmake --build "$B" --parallel "$(nproc)"
mkdir -p prebuilds/linux-arm64
aarch64-linux-gnu-strip --strip-unneeded -o prebuilds/linux-arm64/mmpref.node "$B/Release/mmpref.node"
file prebuilds/linux-arm64/mmpref.node 2>/dev/null || true
bash scripts/check-glibc.sh prebuilds/linux-arm64/mmpref.node
