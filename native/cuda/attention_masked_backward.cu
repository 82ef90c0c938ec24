// CUDA backward of masked attention (ops/attention_masked.h, "backward"): three deterministic
// kernels, float32 math, no atomics, no [Tq, Tk] matrix.
//
// 1. delta: one warp per query row, D = <dO, O> (lane partials, one xor-shuffle tree).
// 2. dkdv: a 128-thread block owns kTileKeys keys of one (b, kv head) and keeps their dK, dV in
//    shared memory (float32). It walks the G * Tq rows of that kv head in a fixed order (query
//    ascending, then head): stages the row's scaled q and dO, scores the tile's keys (4 partial
//    dots per key, added in order), P = exp(s - lse), dS = P (dP - D); then every (key, column)
//    element, owned by one thread, adds P dO and dS qs. Rows that see none of the tile's keys are
//    skipped.
// 3. dq: one warp per query row walks its visible keys in order: s and dP by warp sums, dQ
//    (lanes over columns) += dS k_j; dQ = scale * acc.
// Every element has one owner that sums in an order fixed by the shape: the same bits for every
// launch. Loads go through to_float (any alignment); this is the simple, correct version: it
// re-reads K/V per query row in the dq kernel.
#include "../cpp/ops/attention_masked.h"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kThreads = 128;
constexpr int kTileKeys = 32;
constexpr int kParts = kThreads / kTileKeys;    // partial dots per key in the dkdv kernel
constexpr int kCols = kAttnMaxHeadDim / 32;     // columns per lane (dq kernel)

__device__ __forceinline__ float warp_sum_bwd(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Global row index (b, h, i) -> its (b, kv head) and query i.
template <class T>
__global__ void attention_masked_backward_delta_kernel(AttentionMaskedBackwardArgs a, float* __restrict__ delta) {
  const int lane = threadIdx.x & 31;
  const int64_t d = a.head_dim, rows = a.batch * a.q_heads * a.q_len;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; row < rows; row += warps) {
    const T* o = static_cast<const T*>(a.out) + row * d;
    const T* g = static_cast<const T*>(a.d_out) + row * d;
    float x = 0.0f;
    for (int64_t t = lane; t < d; t += 32) x += to_float(g[t]) * to_float(o[t]);
    x = warp_sum_bwd(x);
    if (lane == 0) delta[row] = x;
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    attention_masked_backward_dkdv_kernel(AttentionMaskedBackwardArgs a, const float* __restrict__ delta, int64_t tiles) {
  MMPREF_DYNAMIC_SHARED(float, smem);
  MMPREF_SHARED(float, part_s, [kParts][kTileKeys]);
  MMPREF_SHARED(float, part_dp, [kParts][kTileKeys]);
  MMPREF_SHARED(float, p_s, [kTileKeys]);
  MMPREF_SHARED(float, ds_s, [kTileKeys]);
  const int d = int(a.head_dim);
  float* k_s = smem;                    // [kTileKeys][d]
  float* v_s = k_s + kTileKeys * d;     // [kTileKeys][d]
  float* dk_s = v_s + kTileKeys * d;    // [kTileKeys][d]
  float* dv_s = dk_s + kTileKeys * d;   // [kTileKeys][d]
  float* q_s = dv_s + kTileKeys * d;    // [d] scaled q of the current row
  float* do_s = q_s + d;                // [d]
  const int64_t G = a.q_heads / a.kv_heads;
  const int key = threadIdx.x % kTileKeys, part = threadIdx.x / kTileKeys;
  const int per_part = (d + kParts - 1) / kParts;

  for (int64_t unit = blockIdx.x; unit < a.batch * a.kv_heads * tiles; unit += gridDim.x) {
    const int64_t tile = unit % tiles, bk = unit / tiles;
    const int64_t b = bk / a.kv_heads, hk = bk % a.kv_heads;
    const int64_t j0 = tile * kTileKeys;
    const int n = int(a.kv_buf_len - j0 < kTileKeys ? a.kv_buf_len - j0 : kTileKeys);
    const int64_t kv_off = (b * a.kv_heads + hk) * a.kv_buf_len * d;
    const uint8_t* mask = a.key_mask ? a.key_mask + b * a.mask_len : nullptr;
    // 1. the tile's K and V as float32, accumulators zeroed
    for (int e = threadIdx.x; e < kTileKeys * d; e += blockDim.x) {
      const bool in = e / d < n;
      k_s[e] = in ? to_float(static_cast<const T*>(a.k)[kv_off + j0 * d + e]) : 0.0f;
      v_s[e] = in ? to_float(static_cast<const T*>(a.v)[kv_off + j0 * d + e]) : 0.0f;
      dk_s[e] = 0.0f;
      dv_s[e] = 0.0f;
    }
    const int64_t j = j0 + key;
    const bool key_ok = key < n && j < a.kv_len && (!mask || mask[j]);
    for (int64_t i = 0; i < a.q_len; ++i) {
      if (attn_last_key(a, i) < j0) continue;  // block-uniform: the row sees none of these keys
      for (int64_t g = 0; g < G; ++g) {
        const int64_t row = (b * a.q_heads + hk * G + g) * a.q_len + i;
        const float lse = a.lse[row];
        if (lse == -kInf) continue;  // block-uniform: an empty row contributes nothing
        __syncthreads();  // the previous row's q_s/do_s/p_s are consumed (and the tile staged)
        for (int t = threadIdx.x; t < d; t += blockDim.x) {
          q_s[t] = to_float(static_cast<const T*>(a.q)[row * d + t]) * a.scale;
          do_s[t] = to_float(static_cast<const T*>(a.d_out)[row * d + t]);
        }
        __syncthreads();
        // 2. partial dots of key `key` over columns [part * per_part, ...)
        float s = 0.0f, dp = 0.0f;
        const int t0 = part * per_part, t1 = t0 + per_part < d ? t0 + per_part : d;
        for (int t = t0; t < t1; ++t) {
          s += q_s[t] * k_s[key * d + t];
          dp += do_s[t] * v_s[key * d + t];
        }
        part_s[part][key] = s;
        part_dp[part][key] = dp;
        __syncthreads();
        if (threadIdx.x < kTileKeys) {
          float ss = 0.0f, dd = 0.0f;
#pragma unroll
          for (int pp = 0; pp < kParts; ++pp) {
            ss += part_s[pp][key];
            dd += part_dp[pp][key];
          }
          const bool vis = key_ok && j <= attn_last_key(a, i);
          const float p = vis ? attn_bwd_prob(ss, lse) : 0.0f;
          p_s[key] = p;
          ds_s[key] = p == 0.0f ? 0.0f : p * (dd - delta[row]);
        }
        __syncthreads();
        // 3. dV += P dO, dK += dS qs: element e owned by thread e mod blockDim.x
        for (int e = threadIdx.x; e < kTileKeys * d; e += blockDim.x) {
          const int jj = e / d, t = e % d;
          dv_s[e] += p_s[jj] * do_s[t];
          dk_s[e] += ds_s[jj] * q_s[t];
        }
      }
    }
    __syncthreads();
    // 4. store (keys nobody sees hold zeros)
    T* dk = static_cast<T*>(a.dk) + kv_off + j0 * d;
    T* dv = static_cast<T*>(a.dv) + kv_off + j0 * d;
    for (int e = threadIdx.x; e < n * d; e += blockDim.x) {
      dk[e] = from_float<T>(dk_s[e]);
      dv[e] = from_float<T>(dv_s[e]);
    }
    __syncthreads();  // the shared tile is rewritten by the next unit
  }
}

template <class T>
__global__ void attention_masked_backward_dq_kernel(AttentionMaskedBackwardArgs a, const float* __restrict__ delta) {
  const int lane = threadIdx.x & 31;
  const int d = int(a.head_dim);
  const int64_t rows = a.batch * a.q_heads * a.q_len, G = a.q_heads / a.kv_heads;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; row < rows; row += warps) {
    const int64_t i = row % a.q_len, bh = row / a.q_len, b = bh / a.q_heads, hk = (bh % a.q_heads) / G;
    const T* kbase = static_cast<const T*>(a.k) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
    const T* vbase = static_cast<const T*>(a.v) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
    const uint8_t* mask = a.key_mask ? a.key_mask + b * a.mask_len : nullptr;
    float qs[kCols], go[kCols], acc[kCols];
#pragma unroll
    for (int c = 0; c < kCols; ++c) {
      const int t = c * 32 + lane;
      qs[c] = t < d ? to_float(static_cast<const T*>(a.q)[row * d + t]) * a.scale : 0.0f;
      go[c] = t < d ? to_float(static_cast<const T*>(a.d_out)[row * d + t]) : 0.0f;
      acc[c] = 0.0f;
    }
    const float lse = a.lse[row], D = delta[row];
    const int64_t last = lse == -kInf ? -1 : attn_last_key(a, i);
    for (int64_t j = 0; j <= last; ++j) {
      if (mask && !mask[j]) continue;  // warp-uniform
      float kf[kCols], s = 0.0f, dp = 0.0f;
#pragma unroll
      for (int c = 0; c < kCols; ++c) {
        const int t = c * 32 + lane;
        kf[c] = t < d ? to_float(kbase[j * d + t]) : 0.0f;
        const float vf = t < d ? to_float(vbase[j * d + t]) : 0.0f;
        s += qs[c] * kf[c];
        dp += go[c] * vf;
      }
      s = warp_sum_bwd(s);
      dp = warp_sum_bwd(dp);
      const float p = attn_bwd_prob(s, lse);
      if (p == 0.0f) continue;  // warp-uniform
      const float ds = p * (dp - D);
#pragma unroll
      for (int c = 0; c < kCols; ++c) acc[c] += ds * kf[c];
    }
    T* dq = static_cast<T*>(a.dq) + row * d;
#pragma unroll
    for (int c = 0; c < kCols; ++c) {
      const int t = c * 32 + lane;
      if (t < d) dq[t] = from_float<T>(acc[c] * a.scale);
    }
  }
}

template <class T>
Status launch(const AttentionMaskedBackwardArgs& a) {
  const char* op = "attention.maskedBackward";
  const int64_t rows = a.batch * a.q_heads * a.q_len;
  cuda::DeviceScratch delta;
  MMPREF_RETURN_IF_ERROR(delta.alloc_n<float>(rows > 0 ? rows : 1, op));
  if (rows > 0) {
    cuda::launch(MMPREF_KERNEL(attention_masked_backward_delta_kernel<T>), cuda::grid_for(rows, kThreads / 32), kThreads, 0, cuda::op_stream())(a, delta.get<float>());
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), op));
  }
  const int64_t tiles = ceil_div(a.kv_buf_len, kTileKeys);
  if (a.batch * a.kv_heads * tiles > 0) {
    const size_t smem = size_t(4 * kTileKeys * a.head_dim + 2 * a.head_dim) * sizeof(float);
    if (smem > 48 * 1024)
      MMPREF_RETURN_IF_ERROR(cuda::status_from(
          cudaFuncSetAttribute(attention_masked_backward_dkdv_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)), op));
    cuda::launch(MMPREF_KERNEL(attention_masked_backward_dkdv_kernel<T>), cuda::grid_for(a.batch * a.kv_heads * tiles, 1), kThreads, smem, cuda::op_stream())(a, delta.get<float>(), tiles);
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), op));
  }
  if (rows > 0)
    cuda::launch(MMPREF_KERNEL(attention_masked_backward_dq_kernel<T>), cuda::grid_for(rows, kThreads / 32), kThreads, 0, cuda::op_stream())(a, delta.get<float>());
  return cuda::check_launch_and_sync(op);
}

}  // namespace

Status attention_masked_backward_cuda(const AttentionMaskedBackwardArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "attention.maskedBackward", { return launch<T>(a); });
}

}  // namespace mmpref
