// The one way .cu files launch kernels and declare shared memory, so the nvcc build and the
// emulation build (MMPREF_CUDA_EMULATE, native/cuda/emu/) share every line of kernel code:
//
//   cuda::launch(MMPREF_KERNEL(foo_kernel<T, 4>), grid, block, smem)(args...);
//   MMPREF_SHARED(float, part, [32]);          // MMPREF_SHARED(float, part, [32]);
//   MMPREF_DYNAMIC_SHARED(float, smem);        // MMPREF_DYNAMIC_SHARED(float, smem);
//
// Launch errors go where <<<>>> puts them (cudaGetLastError). The emulator records the kernel's
// name (MMPREF_EMU_KERNEL_LOG) so a test run can say which kernels executed.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace mmpref::cuda {

template <class... P>
struct KernelRef {
  void (*fn)(P...);
  const char* name;  // as written at the call site, e.g. "foo_kernel<T, 4>"
};
template <class... P>
KernelRef<P...> kernel_ref(void (*fn)(P...), const char* name) {
  return KernelRef<P...>{fn, name};
}

template <class T>
struct Identity {
  using type = T;
};

template <class... P>
class Launch {
 public:
  Launch(KernelRef<P...> k, dim3 grid, dim3 block, size_t smem, cudaStream_t stream)
      : k_(k), grid_(grid), block_(block), smem_(smem), stream_(stream) {}
  void operator()(typename Identity<P>::type... args) const {
#if defined(MMPREF_CUDA_EMULATION)
    auto body = [&] { k_.fn(args...); };  // each emulated thread calls the kernel with copies
    ::mmpref::emu::launch(
        k_.name, grid_, block_, smem_, stream_,
        [](const void* c) { (*static_cast<const decltype(body)*>(c))(); }, &body,
        reinterpret_cast<const void*>(k_.fn));
#else
    void* ptrs[sizeof...(P) + 1] = {const_cast<void*>(static_cast<const void*>(&args))...};
    cudaLaunchKernel(reinterpret_cast<const void*>(k_.fn), grid_, block_, ptrs, smem_, stream_);
#endif
  }

 private:
  KernelRef<P...> k_;
  dim3 grid_, block_;
  size_t smem_;
  cudaStream_t stream_;
};

// Ops run on the calling host thread's default stream (cudaStreamPerThread).
template <class... P>
Launch<P...> launch(KernelRef<P...> k, dim3 grid, dim3 block, size_t smem = 0,
                    cudaStream_t stream = cudaStreamPerThread) {
  return Launch<P...>(k, grid, block, smem, stream);
}

}  // namespace mmpref::cuda

#define MMPREF_KERNEL(...) ::mmpref::cuda::kernel_ref(__VA_ARGS__, #__VA_ARGS__)

#if defined(MMPREF_CUDA_EMULATION)
#define MMPREF_SHARED(T, name, dims) \
  auto& name = ::mmpref::emu::shared<T dims>([] { static const char k = 0; return &k; }(), #name)
#define MMPREF_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::mmpref::emu::dynamic_shared())
#else
#define MMPREF_SHARED(T, name, dims) __shared__ T name dims
#define MMPREF_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif
