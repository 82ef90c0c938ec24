// CUDA masked attention, two paths (both float32 accumulation, online softmax, no score matrix):
//
// - tile (prefill, Tq > kAttnSplitMaxQueries): a 128-thread block owns 16 query rows of one
//   (b, head), 4 rows per warp. For every tile of 32 keys the block stages K and V in shared memory
//   as float32 (16-byte loads when aligned); lane j scores key j against each of its warp's rows,
//   the warp takes max / sum with shuffles and every lane updates its d/32 output columns.
// - split (decode, Tq <= kAttnSplitMaxQueries): the keys of each query row are cut into fixed
//   kAttnCudaSplitKeys splits; a 128-thread block scores one split, one key per warp at a time
//   (lanes split d, 16-byte loads when aligned), merges its 4 warps in order and writes a partial
//   (m, l, acc); a merge kernel combines the splits of each row in order. This keeps the whole GPU
//   reading K/V even when B * Hq is small: memory-bandwidth bound on K/V.
#include "../cpp/ops/attention_masked.h"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kRowsPerWarp = 4;
constexpr int kTileRows = kWarps * kRowsPerWarp;  // query rows per tile block
constexpr int kTileKeys = 32;                     // one key per lane
constexpr int kMaxCols = kAttnMaxHeadDim / 32;    // output columns per lane (tile kernel)

// NaN-propagating (fmaxf would drop a NaN score; the CPU's block max keeps it: the row becomes NaN).
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = (v != v || o != o) ? v + o : fmaxf(v, o);
  }
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Loads element chunk `chunk` (E consecutive elements) of `row` as float32: one 16-byte load
// when E > 1 (caller guarantees alignment), a scalar load when E == 1.
template <class T, int E>
__device__ __forceinline__ void load_chunk(const T* row, int64_t chunk, float (&out)[E]) {
  if constexpr (E == 1) {
    out[0] = to_float(row[chunk]);
  } else {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(row) + chunk);
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int k = 0; k < E; ++k) out[k] = to_float(e[k]);
  }
}

// This lane's chunks c * 32 + lane (c < C) of a row as float32; zeros past the row's nchunk chunks.
template <class T, int E, int C>
__device__ __forceinline__ void load_lane_slice(const T* row, int64_t nchunk, int lane, float (&out)[C][E]) {
#pragma unroll
  for (int c = 0; c < C; ++c) {
#pragma unroll
    for (int e = 0; e < E; ++e) out[c][e] = 0.0f;
    if (c * 32 + lane < nchunk) load_chunk<T, E>(row, c * 32 + lane, out[c]);
  }
}

// Copies n rows of d elements (contiguous, stride d) into shared memory as float32 with row
// stride `ld`, the whole block cooperating.
template <class T, int E>
__device__ __forceinline__ void stage_rows(const T* src, int n, int d, float* dst, int ld) {
  const int chunks = n * d / E;
  for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
    float f[E];
    load_chunk<T, E>(src, c, f);
#pragma unroll
    for (int k = 0; k < E; ++k) {
      const int flat = c * E + k;
      dst[(flat / d) * ld + flat % d] = f[k];
    }
  }
}

// ---- tile kernel (prefill) --------------------------------------------------------------------

template <class T, int E>
__global__ void __launch_bounds__(kThreads)
    attention_masked_tile_kernel(AttentionMaskedArgs a, int64_t tiles) {
  MMPREF_DYNAMIC_SHARED(float, smem);
  const int d = int(a.head_dim);
  const int kld = d | 1;  // odd row stride: lanes reading different keys hit different banks
  float* q_s = smem;                     // [kTileRows][d]
  float* k_s = q_s + kTileRows * d;      // [kTileKeys][kld]
  float* v_s = k_s + kTileKeys * kld;    // [kTileKeys][d]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t groups = a.q_heads / a.kv_heads;
  const T* q = static_cast<const T*>(a.q);

  for (int64_t unit = blockIdx.x; unit < a.batch * a.q_heads * tiles; unit += gridDim.x) {
    const int64_t tile = unit % tiles, bh = unit / tiles;
    const int64_t b = bh / a.q_heads, h = bh % a.q_heads, hk = h / groups;
    const int64_t i0 = tile * kTileRows;
    const int rows_here = int(a.q_len - i0 < kTileRows ? a.q_len - i0 : kTileRows);
    const T* kbase = static_cast<const T*>(a.k) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
    const T* vbase = static_cast<const T*>(a.v) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
    const uint8_t* mask = a.key_mask ? a.key_mask + b * a.mask_len : nullptr;

    // 1. the tile's queries, scaled, as float32 (missing rows are zeros and never used)
    stage_rows<T, E>(q + (bh * a.q_len + i0) * d, rows_here, d, q_s, d);
    __syncthreads();
    for (int x = threadIdx.x; x < kTileRows * d; x += blockDim.x)
      q_s[x] = x < rows_here * d ? q_s[x] * a.scale : 0.0f;

    float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kMaxCols];
    int64_t last[kRowsPerWarp];
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp * kRowsPerWarp + rr;
      m[rr] = -kInf;
      l[rr] = 0.0f;
      last[rr] = r < rows_here ? attn_last_key(a, i0 + r) : -1;
#pragma unroll
      for (int c = 0; c < kMaxCols; ++c) acc[rr][c] = 0.0f;
    }
    // keys no row of the tile can see are never loaded (causal: the last row sees the most)
    const int64_t k_end = attn_last_key(a, i0 + rows_here - 1) + 1;

    for (int64_t j0 = 0; j0 < k_end; j0 += kTileKeys) {
      const int n = int(k_end - j0 < kTileKeys ? k_end - j0 : kTileKeys);
      __syncthreads();  // previous tile fully consumed (and q_s scaled, on the first pass)
      stage_rows<T, E>(kbase + j0 * d, n, d, k_s, kld);
      stage_rows<T, E>(vbase + j0 * d, n, d, v_s, d);
      __syncthreads();
      const int64_t j = j0 + lane;
      const bool key_ok = lane < n && (!mask || mask[j]);
#pragma unroll
      for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        if (last[rr] < j0) continue;  // warp-uniform: the row is absent or sees none of these keys
        const float* qr = q_s + (warp * kRowsPerWarp + rr) * d;
        // 2. score of key `lane` for this row
        float s = -kInf;
        if (key_ok && j <= last[rr]) {
          const float* kr = k_s + lane * kld;
          float dot = 0.0f;
          for (int t = 0; t < d; ++t) dot += qr[t] * kr[t];
          s = dot;
        }
        const float mb = warp_max(s);
        if (mb == -kInf) continue;
        // 3. online softmax update
        const float m_new = mb != mb ? mb : fmaxf(m[rr], mb);  // a NaN block max poisons the row, as on the CPU
        const float corr = attn_rescale(m[rr], m_new);
        const float p = exp_nonpos(s - m_new);  // 0 for masked keys (s = -inf)
        l[rr] = l[rr] * corr + warp_sum(p);
        m[rr] = m_new;
#pragma unroll
        for (int c = 0; c < kMaxCols; ++c) acc[rr][c] *= corr;
        for (int jj = 0; jj < n; ++jj) {
          const float pj = __shfl_sync(0xffffffffu, p, jj);
          if (pj == 0.0f) continue;  // warp-uniform
          const float* vr = v_s + jj * d;
#pragma unroll
          for (int c = 0; c < kMaxCols; ++c) {
            const int t = c * 32 + lane;
            if (t < d) acc[rr][c] += pj * vr[t];
          }
        }
      }
    }
    // 4. normalise and store
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp * kRowsPerWarp + rr;
      if (r >= rows_here) continue;
      const int64_t row = bh * a.q_len + i0 + r;
      const AttnRowState st{m[rr], l[rr]};
      const float inv = attn_inv_l(st);
      T* o = static_cast<T*>(a.out) + row * d;
#pragma unroll
      for (int c = 0; c < kMaxCols; ++c) {
        const int t = c * 32 + lane;
        if (t < d) o[t] = from_float<T>(acc[rr][c] * inv);
      }
      if (a.lse && lane == 0) a.lse[row] = attn_lse(st);
    }
    __syncthreads();  // q_s is rewritten by the next unit
  }
}

// ---- split kernels (decode) -------------------------------------------------------------------

// Partial of (row, split) at part + (row * splits + split) * (d + 2): m, l, acc[d].
template <class T, int E>
__global__ void __launch_bounds__(kThreads)
    attention_masked_split_kernel(AttentionMaskedArgs a, int64_t splits, float* __restrict__ part) {
  constexpr int C = (kAttnMaxHeadDim / 32 + E - 1) / E;  // chunks per lane (E * C >= 8)
  MMPREF_SHARED(float, w_m, [kWarps]);
  MMPREF_SHARED(float, w_l, [kWarps]);
  MMPREF_SHARED(float, w_acc, [kWarps][kAttnMaxHeadDim]);
  const int d = int(a.head_dim);
  const int64_t nchunk = d / E;  // E divides d on the vector path; E = 1 otherwise
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t groups = a.q_heads / a.kv_heads;

  for (int64_t unit = blockIdx.x; unit < a.batch * a.q_heads * a.q_len * splits; unit += gridDim.x) {
    const int64_t sp = unit % splits, row = unit / splits;
    const int64_t i = row % a.q_len, bh = row / a.q_len;
    const int64_t b = bh / a.q_heads, hk = (bh % a.q_heads) / groups;
    const T* kbase = static_cast<const T*>(a.k) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
    const T* vbase = static_cast<const T*>(a.v) + (b * a.kv_heads + hk) * a.kv_buf_len * d;
    const uint8_t* mask = a.key_mask ? a.key_mask + b * a.mask_len : nullptr;

    // 1. this lane's slice of the scaled query
    float qv[C][E], acc[C][E];
    load_lane_slice<T, E, C>(static_cast<const T*>(a.q) + row * d, nchunk, lane, qv);
#pragma unroll
    for (int c = 0; c < C; ++c)
#pragma unroll
      for (int e = 0; e < E; ++e) {
        qv[c][e] *= a.scale;
        acc[c][e] = 0.0f;
      }
    const int64_t k_begin = sp * kAttnCudaSplitKeys;
    int64_t k_end = attn_last_key(a, i) + 1;
    if (k_end > k_begin + kAttnCudaSplitKeys) k_end = k_begin + kAttnCudaSplitKeys;

    // 2. this warp's keys: k_begin + warp, + kWarps, ...
    float m = -kInf, l = 0.0f;
    for (int64_t j = k_begin + warp; j < k_end; j += kWarps) {
      if (mask && !mask[j]) continue;  // warp-uniform
      // K and V rows are loaded together so both requests are in flight at once
      float kf[C][E], vf[C][E];
      load_lane_slice<T, E, C>(kbase + j * d, nchunk, lane, kf);
      load_lane_slice<T, E, C>(vbase + j * d, nchunk, lane, vf);
      float dot = 0.0f;
#pragma unroll
      for (int c = 0; c < C; ++c)
#pragma unroll
        for (int e = 0; e < E; ++e) dot += qv[c][e] * kf[c][e];
      const float s = warp_sum(dot);
      // a -inf score (infinite q or k) weighs 0, as a masked key (CPU, tile kernel); folded in as the
      // warp's first key it would give exp(-inf - -inf) = NaN
      if (s == -kInf) continue;  // warp-uniform
      const float m_new = fmaxf(m, s);
      const float corr = attn_rescale(m, m_new);
      const float p = exp_nonpos(s - m_new);
      l = l * corr + p;
      m = m_new;
#pragma unroll
      for (int c = 0; c < C; ++c)
#pragma unroll
        for (int e = 0; e < E; ++e) acc[c][e] = acc[c][e] * corr + p * vf[c][e];
    }

    // 3. merge the warps in order 0..kWarps-1 and write the split's partial
    if (lane == 0) {
      w_m[warp] = m;
      w_l[warp] = l;
    }
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int64_t ch = c * 32 + lane;
      if (ch < nchunk)
#pragma unroll
        for (int e = 0; e < E; ++e) w_acc[warp][ch * E + e] = acc[c][e];
    }
    __syncthreads();
    float mm = -kInf;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mm = fmaxf(mm, w_m[w]);
    float* out = part + unit * (d + 2);
    for (int t = threadIdx.x; t < d; t += blockDim.x) {
      float x = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) x += w_acc[w][t] * attn_rescale(w_m[w], mm);
      out[2 + t] = x;
    }
    if (threadIdx.x == 0) {
      float ll = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) ll += w_l[w] * attn_rescale(w_m[w], mm);
      out[0] = mm;
      out[1] = ll;
    }
    __syncthreads();  // w_* are rewritten by the next unit
  }
}

// One warp per query row: combines the row's split partials in split order.
template <class T>
__global__ void attention_masked_merge_kernel(AttentionMaskedArgs a, int64_t splits,
                                              const float* __restrict__ part) {
  const int lane = threadIdx.x & 31;
  const int64_t d = a.head_dim, rows = a.batch * a.q_heads * a.q_len;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; row < rows; row += warps) {
    const float* p = part + row * splits * (d + 2);
    float mm = -kInf;
    for (int64_t s = 0; s < splits; ++s) mm = fmaxf(mm, p[s * (d + 2)]);
    float ll = 0.0f;
    for (int64_t s = 0; s < splits; ++s) ll += p[s * (d + 2) + 1] * attn_rescale(p[s * (d + 2)], mm);
    const AttnRowState st{mm, ll};
    const float inv = attn_inv_l(st);
    T* o = static_cast<T*>(a.out) + row * d;
    for (int64_t t = lane; t < d; t += 32) {
      float x = 0.0f;
      for (int64_t s = 0; s < splits; ++s) x += p[s * (d + 2) + 2 + t] * attn_rescale(p[s * (d + 2)], mm);
      o[t] = from_float<T>(x * inv);
    }
    if (a.lse && lane == 0) a.lse[row] = attn_lse(st);
  }
}

template <class T, int E>
Status launch(const AttentionMaskedArgs& a) {
  const int64_t rows = a.batch * a.q_heads * a.q_len;
  if (a.q_len <= kAttnSplitMaxQueries) {
    const int64_t splits = a.kv_len > 0 ? ceil_div(a.kv_len, kAttnCudaSplitKeys) : 1;
    cuda::DeviceScratch part;
    MMPREF_RETURN_IF_ERROR(part.alloc_n<float>(rows * splits * (a.head_dim + 2), "attention.masked"));
    cuda::launch(MMPREF_KERNEL(attention_masked_split_kernel<T, E>), cuda::grid_for(rows * splits, 1), kThreads, 0, cuda::op_stream())(a, splits, part.get<float>());
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), "attention.masked"));
    cuda::launch(MMPREF_KERNEL(attention_masked_merge_kernel<T>), cuda::grid_for(rows, kThreads / 32), kThreads, 0, cuda::op_stream())(a, splits, part.get<float>());
    return cuda::check_launch_and_sync("attention.masked");
  }
  const int64_t tiles = ceil_div(a.q_len, kTileRows);
  const int d = int(a.head_dim);
  const size_t smem = size_t(kTileRows * d + kTileKeys * (d | 1) + kTileKeys * d) * sizeof(float);
  if (smem > 48 * 1024)
    MMPREF_RETURN_IF_ERROR(cuda::status_from(
        cudaFuncSetAttribute(attention_masked_tile_kernel<T, E>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             int(smem)),
        "attention.masked"));
  cuda::launch(MMPREF_KERNEL(attention_masked_tile_kernel<T, E>), cuda::grid_for(a.batch * a.q_heads * tiles, 1), kThreads, smem, cuda::op_stream())(a, tiles);
  return cuda::check_launch_and_sync("attention.masked");
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <class T>
Status launch_typed(const AttentionMaskedArgs& a) {
  constexpr int kVec = 16 / sizeof(T);
  // 16-byte loads need rows that start on 16-byte boundaries: d * sizeof(T) a multiple of 16
  // and 16-byte aligned bases (cudaMalloc gives 256).
  const bool vec = (a.head_dim * int64_t(sizeof(T))) % 16 == 0 && aligned16(a.q) && aligned16(a.k) &&
                   aligned16(a.v);
  return vec ? launch<T, kVec>(a) : launch<T, 1>(a);
}

}  // namespace

Status attention_masked_cuda(const AttentionMaskedArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.batch * a.q_heads * a.q_len == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "attention.masked", { return launch_typed<T>(a); });
}

}  // namespace mmpref
