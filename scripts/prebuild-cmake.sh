#!/bin/sh
# prebuildify's --node-gyp shim: prebuildify passes node-gyp style flags (--target=<node version>,
# --arch, --devdir, --release) that cmake-js would misread (--target as a CMake target), so drop
# them. An incremental `cmake-js build` reuses an up-to-date build/ (the CUDA compile is long).
set -e
cfg=Release
for a in "$@"; do [ "$a" = "--debug" ] && cfg=Debug; done
if [ -f build/CMakeCache.txt ]; then
  exec cmake-js build --config "$cfg" ${CMAKE_JS_FLAGS:-}
fi
exec cmake-js rebuild --config "$cfg" ${CMAKE_JS_FLAGS:-}
