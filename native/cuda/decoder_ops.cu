// CUDA kernels for the decoder layer ops (see decoder_ops.h). Simple and memory-bound:
// rmsNorm a block per row, rotary a thread per (b, h, t, pair), elementwise grid-stride.
#include <string>
#include <vector>

#include "../cpp/ops/decoder_ops.h"
#include "common.cuh"

namespace mmpref {
namespace {

template <class T, class W>
// NB: x and y may alias (out: x), so neither is __restrict__.
__global__ void rms_norm_kernel(const T* x, const W* __restrict__ w, T* y, int64_t rows,
                                int64_t cols, float eps) {
  MMPREF_SHARED(float, part, [32]);
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * cols;
    float ss = 0;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      const float v = to_float(xr[i]);
      ss += v * v;
    }
    for (int off = 16; off; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x / 32] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
      ss = threadIdx.x < blockDim.x / 32 ? part[threadIdx.x] : 0.0f;
      for (int off = 16; off; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
      if (threadIdx.x == 0) part[0] = rsqrtf(ss / float(cols) + eps);
    }
    __syncthreads();
    const float inv = part[0];
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) y[r * cols + i] = from_float<T>(to_float(xr[i]) * inv * to_float(w[i]));
    __syncthreads();
  }
}

template <class T>
__global__ void rotary_kernel(const T* x, T* y, int64_t B, int64_t H, int64_t T_, int64_t d, const int32_t* positions,
                              int64_t offset, double theta) {
  const int64_t half = d / 2, total = B * H * T_ * half;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k % half, row = k / half;  // row = (b*H + h)*T + t
    const int64_t t = row % T_, b = row / (H * T_);
    const double pos = positions ? double(positions[b * T_ + t]) : double(offset + t);
    double s, c;
    sincos(pos * rotary_inv_freq(int(i), int(d), theta), &s, &c);
    const int64_t base = row * d;
    const float x1 = to_float(x[base + i]), x2 = to_float(x[base + i + half]);
    y[base + i] = from_float<T>(x1 * float(c) - x2 * float(s));
    y[base + i + half] = from_float<T>(x2 * float(c) + x1 * float(s));
  }
}

template <class T>
__global__ void swiglu_kernel(const T* g, const T* u, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(silu_mul(to_float(g[i]), to_float(u[i])));
}

template <class T>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t n, float alpha) {
  // NB: __fmul_rn keeps nvcc from contracting this into one fma: the CPU (-ffp-contract=off)
  // rounds alpha * b before the add, and the results must be identical
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_float<T>(to_float(a[i]) + __fmul_rn(alpha, to_float(b[i])));
}

template <class I>
__global__ void embedding_check_kernel(const I* tokens, int64_t V, int64_t N, int* flag) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t tok = int64_t(tokens[i]);
    if (tok < 0 || tok >= V) atomicMax(flag, 1);
  }
}

// Tokens are checked first (embedding_check_kernel): every token here is in [0, V).
template <class I>
__global__ void embedding_kernel(const char* table, const I* tokens, char* y, int64_t row_bytes, int64_t N) {
  for (int64_t i = blockIdx.x; i < N; i += gridDim.x) {
    const int64_t tok = int64_t(tokens[i]);
    for (int64_t k = threadIdx.x; k < row_bytes; k += blockDim.x) y[i * row_bytes + k] = table[tok * row_bytes + k];
  }
}

// The CPU's message for the first token outside [0, V) (error path: tokens read back).
template <class I>
Status embedding_token_error(const EmbeddingArgs& a) {
  std::vector<I> host(size_t(a.N));
  MMPREF_RETURN_IF_ERROR(cuda::memcpy_d2h(a.device, host.data(), a.tokens, size_t(a.N) * sizeof(I)));
  for (int64_t i = 0; i < a.N; ++i) {
    const int64_t tok = int64_t(host[size_t(i)]);
    if (tok < 0 || tok >= a.V)
      return make_status(Code::kRange, "embedding: token " + std::to_string(tok) + " at index " + std::to_string(i) +
                                           " is outside [0, " + std::to_string(a.V) + ")");
  }
  return make_status(Code::kRange, "embedding: a token is outside [0, " + std::to_string(a.V) + ")");
}

}  // namespace

Status rms_norm_cuda(const RmsNormArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.rows == 0 || a.cols == 0) return Status::Ok();
  const int grid = int(std::min<int64_t>(a.rows, 65535 * 8));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "rmsNorm", {
    if (a.w_dtype == DType::kFloat32)
      cuda::launch(MMPREF_KERNEL(rms_norm_kernel<T, float>), grid, 256, 0, cuda::op_stream())(static_cast<const T*>(a.x), static_cast<const float*>(a.w),
                                                                     static_cast<T*>(a.y), a.rows, a.cols, a.eps);
    else
      cuda::launch(MMPREF_KERNEL(rms_norm_kernel<T, T>), grid, 256, 0, cuda::op_stream())(static_cast<const T*>(a.x), static_cast<const T*>(a.w),
                                                                 static_cast<T*>(a.y), a.rows, a.cols, a.eps);
    return cuda::check_launch_and_sync("rmsNorm");
  });
}

Status rotary_cuda(const RotaryArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  const int64_t total = a.B * a.H * a.T * (a.d / 2);
  if (total == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "rotary", {
    cuda::launch(MMPREF_KERNEL(rotary_kernel<T>), cuda::grid_for(total, 256), 256, 0, cuda::op_stream())(
        static_cast<const T*>(a.x), static_cast<T*>(a.y), a.B, a.H, a.T, a.d, a.positions, a.offset, a.theta);
    return cuda::check_launch_and_sync("rotary");
  });
}

Status swiglu_cuda(const ElementwiseArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "swiglu", {
    cuda::launch(MMPREF_KERNEL(swiglu_kernel<T>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(static_cast<const T*>(a.a), static_cast<const T*>(a.b),
                                                                             static_cast<T*>(a.y), a.n);
    return cuda::check_launch_and_sync("swiglu");
  });
}

Status add_cuda(const ElementwiseArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.n == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "add", {
    cuda::launch(MMPREF_KERNEL(add_kernel<T>), cuda::grid_for(a.n, 256), 256, 0, cuda::op_stream())(static_cast<const T*>(a.a), static_cast<const T*>(a.b),
                                                                         static_cast<T*>(a.y), a.n, a.alpha);
    return cuda::check_launch_and_sync("add");
  });
}

Status embedding_cuda(const EmbeddingArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.N == 0) return Status::Ok();
  // 1. every token is checked before anything is written (a bad one leaves `out` untouched, as on the CPU)
  cuda::DeviceFlag flag;
  MMPREF_RETURN_IF_ERROR(flag.init());
  const bool i64 = a.token_dtype == DType::kInt64;
  if (i64)
    cuda::launch(MMPREF_KERNEL(embedding_check_kernel<int64_t>), cuda::grid_for(a.N, 256), 256, 0, cuda::op_stream())(
        static_cast<const int64_t*>(a.tokens), a.V, a.N, flag.get());
  else
    cuda::launch(MMPREF_KERNEL(embedding_check_kernel<int32_t>), cuda::grid_for(a.N, 256), 256, 0, cuda::op_stream())(
        static_cast<const int32_t*>(a.tokens), a.V, a.N, flag.get());
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync("embedding"));
  int bad = 0;
  MMPREF_RETURN_IF_ERROR(flag.read(&bad));
  if (bad) return i64 ? embedding_token_error<int64_t>(a) : embedding_token_error<int32_t>(a);
  // 2. copy rows
  const int64_t row_bytes = a.D * dtype_size(a.dtype);
  const int grid = int(std::min<int64_t>(a.N, 65535 * 8));
  if (i64)
    cuda::launch(MMPREF_KERNEL(embedding_kernel<int64_t>), grid, 128, 0, cuda::op_stream())(static_cast<const char*>(a.table), static_cast<const int64_t*>(a.tokens),
                                                                   static_cast<char*>(a.y), row_bytes, a.N);
  else
    cuda::launch(MMPREF_KERNEL(embedding_kernel<int32_t>), grid, 128, 0, cuda::op_stream())(static_cast<const char*>(a.table), static_cast<const int32_t*>(a.tokens),
                                                                   static_cast<char*>(a.y), row_bytes, a.N);
  return cuda::check_launch_and_sync("embedding");
}

}  // namespace mmpref
