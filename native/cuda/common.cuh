// Helpers shared by the .cu files: error mapping, launch checking, a device-side error flag,
// dtype-generic loads. Keep napi.h out of .cu files.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "../cpp/core/cuda_api.h"
#include "../cpp/core/half.h"
#include "../cpp/core/status.h"
#include "../cpp/core/tensor_view.h"

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

// Data-dependent errors found on the device (e.g. a label outside [0, V)): kernels atomicMax a
// code into the flag; the launcher reads it after the kernel. One 4-byte stream-ordered allocation
// per use.
class DeviceFlag {
 public:
  Status init() {
    MMPREF_RETURN_IF_ERROR(status_from(cudaMallocAsync(&ptr_, sizeof(int), op_stream()), "flag"));
    return status_from(cudaMemsetAsync(ptr_, 0, sizeof(int), op_stream()), "flag");
  }
  int* get() const { return ptr_; }
  // Call after the kernel has been synchronised. NB: on op_stream(), not cudaMemcpy's legacy
  // default stream, which would also wait for every other host thread's queued work.
  Status read(int* value) {
    MMPREF_RETURN_IF_ERROR(
        status_from(cudaMemcpyAsync(value, ptr_, sizeof(int), cudaMemcpyDeviceToHost, op_stream()), "flag"));
    return status_from(cudaStreamSynchronize(op_stream()), "flag");
  }
  ~DeviceFlag() {
    if (ptr_) cudaFreeAsync(ptr_, op_stream());
  }

 private:
  int* ptr_ = nullptr;
};

// Grid size helper: enough blocks to fill the device a few times over.
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
