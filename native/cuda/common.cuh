// Helpers shared by the .cu files: error mapping, launch checking (launch.cuh: the launch helper),
// scratch memory, a device-side error flag, the grid-size helper, dtype dispatch. Keep napi.h out of .cu files.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "../cpp/core/cuda_api.h"
#include "../cpp/core/half.h"
#include "../cpp/core/status.h"
#include "../cpp/core/tensor_view.h"
#include "launch.cuh"

namespace mmpref::cuda {

inline Status status_from(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  const Code code = e == cudaErrorMemoryAllocation ? Code::kOom : Code::kDevice;
  return make_status(code, std::string(what) + ": " + cudaGetErrorString(e));
}

// Ops run on the calling host thread's default stream (per-thread), so concurrent async ops from
// different libuv threads overlap, and a synchronous op only waits for its own work.
inline cudaStream_t op_stream() { return cudaStreamPerThread; }

// Checks the launch itself, then waits for completion and reports asynchronous faults.
inline Status check_launch_and_sync(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return status_from(e, what);
  return status_from(cudaStreamSynchronize(op_stream()), what);
}

// The one scratch-memory helper of the .cu files: stream-ordered device memory for launchers,
// freed when it goes out of scope (after the launcher synchronised its kernels). Allocation
// failure is ERR_OOM, as every CUDA allocation; a zero-byte request allocates 1 byte.
class DeviceScratch {
 public:
  DeviceScratch() = default;
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ~DeviceScratch() {
    if (ptr_) cudaFreeAsync(ptr_, op_stream());
  }
  Status alloc(size_t bytes, const char* what) {
    return status_from(cudaMallocAsync(&ptr_, bytes ? bytes : 1, op_stream()), what);
  }
  // n elements of T (none when n <= 0)
  template <class T>
  Status alloc_n(int64_t n, const char* what) {
    return alloc(n > 0 ? size_t(n) * sizeof(T) : 0, what);
  }
  // Copies `bytes` from host memory (the caller keeps it alive until the stream is synchronised).
  Status upload(const void* host, size_t bytes, const char* what) {
    MMPREF_RETURN_IF_ERROR(alloc(bytes, what));
    return status_from(cudaMemcpyAsync(ptr_, host, bytes, cudaMemcpyHostToDevice, op_stream()), what);
  }
  template <class T>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

// Data-dependent errors found on the device (e.g. a label outside [0, V)): kernels atomicMax a
// code into the flag; the launcher reads it after the kernel.
class DeviceFlag {
 public:
  Status init() {
    MMPREF_RETURN_IF_ERROR(mem_.alloc(sizeof(int), "flag"));
    return status_from(cudaMemsetAsync(mem_.get<int>(), 0, sizeof(int), op_stream()), "flag");
  }
  int* get() const { return mem_.get<int>(); }
  // Call after the kernel has been synchronised. NB: on op_stream(), not cudaMemcpy's legacy
  // default stream, which would also wait for every other host thread's queued work.
  Status read(int* value) {
    MMPREF_RETURN_IF_ERROR(
        status_from(cudaMemcpyAsync(value, get(), sizeof(int), cudaMemcpyDeviceToHost, op_stream()), "flag"));
    return status_from(cudaStreamSynchronize(op_stream()), "flag");
  }

 private:
  DeviceScratch mem_;
};

// The one grid-size helper: blocks of `block` work items each for `work_items` items, at least 1,
// capped (kernels loop grid-stride over the rest).
inline int grid_for(int64_t work_items, int block, int max_blocks = 65535 * 8) {
  int64_t g = (work_items + block - 1) / block;
  if (g < 1) g = 1;
  if (g > max_blocks) g = max_blocks;
  return int(g);
}

}  // namespace mmpref::cuda

// Dispatch a float dtype (float32/float16/bfloat16) to a typed launcher. Use as
//   MMPREF_CUDA_DISPATCH_FLOAT(args.dtype, T, "opName", { return launch<T>(args); });
#define MMPREF_CUDA_DISPATCH_FLOAT(dtype, T, opname, ...)                                      \
  [&]() -> ::mmpref::Status {                                                                  \
    switch (dtype) {                                                                           \
      case ::mmpref::DType::kFloat32: { using T = float; __VA_ARGS__ }                         \
      case ::mmpref::DType::kFloat16: { using T = ::mmpref::half_t; __VA_ARGS__ }              \
      case ::mmpref::DType::kBFloat16: { using T = ::mmpref::bfloat16_t; __VA_ARGS__ }         \
      default:                                                                                 \
        return ::mmpref::make_status(::mmpref::Code::kDtype,                                   \
                                     std::string(opname) + ": expected float32, float16 or "   \
                                     "bfloat16 but received " + ::mmpref::dtype_name(dtype)); \
    }                                                                                          \
  }()
