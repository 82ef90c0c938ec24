// CUDA "NT" GEMM shared by linear and similarity.cosine (the CPU twin is cpp/ops/gemm_nt.h):
//
//   C[m, n] = sum_k X[m, k] * W[n, k]     X [M, K], W [N, K] row-major, float32 accumulation
//
// and an epilogue functor epi(m, n, c) that stores each finished sum. Two kernels:
// - tiled (M > 8): 64x64 output tiles, K in slices of 16 staged through shared memory as
//   float32, 256 threads each owning a 4x4 sub-tile; a 1-D grid-stride loop over tiles;
// - gemv (M <= 8, decode): a warp per output n reads W's row once with 16-byte loads and
//   accumulates all M rows of X (cached), then a warp shuffle reduction.
// Both fall back to scalar loads when K or the base pointers are not 16-byte aligned.
// NB: int64 indexing throughout; summation order is fixed (results are reproducible run to run).
#pragma once

#include <cstdint>

#include "common.cuh"

namespace mmpref::cuda {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kTileThreads = 256;
constexpr int kGemvRows = 8, kGemvThreads = 256;

// Four consecutive elements of row `row` starting at column `col` as float (zeros outside).
template <class T>
__device__ __forceinline__ void load4(const T* __restrict__ p, int64_t rows, int64_t cols, int64_t row,
                                      int64_t col, bool vec, float v[4]) {
  // col % 4 == 0 and cols % 4 == 0: col < cols implies col + 3 < cols. The tail slice of K (cols % 16 != 0)
  // has loader columns col >= cols, which must read zeros, not the next row.
  if (row < rows && col < cols && vec) {
    const T* q = p + row * cols + col;
    if constexpr (sizeof(T) == 4) {
      const float4 f = __ldg(reinterpret_cast<const float4*>(q));
      v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
    } else {
      const uint2 raw = __ldg(reinterpret_cast<const uint2*>(q));
      const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int i = 0; i < 4; ++i) v[i] = to_float(e[i]);
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) v[i] = (row < rows && col + i < cols) ? to_float(p[row * cols + col + i]) : 0.0f;
}

template <class T, class Epi>
__global__ void __launch_bounds__(kTileThreads)
    gemm_nt_tiled_kernel(const T* __restrict__ x, const T* __restrict__ w, int64_t M, int64_t N, int64_t K,
                         Epi epi, bool vec) {
  MMPREF_SHARED(float, xs, [kTileK][kTileM + 4]);  // transposed slices: xs[k][m], ws[k][n]
  MMPREF_SHARED(float, ws, [kTileK][kTileN + 4]);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int lr = threadIdx.x / 4, lk = (threadIdx.x % 4) * 4;  // loader: row lr, columns lk..lk+3
  const int64_t tiles_n = (N + kTileN - 1) / kTileN;
  const int64_t tiles = ((M + kTileM - 1) / kTileM) * tiles_n;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t m0 = (t / tiles_n) * kTileM, n0 = (t % tiles_n) * kTileN;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
      float v[4];
      load4(x, M, K, m0 + lr, k0 + lk, vec, v);
#pragma unroll
      for (int i = 0; i < 4; ++i) xs[lk + i][lr] = v[i];
      load4(w, N, K, n0 + lr, k0 + lk, vec, v);
#pragma unroll
      for (int i = 0; i < 4; ++i) ws[lk + i][lr] = v[i];
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kTileK; ++kk) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = xs[kk][ty + 16 * i], b[i] = ws[kk][tx + 16 * i];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
        if (m < M && n < N) epi(m, n, acc[i][j]);
      }
  }
}

template <class T, class Epi>
__global__ void __launch_bounds__(kGemvThreads)
    gemm_nt_gemv_kernel(const T* __restrict__ x, const T* __restrict__ w, int64_t M, int64_t N, int64_t K,
                        Epi epi, bool vec) {
  constexpr int kVec = 16 / sizeof(T);
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (kGemvThreads / 32);
  for (int64_t n = int64_t(blockIdx.x) * (kGemvThreads / 32) + threadIdx.x / 32; n < N; n += warps) {
    float acc[kGemvRows] = {};
    const T* wr = w + n * K;
    if (vec) {  // K % kVec == 0 and 16-byte aligned bases: every row starts aligned
      for (int64_t i = lane; i < K / kVec; i += 32) {
        const uint4 wraw = __ldg(reinterpret_cast<const uint4*>(wr) + i);
        const T* we = reinterpret_cast<const T*>(&wraw);
#pragma unroll
        for (int r = 0; r < kGemvRows; ++r) {
          if (r >= M) break;
          const uint4 xraw = __ldg(reinterpret_cast<const uint4*>(x + r * K) + i);
          const T* xe = reinterpret_cast<const T*>(&xraw);
#pragma unroll
          for (int e = 0; e < kVec; ++e) acc[r] = fmaf(to_float(xe[e]), to_float(we[e]), acc[r]);
        }
      }
    } else {
      for (int64_t k = lane; k < K; k += 32) {
        const float wv = to_float(wr[k]);
#pragma unroll
        for (int r = 0; r < kGemvRows; ++r) {
          if (r >= M) break;
          acc[r] = fmaf(to_float(x[r * K + k]), wv, acc[r]);
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kGemvRows; ++r) {
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], off);
      if (lane == 0 && r < M) epi(int64_t(r), n, acc[r]);
    }
  }
}

// Launches C = X W^T with epilogue `epi` on op_stream() and waits for it.
template <class T, class Epi>
Status gemm_nt_cuda(const T* x, const T* w, int64_t M, int64_t N, int64_t K, Epi epi, const char* op) {
  if (M <= 0 || N <= 0) return Status::Ok();
  const auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (M <= kGemvRows) {
    const bool vec = K % (16 / int64_t(sizeof(T))) == 0 && aligned16(x) && aligned16(w);
    launch(MMPREF_KERNEL(gemm_nt_gemv_kernel<T, Epi>), grid_for(N, kGemvThreads / 32), kGemvThreads, 0, op_stream())(x, w, M, N, K,
                                                                                                    epi, vec);
  } else {
    const bool vec = K % 4 == 0 && reinterpret_cast<uintptr_t>(x) % (4 * sizeof(T)) == 0 &&
                     reinterpret_cast<uintptr_t>(w) % (4 * sizeof(T)) == 0;
    const int64_t tiles = ((M + kTileM - 1) / kTileM) * ((N + kTileN - 1) / kTileN);
    launch(MMPREF_KERNEL(gemm_nt_tiled_kernel<T, Epi>), grid_for(tiles, 1), kTileThreads, 0, op_stream())(x, w, M, N, K, epi, vec);
  }
  return check_launch_and_sync(op);
}

}  // namespace mmpref::cuda
