// CUDA halves of optim.clipGradNorm (ops/clip_grad_norm.h). Sum of squares: 1. one block per
// kSumSquaresBlock elements, each thread a float64 sum over its strided elements, a fixed-order
// block reduction into part[block]; 2. one block adds the partials in a fixed order and writes the
// (hi, lo) pair. No atomics: the bits depend on nothing but n (they may differ from the CPU's
// summation order by float64 rounding).
#include "../cpp/ops/clip_grad_norm.h"
#include "block_reduce.cuh"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kBlock = 256;

struct AddD {
  __device__ __forceinline__ double operator()(double a, double b) const { return a + b; }
};

template <class T>
__global__ void grad_sum_squares_block_kernel(const T* x, int64_t n, double* part) {
  MMPREF_SHARED(double, buf, [kBlock / 32]);
  const int64_t s = int64_t(blockIdx.x) * kSumSquaresBlock;
  const int64_t e = s + kSumSquaresBlock < n ? s + kSumSquaresBlock : n;
  double acc = 0;
  for (int64_t i = s + threadIdx.x; i < e; i += kBlock) {
    const double d = double(to_float(x[i]));
    acc = __dadd_rn(acc, __dmul_rn(d, d));
  }
  acc = cuda::block_reduce<kBlock>(acc, AddD{}, buf);
  if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

__global__ void grad_sum_squares_final_kernel(const double* part, int64_t blocks, float* out) {
  MMPREF_SHARED(double, buf, [kBlock / 32]);
  double acc = 0;
  for (int64_t b = threadIdx.x; b < blocks; b += kBlock) acc += part[b];
  acc = cuda::block_reduce<kBlock>(acc, AddD{}, buf);
  if (threadIdx.x == 0) split_sum(acc, out);
}

template <class T>
__global__ void grad_scale_kernel(const T* x, T* y, int64_t n, float coef) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(to_float(x[i]) * coef);
}

}  // namespace

Status grad_sum_squares_cuda(const SumSquaresArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  const int64_t blocks = a.n > 0 ? (a.n + kSumSquaresBlock - 1) / kSumSquaresBlock : 1;
  if (blocks > 0x7fffffff) return make_status(Code::kShape, "optim.clipGradNorm: expected a gradient below 2^45 elements");
  cuda::DeviceScratch part;
  MMPREF_RETURN_IF_ERROR(part.alloc_n<double>(blocks, "optim.clipGradNorm"));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "optim.clipGradNorm", {
    cuda::launch(MMPREF_KERNEL(grad_sum_squares_block_kernel<T>), int(blocks), kBlock, 0, cuda::op_stream())(static_cast<const T*>(a.x), a.n, part.get<double>());
    cuda::launch(MMPREF_KERNEL(grad_sum_squares_final_kernel), 1, kBlock, 0, cuda::op_stream())(part.get<double>(), blocks, a.out);
    return cuda::check_launch_and_sync("optim.clipGradNorm");
  });
}

Status grad_scale_cuda(const GradScaleArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "optim.clipGradNorm", {
    cuda::launch(MMPREF_KERNEL(grad_scale_kernel<T>), cuda::grid_for(a.n, kBlock), kBlock, 0, cuda::op_stream())(static_cast<const T*>(a.x), static_cast<T*>(a.y), a.n, a.coef);
    return cuda::check_launch_and_sync("optim.clipGradNorm");
  });
}

}  // namespace mmpref
