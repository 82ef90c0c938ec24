// Stream-ordered device scratch memory for launchers (freed when the launcher returns, after its
// kernels were synchronised). Allocation failure is ERR_OOM, as every CUDA allocation.
#pragma once

#include "common.cuh"

namespace mmpref::cuda {

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

}  // namespace mmpref::cuda
