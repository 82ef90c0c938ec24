// CUDA ops.crossEntropy (math in ../cpp/ops/cross_entropy.h; row code in logits_row.cuh).
//
// 1. cross_entropy_count_kernel (one block): what every row scores, n (written to count) and the
//    smallest index of a bad label, read back and turned into ERR_RANGE before anything else is
//    written (a bad label leaves in-place logits untouched).
// 2. cross_entropy_row_kernel: one 256-thread block per row (grid-stride). The label logit is read
//    first, then the row's lse in one pass (online exp2-domain (c, s) per thread, 16-byte loads,
//    merged in a fixed order; NaN / +inf / |x| > 1.8e8 rows take the exact two-pass path), the
//    row loss lse - z[y] in double, and with a gradient the same block writes
//    s_r * (softmax - onehot) over the row (16-byte loads and stores; in place is safe: every
//    element is read and written by one thread, after the lse's barriers).
// 3. cross_entropy_reduce_kernel (one block): the double row losses summed in a fixed order
//    (strided per thread, then block_reduce), / n for the mean.
#include <cstdint>

#include "../cpp/ops/cross_entropy.h"
#include "block_reduce.cuh"
#include "common.cuh"
#include "logits_row.cuh"

namespace mmpref {
namespace {

__global__ void cross_entropy_count_kernel(LogpsRows m, int32_t* __restrict__ count, unsigned long long* err) {
  MMPREF_SHARED(long long, sh_n, [kWarps]);
  long long n = 0;
  for (int64_t r = threadIdx.x; r < m.rows; r += kBlock) {
    int64_t li = -1;
    const int64_t y = row_target(m, r, &li);
    if (y == -2) atomicMin(err, static_cast<unsigned long long>(li));
    n += y >= 0;
  }
  n = cuda::block_reduce<kBlock>(n, [](long long a, long long b) { return a + b; }, sh_n);
  if (threadIdx.x == 0) *count = int32_t(n);
}

template <class T>
__global__ void __launch_bounds__(kBlock, 4) cross_entropy_row_kernel(CrossEntropyArgs a, double* __restrict__ row_loss) {
  const LogpsRows& m = a.map;
  const int64_t V = m.vocab;
  const T* logits = static_cast<const T*>(a.logits);
  T* grad = static_cast<T*>(a.grad);
  const int64_t n = *a.count;
  for (int64_t r = blockIdx.x; r < m.rows; r += gridDim.x) {
    int64_t li;
    const int64_t y = block_target(m, r, &li);
    const T* x = logits + r * V;
    if (y < 0) {  // block-uniform
      if (threadIdx.x == 0) {
        a.losses[r] = 0.0f;
        row_loss[r] = 0.0;
      }
      if (grad) block_zero_row(grad + r * V, V);
      continue;
    }
    // NB: read before row_lse, whose barriers order it before any in-place write of the row
    const float x_label = to_float(x[y]);
    const double lse = row_lse(x, V);
    if (threadIdx.x == 0) {
      const double l = lse - double(x_label);
      a.losses[r] = float(l);
      row_loss[r] = l;
    }
    if (grad) {
      const float hi = float(lse);
      const float lo = (hi == lse) ? 0.0f : float(lse - double(hi));  // 0 for +-inf, NaN kept in hi
      block_grad_row(x, grad + r * V, V, y, float(-cross_entropy_scale(a, r, n)), hi, lo);
    }
  }
}

__global__ void cross_entropy_reduce_kernel(const double* __restrict__ row_loss, int64_t rows,
                                            const int32_t* __restrict__ count, bool mean, float* loss) {
  MMPREF_SHARED(double, sh_s, [kWarps]);
  double s = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += kBlock) s += row_loss[r];
  s = cuda::block_reduce<kBlock>(s, [](double a, double b) { return a + b; }, sh_s);
  if (threadIdx.x == 0) {
    const int32_t n = *count;
    *loss = float(mean ? (n ? s / double(n) : 0.0) : s);
  }
}

template <class T>
Status launch(const CrossEntropyArgs& a) {
  const char* op = "ops.crossEntropy";
  const LogpsRows& m = a.map;
  cudaStream_t st = cuda::op_stream();
  cuda::DeviceScratch err, rl;
  MMPREF_RETURN_IF_ERROR(err.alloc(sizeof(unsigned long long), op));
  MMPREF_RETURN_IF_ERROR(rl.alloc_n<double>(m.rows > 0 ? m.rows : 1, op));
  auto* e = err.get<unsigned long long>();
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(e, 0xff, sizeof(*e), st), op));
  cuda::launch(MMPREF_KERNEL(cross_entropy_count_kernel), 1, kBlock, 0, st)(m, a.count, e);
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync(op));
  MMPREF_RETURN_IF_ERROR(read_label_error(op, m, e));
  if (m.rows)
    cuda::launch(MMPREF_KERNEL(cross_entropy_row_kernel<T>), cuda::grid_for(m.rows, 1), kBlock, 0, st)(a, rl.get<double>());
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), op));
  cuda::launch(MMPREF_KERNEL(cross_entropy_reduce_kernel), 1, kBlock, 0, st)(rl.get<double>(), m.rows, a.count, a.mean, a.loss);
  return cuda::check_launch_and_sync(op);
}

}  // namespace

Status cross_entropy_cuda(const CrossEntropyArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "ops.crossEntropy", { return launch<T>(a); });
}

}  // namespace mmpref
