// CPU GEMM kernels behind gemm_nt_cpu (gemm_nt.h): panel packing, the register-tiled block
// multiply and the small-M (decode) path. The tiles use the lane vectors of core/lanes.h (the
// auto-vectoriser picks the wrong loop of these nests): every clone computes the same bits
// (-ffp-contract=off: no FMA contraction either).
#include "gemm_nt.h"

#include "../core/lanes.h"

#include <cstring>

namespace mmpref {
namespace {

static_assert(kGemmLanes == kLaneWidth, "gemm tiles are one lane vector wide");

// MR rows of packed X (row stride ldx floats) against 4 rows of W (row stride ldw elements),
// over k in [0, kv) with kv % kGemmLanes == 0: acc[r][c] += X[r, k] * W[c, k] lane-wise.
template <int MR, class T>
MMPREF_LANES_INLINE void tile_acc(const float* X, int64_t ldx, const T* const w[4], int64_t kv, lanes_t acc[MR][4]) {
  for (int64_t k = 0; k < kv; k += kGemmLanes) {
    lanes_t wv[4];
    for (int c = 0; c < 4; ++c) load_lanes(w[c] + k, &wv[c]);
    for (int r = 0; r < MR; ++r) {
      lanes_t x;
      load_lanes(X + r * ldx + k, &x);
      for (int c = 0; c < 4; ++c) acc[r][c] += x * wv[c];
    }
  }
}

// One register tile over a packed K slice: C[r, c] += X[r, :] . W[c, :].
template <int MR>
MMPREF_LANES_INLINE void block_tile(const float* X, const float* W, float* C, int kb, int ldc) {
  lanes_t acc[MR][4] = {};
  const float* w[4] = {W, W + kb, W + 2 * kb, W + 3 * kb};
  tile_acc<MR>(X, kb, w, kb, acc);
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < 4; ++c) C[r * ldc + c] += lane_sum(acc[r][c]);
}

template <class T>
MMPREF_CPU_CLONES void pack_rows(const T* src, int64_t ld, int rows, int rows_pad, int64_t cols, int64_t cols_pad,
                                 float* dst) {
  for (int r = 0; r < rows; ++r) {
    const T* s = src + int64_t(r) * ld;
    float* d = dst + int64_t(r) * cols_pad;
    for (int64_t k = 0; k < cols; ++k) d[k] = to_float(s[k]);
    for (int64_t k = cols; k < cols_pad; ++k) d[k] = 0.0f;
  }
  for (int r = rows; r < rows_pad; ++r) std::memset(dst + int64_t(r) * cols_pad, 0, sizeof(float) * cols_pad);
}

// Small-M path, one tile: MR rows of packed X (stride kpad) against the 4 W rows w[] read in place
// (row stride K); out[r * kGemmNB + c] for c < nc. The K tail (K % kGemmLanes) goes through a
// zero-padded copy.
template <int MR, class T>
MMPREF_LANES_INLINE void small_tile(const float* X, int64_t kpad, const T* const w[4], int64_t K, int nc, float* out) {
  const int64_t kv = K / kGemmLanes * kGemmLanes;
  lanes_t acc[MR][4] = {};
  tile_acc<MR>(X, kpad, w, kv, acc);
  if (kv < K) {
    alignas(64) float tail[4][kGemmLanes] = {};
    const float* tw[4];
    for (int c = 0; c < 4; ++c) {
      for (int64_t k = kv; k < K; ++k) tail[c][k - kv] = to_float(w[c][k]);
      tw[c] = tail[c];
    }
    tile_acc<MR>(X + kv, kpad, tw, kGemmLanes, acc);
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < nc; ++c) out[r * kGemmNB + c] = lane_sum(acc[r][c]);
}

// Small-M block: every group of 4 W rows is read from memory once and multiplied with the rows of
// X in chunks of at most 4 (later chunks find the group in L1).
template <class T>
MMPREF_CPU_CLONES void small_block(const float* X, int m, int64_t kpad, const T* W, int64_t K, int nb, float* out) {
  for (int c0 = 0; c0 < nb; c0 += 4) {
    const int nc = nb - c0 < 4 ? nb - c0 : 4;
    const T* w[4];
    for (int c = 0; c < 4; ++c) w[c] = W + int64_t(c < nc ? c0 + c : c0) * K;  // past nb: reuse, dropped
    for (int r0 = 0; r0 < m; r0 += 4) {
      const float* x = X + r0 * kpad;
      float* o = out + r0 * kGemmNB + c0;
      switch (m - r0 < 4 ? m - r0 : 4) {
        case 1: small_tile<1>(x, kpad, w, K, nc, o); break;
        case 2: small_tile<2>(x, kpad, w, K, nc, o); break;
        case 3: small_tile<3>(x, kpad, w, K, nc, o); break;
        default: small_tile<4>(x, kpad, w, K, nc, o); break;
      }
    }
  }
}

}  // namespace

MMPREF_CPU_CLONES void gemm_nt_block(const float* X, const float* W, float* C, int mb, int nb_pad, int kb_pad,
                                     int ldc) {
  int r = 0;
  for (; r + 4 <= mb; r += 4)
    for (int c = 0; c < nb_pad; c += 4) block_tile<4>(X + r * kb_pad, W + c * kb_pad, C + r * ldc + c, kb_pad, ldc);
  const int rest = mb - r;
  for (int c = 0; c < nb_pad && rest; c += 4) {
    const float* x = X + r * kb_pad;
    const float* w = W + c * kb_pad;
    float* out = C + r * ldc + c;
    if (rest == 1) block_tile<1>(x, w, out, kb_pad, ldc);
    else if (rest == 2) block_tile<2>(x, w, out, kb_pad, ldc);
    else block_tile<3>(x, w, out, kb_pad, ldc);
  }
}

#define MMPREF_GEMM_TYPE(T)                                                                             \
  void gemm_pack(const T* src, int64_t ld, int rows, int rows_pad, int64_t cols, int64_t cols_pad, float* dst) { \
    pack_rows(src, ld, rows, rows_pad, cols, cols_pad, dst);                                            \
  }                                                                                                     \
  void gemm_small_block(const float* X, int m, int64_t kpad, const T* W, int64_t K, int nb, float* out) { \
    small_block(X, m, kpad, W, K, nb, out);                                                             \
  }
MMPREF_GEMM_TYPE(float)
MMPREF_GEMM_TYPE(half_t)
MMPREF_GEMM_TYPE(bfloat16_t)
#undef MMPREF_GEMM_TYPE

}  // namespace mmpref
