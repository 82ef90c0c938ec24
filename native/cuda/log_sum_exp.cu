// CUDA logSumExp. Each thread folds its share of a row 16 bytes at a time: the vector's max,
// one rescale of the running sum when the max grows, then one __expf per element. Thread states
// are merged with warp shuffles (lse_merge) and, for block rows, through shared memory.
//   - short rows (C <= 1024): a warp per row;
//   - long rows: a 256-thread block per row, or, when there are too few rows to fill the GPU, a
//     block per (row, segment) writing partial states that a second kernel merges in order.
// NB: __expf (ex2.approx) is ~2 ulp near 0, where the dominant terms of a sum are; float32 sums.
#include "../cpp/core/math.h"
#include "../cpp/ops/log_sum_exp.h"
#include "common.cuh"

namespace mmpref {
namespace {

struct ThreadLse {
  float m = -kInf;
  float s = 0.0f;
  bool nan = false;

  template <int N>
  __device__ __forceinline__ void add(const float (&v)[N]) {
    float vm = v[0];
#pragma unroll
    for (int k = 0; k < N; ++k) {
      nan |= v[k] != v[k];
      vm = fmaxf(vm, v[k]);  // fmaxf ignores NaN (caught by the flag)
    }
    if (vm > m) {
      s = m == -kInf ? 0.0f : s * __expf(m - vm);
      m = vm;
    }
    if (m != -kInf) {
#pragma unroll
      for (int k = 0; k < N; ++k) s += __expf(v[k] - m);  // m = +inf: s becomes NaN, ignored by state()
    }
  }
  __device__ __forceinline__ LseState state() const {
    if (nan) return LseState{__int_as_float(0x7fc00000), 0.0f};
    if (m == kInf) return LseState{kInf, 0.0f};
    return LseState{m, s};
  }
};

__device__ __forceinline__ LseState warp_merge(LseState st) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    LseState o{__shfl_xor_sync(0xffffffffu, st.m, off), __shfl_xor_sync(0xffffffffu, st.s, off)};
    st = lse_merge(st, o);
  }
  return st;
}

// Thread `lane` of `nthreads` folds p[0, n): scalar head up to 16-byte alignment, vectors, tail.
template <class T>
__device__ __forceinline__ LseState fold(const T* p, int64_t n, int lane, int nthreads) {
  constexpr int kVec = 16 / sizeof(T);
  ThreadLse t;
  const int64_t mis = (reinterpret_cast<uintptr_t>(p) / sizeof(T)) % kVec;
  int64_t head = mis ? kVec - mis : 0;
  if (head > n) head = n;
  for (int64_t i = lane; i < head; i += nthreads) {
    const float v[1] = {to_float(p[i])};
    t.add(v);
  }
  const int64_t nvec = (n - head) / kVec;
  const uint4* pv = reinterpret_cast<const uint4*>(p + head);
  for (int64_t i = lane; i < nvec; i += nthreads) {
    const uint4 raw = __ldg(pv + i);
    const T* e = reinterpret_cast<const T*>(&raw);
    float v[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[k] = to_float(e[k]);
    t.add(v);
  }
  for (int64_t i = head + nvec * kVec + lane; i < n; i += nthreads) {
    const float v[1] = {to_float(p[i])};
    t.add(v);
  }
  return t.state();
}

template <class T>
__global__ void log_sum_exp_warp_kernel(const T* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps) {
    const LseState st = warp_merge(fold(x + r * cols, cols, lane, 32));
    if (lane == 0) y[r] = lse_finish(st);
  }
}

// Block b handles (row, segment) = (b / segs, b % segs) over columns [seg*seg_len, ...). With
// segs == 1 it writes the final value; otherwise the partial state for log_sum_exp_merge_kernel.
template <class T, int BLOCK>
__global__ void log_sum_exp_block_kernel(const T* __restrict__ x, float* __restrict__ y, LseState* __restrict__ part,
                                         int64_t rows, int64_t cols, int64_t segs, int64_t seg_len) {
  MMPREF_SHARED(LseState, warp_part, [BLOCK / 32]);
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  for (int64_t item = blockIdx.x; item < rows * segs; item += gridDim.x) {
    const int64_t r = item / segs, seg = item % segs;
    const int64_t c0 = seg * seg_len, len = min(seg_len, cols - c0);
    LseState st = warp_merge(fold(x + r * cols + c0, len, threadIdx.x, BLOCK));
    if (lane == 0) warp_part[warp] = st;
    __syncthreads();
    if (warp == 0) {
      st = warp_merge(lane < BLOCK / 32 ? warp_part[lane] : lse_empty());
      if (lane == 0) {
        if (segs == 1) y[r] = lse_finish(st);
        else part[item] = st;
      }
    }
    __syncthreads();
  }
}

__global__ void log_sum_exp_merge_kernel(const LseState* __restrict__ part, float* __restrict__ y, int64_t rows,
                                         int64_t segs) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows; r += int64_t(gridDim.x) * blockDim.x) {
    LseState st = lse_empty();
    for (int64_t s = 0; s < segs; ++s) st = lse_merge(st, part[r * segs + s]);  // fixed order
    y[r] = lse_finish(st);
  }
}

template <class T>
Status launch(const LogSumExpArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  constexpr int kBlock = 256;
  if (a.cols <= 1024) {
    cuda::launch(MMPREF_KERNEL(log_sum_exp_warp_kernel<T>), cuda::grid_for(a.rows, kBlock / 32), kBlock, 0, cuda::op_stream())(x, a.y, a.rows, a.cols);
    return cuda::check_launch_and_sync("logSumExp");
  }
  int sms = 132;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, a.device) != cudaSuccess) {
    cudaGetLastError();  // keep the default; do not leave a stale error for the launch check
    sms = 132;
  }
  // Split rows into segments (>= 8192 columns each) only when rows alone cannot fill the GPU.
  int64_t segs = 1;
  if (a.rows < 2 * int64_t(sms) && a.cols > 16384) {
    segs = (4 * int64_t(sms) + a.rows - 1) / a.rows;
    segs = std::min<int64_t>(segs, (a.cols + 8191) / 8192);
  }
  const int64_t seg_len = (a.cols + segs - 1) / segs;
  cuda::DeviceScratch scratch;
  if (segs > 1) MMPREF_RETURN_IF_ERROR(scratch.alloc_n<LseState>(a.rows * segs, "logSumExp"));
  LseState* part = segs > 1 ? scratch.get<LseState>() : nullptr;
  cuda::launch(MMPREF_KERNEL(log_sum_exp_block_kernel<T, kBlock>), cuda::grid_for(a.rows * segs, 1), kBlock, 0, cuda::op_stream())(x, a.y, part, a.rows, a.cols, segs, seg_len);
  if (segs > 1) cuda::launch(MMPREF_KERNEL(log_sum_exp_merge_kernel), cuda::grid_for(a.rows, 128), 128, 0, cuda::op_stream())(part, a.y, a.rows, segs);
  return cuda::check_launch_and_sync("logSumExp");
}

}  // namespace

Status log_sum_exp_cuda(const LogSumExpArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.rows == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "logSumExp", { return launch<T>(a); });
}

}  // namespace mmpref
