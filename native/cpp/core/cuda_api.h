// The CUDA runtime as the rest of the addon sees it: plain C++ (no cuda_runtime.h, no napi.h),
// implemented in native/cuda/runtime.cu. Only compiled in when MMPREF_HAVE_CUDA is defined;
// callers guard with `#if MMPREF_HAVE_CUDA` and report "built without CUDA" otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "status.h"

namespace mmpref::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;
  uint64_t total_memory = 0;
  int multiprocessors = 0;
};

struct Probe {
  bool available = false;
  std::string reason;  // why not, in words, when !available
  int runtime_version = 0;
  int driver_version = 0;  // 0 when there is no driver
  std::vector<DeviceInfo> devices;
};

// Asks the runtime once (cached). Never aborts: no driver / no device become `reason`.
const Probe& probe();

Status set_device(int device);
// Tensor memory goes through a caching allocator (like PyTorch's): freed blocks are kept per device
// and size class and reused, so ops do not pay cudaMalloc / cudaFree (which synchronises the device)
// for every output. On an allocation failure the cache is released and the allocation retried; a
// final failure is ERR_OOM. MMPREF_CUDA_CACHE_MB caps the cached bytes per device (default 4096;
// 0 disables caching).
Status malloc(int device, size_t bytes, void** out);
void free(int device, void* ptr);  // errors ignored (called from finalizers)
// Returns every cached block to the driver.
void empty_cache();
struct CacheStats {
  uint64_t allocated = 0;  // bytes in live tensors
  uint64_t cached = 0;     // bytes kept for reuse
};
CacheStats cache_stats(int device);
Status memcpy_h2d(int device, void* dst, const void* src, size_t bytes);
Status memcpy_d2h(int device, void* dst, const void* src, size_t bytes);
Status memcpy_d2d(int device, void* dst, const void* src, size_t bytes);
Status memset(int device, void* dst, int value, size_t bytes);
// Waits for all work this host thread queued on `device` (ops use cudaStreamPerThread).
Status synchronize(int device);
// Free and total memory of a device in bytes.
Status mem_info(int device, uint64_t* free_bytes, uint64_t* total_bytes);

}  // namespace mmpref::cuda
