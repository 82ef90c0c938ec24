// CPU "NT" GEMM shared by linear and similarity.cosine:
//
//   C[m, n] = sum_k X[m, k] * W[n, k]        X [M, K], W [N, K], both row-major (K contiguous)
//
// which is x W^T for an nn.Linear weight W [out, in], and a · b^T for two embedding matrices.
// Any float storage type in, float32 accumulation, and a caller-supplied epilogue that turns a
// block of float32 sums into outputs (bias + cast for linear, division by norms for cosine).
//
// Blocking: work items are (kGemmMB rows) x (kGemmNB outputs) blocks of C, run in parallel; an
// item walks K in kGemmKB slices, packs the X and W slices into zero-padded float32 panels (which
// also converts float16/bfloat16 once) and multiplies them with a 4x4 register tile of
// kGemmLanes-wide lane accumulators (gemm_nt_block, multi-versioned for AVX-512/AVX2/baseline).
// NB: every C[m, n] is summed inside one work item in a fixed order (lanes, then K slices), so the
// result does not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/half.h"
#include "../core/hd.h"
#include "../core/thread_pool.h"

namespace mmpref {

constexpr int kGemmLanes = 16;  // lane accumulators per dot product: one AVX-512 vector (core/lanes.h)
constexpr int kGemmMB = 32;     // rows of X per work item
constexpr int kGemmNB = 64;     // rows of W (outputs) per work item
constexpr int kGemmKB = 512;    // K slice packed at a time (panels stay in L2)
constexpr int kGemmSmallM = 8;  // M <= this: W is read in place, X packed once (decode shapes)

// C[r, c] += sum_k X[r, k] * W[c, k] for r < mb, c < nb_pad, over packed float32 panels with row
// strides kb_pad: kb_pad % kGemmLanes == 0 and nb_pad % 4 == 0 (padding is zeros).
void gemm_nt_block(const float* X, const float* W, float* C, int mb, int nb_pad, int kb_pad, int ldc);

// Packs rows [0, rows) x cols [0, cols) of src (row stride ld) into dst [rows_pad, cols_pad]
// float32, zero-filling the padding.
void gemm_pack(const float* src, int64_t ld, int rows, int rows_pad, int64_t cols, int64_t cols_pad, float* dst);
void gemm_pack(const half_t* src, int64_t ld, int rows, int rows_pad, int64_t cols, int64_t cols_pad, float* dst);
void gemm_pack(const bfloat16_t* src, int64_t ld, int rows, int rows_pad, int64_t cols, int64_t cols_pad,
               float* dst);

// Small-M block: out[r * kGemmNB + c] = X[r, :] . W[c, :] for r < m (<= kGemmSmallM), c < nb (<= kGemmNB),
// X packed float32 [m, kpad] (zero-padded), W read in place with row stride K.
void gemm_small_block(const float* X, int m, int64_t kpad, const float* W, int64_t K, int nb, float* out);
void gemm_small_block(const float* X, int m, int64_t kpad, const half_t* W, int64_t K, int nb, float* out);
void gemm_small_block(const float* X, int m, int64_t kpad, const bfloat16_t* W, int64_t K, int nb, float* out);

// Runs C = X W^T block by block; epi(m0, n0, rows, cols, C, ldc) receives each finished block of
// float32 sums (C[r * ldc + c] for output [m0 + r, n0 + c]) on the thread that computed it.
template <class T, class Epi>
void gemm_nt_cpu(const T* x, const T* w, int64_t M, int64_t N, int64_t K, const Epi& epi) {
  if (M <= 0 || N <= 0) return;
  const int64_t nblocks = ceil_div(N, kGemmNB);
  if (M <= kGemmSmallM) {
    // decode shapes: memory-bound on W, which is streamed once; X is packed once for all items
    const int64_t kpad = ceil_div(std::max<int64_t>(K, 1), kGemmLanes) * kGemmLanes;
    std::vector<float> xp(size_t(M * kpad));
    gemm_pack(x, K, int(M), int(M), K, kpad, xp.data());
    parallel_for(nblocks, 1, [&](int64_t i0, int64_t i1) {
      std::vector<float> c(size_t(kGemmSmallM) * kGemmNB);
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t n0 = i * kGemmNB;
        const int nb = int(std::min<int64_t>(kGemmNB, N - n0));
        gemm_small_block(xp.data(), int(M), kpad, w + n0 * K, K, nb, c.data());
        epi(int64_t(0), n0, int(M), nb, static_cast<const float*>(c.data()), kGemmNB);
      }
    });
    return;
  }
  const int64_t mblocks = ceil_div(M, kGemmMB);
  const int kb_full = int(std::min<int64_t>(kGemmKB, ceil_div(std::max<int64_t>(K, 1), kGemmLanes) * kGemmLanes));
  parallel_for(mblocks * nblocks, 1, [&](int64_t i0, int64_t i1) {
    std::vector<float> xp(size_t(kGemmMB) * kb_full), wp(size_t(kGemmNB) * kb_full), c(size_t(kGemmMB) * kGemmNB);
    for (int64_t i = i0; i < i1; ++i) {
      // n fastest: consecutive items of a chunk reuse the same rows of X from cache
      const int64_t m0 = (i / nblocks) * kGemmMB, n0 = (i % nblocks) * kGemmNB;
      const int mb = int(std::min<int64_t>(kGemmMB, M - m0));
      const int nb = int(std::min<int64_t>(kGemmNB, N - n0));
      const int nb_pad = (nb + 3) & ~3;
      std::fill(c.begin(), c.end(), 0.0f);
      for (int64_t k0 = 0; k0 < K; k0 += kGemmKB) {
        const int kb = int(std::min<int64_t>(kGemmKB, K - k0));
        const int kb_pad = (kb + kGemmLanes - 1) / kGemmLanes * kGemmLanes;
        gemm_pack(x + m0 * K + k0, K, mb, mb, kb, kb_pad, xp.data());
        gemm_pack(w + n0 * K + k0, K, nb, nb_pad, kb, kb_pad, wp.data());
        gemm_nt_block(xp.data(), wp.data(), c.data(), mb, nb_pad, kb_pad, kGemmNB);
      }
      epi(m0, n0, mb, nb, static_cast<const float*>(c.data()), kGemmNB);
    }
  });
}

}  // namespace mmpref
