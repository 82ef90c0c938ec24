// CUDA runtime wrappers (core/cuda_api.h). cudart is linked statically; with no driver every
// call fails cleanly ("CUDA driver version is insufficient...") and probe() says so.
#include <cuda_runtime.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include "../cpp/core/cuda_api.h"
#include "common.cuh"

namespace mmpref::cuda {

const Probe& probe() {
  static Probe p;
  static std::once_flag once;
  std::call_once(once, [] {
    cudaRuntimeGetVersion(&p.runtime_version);
    if (cudaDriverGetVersion(&p.driver_version) != cudaSuccess) p.driver_version = 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      if (e == cudaErrorInsufficientDriver && p.driver_version == 0)
        p.reason = "no NVIDIA driver found (libcuda.so.1 could not be loaded)";
      else if (e == cudaErrorInsufficientDriver)
        p.reason = "the NVIDIA driver (CUDA " + std::to_string(p.driver_version / 1000) + "." +
                   std::to_string(p.driver_version % 1000 / 10) +
                   ") is older than this build's CUDA runtime (" +
                   std::to_string(p.runtime_version / 1000) + "." +
                   std::to_string(p.runtime_version % 1000 / 10) + ")";
      else if (e == cudaErrorNoDevice)
        p.reason = "no CUDA device found";
      else
        p.reason = std::string("CUDA initialisation failed: ") + cudaGetErrorString(e);
      return;
    }
    if (n == 0) {
      p.reason = "no CUDA device found";
      return;
    }
    for (int i = 0; i < n; ++i) {
      cudaDeviceProp prop;
      if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
        cudaGetLastError();
        continue;
      }
      DeviceInfo d;
      d.index = i;
      d.name = prop.name;
      d.major = prop.major;
      d.minor = prop.minor;
      d.total_memory = prop.totalGlobalMem;
      d.multiprocessors = prop.multiProcessorCount;
      p.devices.push_back(d);
    }
    if (p.devices.empty()) {
      p.reason = "CUDA devices were reported but none could be queried";
      return;
    }
    p.available = true;
  });
  return p;
}

Status set_device(int device) { return status_from(cudaSetDevice(device), "cudaSetDevice"); }

namespace {

// ---- caching allocator ------------------------------------------------------------------------
// Size classes: multiples of 512 B below 1 MiB, of 2 MiB above, so a block is reused for
// requests of the same class. Safe to reuse at once: every op synchronises its stream before it
// returns and in-flight async jobs keep their buffers alive, so a freed block is idle.
// NB: every index the bindings accept (0..1023): cache() must never map two devices to one cache,
// or a block of one device would be handed out for another.
constexpr int kMaxDevices = 1024;

size_t size_class(size_t bytes) {
#if defined(MMPREF_CUDA_EMULATION)
  return bytes;  // exact sizes: AddressSanitizer then sees a kernel reading past a tensor's end
#endif
  const size_t small = 512, large = size_t(2) << 20;
  return bytes < (size_t(1) << 20) ? (bytes + small - 1) / small * small : (bytes + large - 1) / large * large;
}

size_t cache_limit() {
  static const size_t limit = [] {
    const char* env = std::getenv("MMPREF_CUDA_CACHE_MB");
    const long long mb = env ? std::atoll(env) : 4096;
    return size_t(mb < 0 ? 0 : mb) << 20;
  }();
  return limit;
}

struct DeviceCache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;   // size class -> block
  std::unordered_map<void*, size_t> live;     // block -> size class
  size_t cached = 0, allocated = 0;
};

DeviceCache& cache(int device) {
  static DeviceCache* caches = new DeviceCache[kMaxDevices];  // leaked: outlives static destructors
  return caches[device < 0 || device >= kMaxDevices ? 0 : device];
}

void release_cached(int device, DeviceCache& c) {  // with c.mu held
  cudaSetDevice(device);
  for (auto& kv : c.free_blocks) cudaFree(kv.second);
  c.free_blocks.clear();
  c.cached = 0;
  cudaGetLastError();
}

}  // namespace

Status malloc(int device, size_t bytes, void** out) {
  MMPREF_RETURN_IF_ERROR(set_device(device));
  *out = nullptr;
  if (bytes == 0) return Status::Ok();
  const size_t cls = size_class(bytes);
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lk(c.mu);
  auto it = c.free_blocks.find(cls);
  if (it != c.free_blocks.end()) {
    *out = it->second;
    c.free_blocks.erase(it);
    c.cached -= cls;
  } else {
    cudaError_t e = cudaMalloc(out, cls);
    if (e == cudaErrorMemoryAllocation && !c.free_blocks.empty()) {
      cudaGetLastError();
      release_cached(device, c);
      e = cudaMalloc(out, cls);
    }
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      return make_status(Code::kOom, "CUDA out of memory: could not allocate " + std::to_string(bytes) +
                                         " bytes on cuda:" + std::to_string(device) + " (" +
                                         std::to_string(free_b) + " of " + std::to_string(total_b) +
                                         " bytes free)");
    }
    MMPREF_RETURN_IF_ERROR(status_from(e, "cudaMalloc"));
  }
  c.live[*out] = cls;
  c.allocated += cls;
  return Status::Ok();
}

void free(int device, void* ptr) {
  if (!ptr) return;
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lk(c.mu);
  auto it = c.live.find(ptr);
  const size_t cls = it == c.live.end() ? 0 : it->second;
  if (it != c.live.end()) {
    c.live.erase(it);
    c.allocated -= cls;
  }
  if (cls && c.cached + cls <= cache_limit()) {
    c.free_blocks.emplace(cls, ptr);
    c.cached += cls;
    return;
  }
  cudaSetDevice(device);
  cudaFree(ptr);
  cudaGetLastError();
}

void empty_cache() {
  // NB: by device ordinal (probe() skips a device it could not query, so positions can differ)
  for (const DeviceInfo& dev : probe().devices) {
    if (dev.index >= kMaxDevices) continue;
    DeviceCache& c = cache(dev.index);
    std::lock_guard<std::mutex> lk(c.mu);
    release_cached(dev.index, c);
  }
}

CacheStats cache_stats(int device) {
  DeviceCache& c = cache(device);
  std::lock_guard<std::mutex> lk(c.mu);
  return CacheStats{c.allocated, c.cached};
}

static Status copy(int device, void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                   const char* what) {
  if (bytes == 0) return Status::Ok();
  MMPREF_RETURN_IF_ERROR(set_device(device));
  MMPREF_RETURN_IF_ERROR(status_from(cudaMemcpyAsync(dst, src, bytes, kind, op_stream()), what));
  return status_from(cudaStreamSynchronize(op_stream()), what);
}

Status memcpy_h2d(int device, void* dst, const void* src, size_t bytes) {
  return copy(device, dst, src, bytes, cudaMemcpyHostToDevice, "copy to CUDA");
}
Status memcpy_d2h(int device, void* dst, const void* src, size_t bytes) {
  return copy(device, dst, src, bytes, cudaMemcpyDeviceToHost, "copy from CUDA");
}
Status memcpy_d2d(int device, void* dst, const void* src, size_t bytes) {
  return copy(device, dst, src, bytes, cudaMemcpyDeviceToDevice, "copy on CUDA");
}

Status memset(int device, void* dst, int value, size_t bytes) {
  if (bytes == 0) return Status::Ok();
  MMPREF_RETURN_IF_ERROR(set_device(device));
  MMPREF_RETURN_IF_ERROR(
      status_from(cudaMemsetAsync(dst, value, bytes, op_stream()), "cudaMemset"));
  return status_from(cudaStreamSynchronize(op_stream()), "cudaMemset");
}

Status synchronize(int device) {
  MMPREF_RETURN_IF_ERROR(set_device(device));
  return status_from(cudaStreamSynchronize(op_stream()), "synchronize");
}

Status mem_info(int device, uint64_t* free_bytes, uint64_t* total_bytes) {
  MMPREF_RETURN_IF_ERROR(set_device(device));
  size_t f = 0, t = 0;
  MMPREF_RETURN_IF_ERROR(status_from(cudaMemGetInfo(&f, &t), "cudaMemGetInfo"));
  *free_bytes = f;
  *total_bytes = t;
  return Status::Ok();
}

}  // namespace mmpref::cuda
