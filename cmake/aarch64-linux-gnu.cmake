# Cross toolchain for the linux-arm64 prebuild: Debian's aarch64 cross compiler
# (apt-get install g++-aarch64-linux-gnu). Baseline armv8-a (NEON is part of it): no -march/-mcpu.
# Used by scripts/prebuild-arm64.sh: cmake -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# No cross CUDA toolkit is installable here (Debian/npm): the arm64 prebuild is CPU-only.
set(MMPREF_ENABLE_CUDA OFF CACHE BOOL "" FORCE)
