// CUDA runtime wrappers (core/cuda_api.h). cudart is linked statically; with no driver every
// call fails cleanly ("CUDA driver version is insufficient...") and probe() says so.
#include <cuda_runtime.h>

#include <mutex>

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

Status malloc(int device, size_t bytes, void** out) {
  MMPREF_RETURN_IF_ERROR(set_device(device));
  *out = nullptr;
  if (bytes == 0) return Status::Ok();
  cudaError_t e = cudaMalloc(out, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    return make_status(Code::kOom, "CUDA out of memory: could not allocate " +
                                       std::to_string(bytes) + " bytes on cuda:" +
                                       std::to_string(device) + " (" + std::to_string(free_b) +
                                       " of " + std::to_string(total_b) + " bytes free)");
  }
  return status_from(e, "cudaMalloc");
}

void free(int device, void* ptr) {
  if (!ptr) return;
  cudaSetDevice(device);
  cudaFree(ptr);
  cudaGetLastError();
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
