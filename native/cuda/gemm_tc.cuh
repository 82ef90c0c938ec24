// CUDA GEMM core (the CPU twin is cpp/ops/gemm.h; same GemmArgs contract):
//
//   C[m, n] (+)= sum_k op(A)[m, k] * op(B)[k, n] (+ bias[n])   layouts NT / NN / TN via trans_a, trans_b
//
// Two kernels over 64x64 tiles of C with K in slices of 32 staged through shared memory:
// - tensor cores (bfloat16 / float16 inputs, sm_80+): nvcuda::wmma 16x16x16 fragments, 4 warps
//   each owning a 32x32 quarter (2x2 fragments), float32 accumulators; the finished tile goes
//   through shared memory to the epilogue;
// - SIMT (float32 inputs): 256 threads each owning a 4x4 sub-tile, fmaf in float32.
// Epilogue (both): v = sum (+ C[m, n] if accumulate) (+ bias[n]), rounded once to the output dtype.
// NB: loads go element by element through op(A)/op(B) index math (any layout, no alignment
// needs), int64 offsets; each C element is summed in a fixed order (reproducible run to run).
// Emulation build (native/cuda/emu): both kernels run; emu/mma.h emulates the wmma subset used here
// (float32 sums in a fixed order, which tensor cores do not specify: see the tolerances in
// test/gpu/gemm.gpu.ts).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cstdint>

#include "../cpp/ops/gemm.h"
#include "common.cuh"

namespace mmpref::cuda {

constexpr int kGemmBM = 64, kGemmBN = 64, kGemmBK = 32;
constexpr int kGemmTcThreads = 128, kGemmSimtThreads = 256;

struct GemmDims {
  int64_t m, n, k, lda, ldb, ldc;
  bool trans_a, trans_b, accumulate;
};

template <class T>
__device__ __forceinline__ T gemm_load_a(const T* a, const GemmDims& d, int64_t i, int64_t k) {
  return d.trans_a ? a[k * d.lda + i] : a[i * d.lda + k];
}
template <class T>
__device__ __forceinline__ T gemm_load_b(const T* b, const GemmDims& d, int64_t k, int64_t j) {
  return d.trans_b ? b[j * d.ldb + k] : b[k * d.ldb + j];
}

// One finished sum v of C[i, j]: accumulate, bias, round once.
template <class T, class O>
__device__ __forceinline__ void gemm_store(O* c, const void* bias, bool bias_f32, const GemmDims& d, int64_t i,
                                           int64_t j, float v) {
  if (d.accumulate) v += to_float(c[i * d.ldc + j]);
  if (bias) v += bias_f32 ? static_cast<const float*>(bias)[j] : to_float(static_cast<const T*>(bias)[j]);
  c[i * d.ldc + j] = from_float<O>(v);
}

// Storage type -> the type wmma fragments take (same bits).
template <class T>
struct WmmaType;
template <>
struct WmmaType<half_t> {
  using type = __half;
};
template <>
struct WmmaType<bfloat16_t> {
  using type = __nv_bfloat16;
};

// The tensor-core kernel's shared memory: wmma needs 32-byte aligned tile pointers. Padding
// (+8 / +4 elements) keeps every 16-row step 32-byte aligned and spreads banks.
template <class W>
struct alignas(32) GemmTcSmem {
  W as[kGemmBM][kGemmBK + 8];
  W bs[kGemmBK][kGemmBN + 8];
  float cs[kGemmBM][kGemmBN + 4];
};

template <class T, class O>
__global__ void __launch_bounds__(kGemmTcThreads)
    gemm_tc_kernel(const T* __restrict__ a, const T* __restrict__ b, O* c, const void* bias, bool bias_f32,
                   GemmDims d) {
  using W = typename WmmaType<T>::type;
  namespace wmma = nvcuda::wmma;
  MMPREF_SHARED(GemmTcSmem<W>, sm, );
  auto& as = sm.as;
  auto& bs = sm.bs;
  auto& cs = sm.cs;
  const int warp = threadIdx.x / 32, wm = (warp / 2) * 32, wn = (warp % 2) * 32;
  const int64_t tiles_n = (d.n + kGemmBN - 1) / kGemmBN;
  const int64_t tiles = ((d.m + kGemmBM - 1) / kGemmBM) * tiles_n;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t m0 = (t / tiles_n) * kGemmBM, n0 = (t % tiles_n) * kGemmBN;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
    for (int64_t k0 = 0; k0 < d.k; k0 += kGemmBK) {
      // 1. stage op(A)[m0.., k0..] and op(B)[k0.., n0..] (zeros outside)
      for (int e = threadIdx.x; e < kGemmBM * kGemmBK; e += kGemmTcThreads) {
        const int r = e / kGemmBK, kk = e % kGemmBK;
        const int64_t i = m0 + r, k = k0 + kk;
        const T v = (i < d.m && k < d.k) ? gemm_load_a(a, d, i, k) : T{0};
        as[r][kk] = *reinterpret_cast<const W*>(&v);
      }
      for (int e = threadIdx.x; e < kGemmBK * kGemmBN; e += kGemmTcThreads) {
        const int kk = e / kGemmBN, cl = e % kGemmBN;
        const int64_t k = k0 + kk, j = n0 + cl;
        const T v = (k < d.k && j < d.n) ? gemm_load_b(b, d, k, j) : T{0};
        bs[kk][cl] = *reinterpret_cast<const W*>(&v);
      }
      __syncthreads();
      // 2. tensor-core products of the slice
#pragma unroll
      for (int kk = 0; kk < kGemmBK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, W, wmma::row_major> fa[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, W, wmma::row_major> fb[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], &as[wm + 16 * i][kk], kGemmBK + 8);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], &bs[kk][wn + 16 * j], kGemmBN + 8);
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
      }
      __syncthreads();
    }
    // 3. tile to shared memory, then the epilogue element by element
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j)
        wmma::store_matrix_sync(&cs[wm + 16 * i][wn + 16 * j], acc[i][j], kGemmBN + 4, wmma::mem_row_major);
    __syncthreads();
    for (int e = threadIdx.x; e < kGemmBM * kGemmBN; e += kGemmTcThreads) {
      const int r = e / kGemmBN, cl = e % kGemmBN;
      if (m0 + r < d.m && n0 + cl < d.n) gemm_store<T, O>(c, bias, bias_f32, d, m0 + r, n0 + cl, cs[r][cl]);
    }
    __syncthreads();
  }
}

template <class T, class O>
__global__ void __launch_bounds__(kGemmSimtThreads)
    gemm_simt_kernel(const T* __restrict__ a, const T* __restrict__ b, O* c, const void* bias, bool bias_f32,
                     GemmDims d) {
  MMPREF_SHARED(float, as, [kGemmBK][kGemmBM + 4]);  // as[k][m], bs[k][n]
  MMPREF_SHARED(float, bs, [kGemmBK][kGemmBN + 4]);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t tiles_n = (d.n + kGemmBN - 1) / kGemmBN;
  const int64_t tiles = ((d.m + kGemmBM - 1) / kGemmBM) * tiles_n;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t m0 = (t / tiles_n) * kGemmBM, n0 = (t % tiles_n) * kGemmBN;
    float acc[4][4] = {};
    for (int64_t k0 = 0; k0 < d.k; k0 += kGemmBK) {
      for (int e = threadIdx.x; e < kGemmBM * kGemmBK; e += kGemmSimtThreads) {
        const int r = e % kGemmBM, kk = e / kGemmBM;
        const int64_t i = m0 + r, k = k0 + kk;
        as[kk][r] = (i < d.m && k < d.k) ? to_float(gemm_load_a(a, d, i, k)) : 0.0f;
      }
      for (int e = threadIdx.x; e < kGemmBK * kGemmBN; e += kGemmSimtThreads) {
        const int kk = e / kGemmBN, cl = e % kGemmBN;
        const int64_t k = k0 + kk, j = n0 + cl;
        bs[kk][cl] = (k < d.k && j < d.n) ? to_float(gemm_load_b(b, d, k, j)) : 0.0f;
      }
      __syncthreads();
#pragma unroll 8
      for (int kk = 0; kk < kGemmBK; ++kk) {
        float x[4], y[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) x[i] = as[kk][ty + 16 * i], y[i] = bs[kk][tx + 16 * i];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(x[i], y[j], acc[i][j]);
      }
      __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t r = m0 + ty + 16 * i, cl = n0 + tx + 16 * j;
        if (r < d.m && cl < d.n) gemm_store<T, O>(c, bias, bias_f32, d, r, cl, acc[i][j]);
      }
  }
}

// Launchers: run on op_stream() and wait.
template <class T, class O>
Status gemm_tc_launch(const T* a, const T* b, O* c, const void* bias, bool bias_f32, const GemmDims& d) {
  const int64_t tiles = ((d.m + kGemmBM - 1) / kGemmBM) * ((d.n + kGemmBN - 1) / kGemmBN);
  launch(MMPREF_KERNEL(gemm_tc_kernel<T, O>), grid_for(tiles, 1), kGemmTcThreads, 0, op_stream())(a, b, c, bias, bias_f32, d);
  return check_launch_and_sync("gemm (tensor cores)");
}

template <class T, class O>
Status gemm_simt_launch(const T* a, const T* b, O* c, const void* bias, bool bias_f32, const GemmDims& d) {
  const int64_t tiles = ((d.m + kGemmBM - 1) / kGemmBM) * ((d.n + kGemmBN - 1) / kGemmBN);
  launch(MMPREF_KERNEL(gemm_simt_kernel<T, O>), grid_for(tiles, 1), kGemmSimtThreads, 0, op_stream())(a, b, c, bias, bias_f32, d);
  return check_launch_and_sync("gemm");
}

}  // namespace mmpref::cuda
