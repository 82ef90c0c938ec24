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
Status malloc(int device, size_t bytes, void** out);  // ERR_OOM on cudaErrorMemoryAllocation
void free(int device, void* ptr);                     // errors ignored (called from finalizers)
Status memcpy_h2d(int device, void* dst, const void* src, size_t bytes);
Status memcpy_d2h(int device, void* dst, const void* src, size_t bytes);
Status memcpy_d2d(int device, void* dst, const void* src, size_t bytes);
Status memset(int device, void* dst, int value, size_t bytes);
// Waits for all work this host thread queued on `device` (ops use cudaStreamPerThread).
Status synchronize(int device);
// Free and total memory of a device in bytes.
Status mem_info(int device, uint64_t* free_bytes, uint64_t* total_bytes);

}  // namespace mmpref::cuda
