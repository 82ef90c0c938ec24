// GEMM micro-kernels (gemm_kernels.h): baseline (portable loops), AVX2+FMA 6x16, AVX-512F 12x32
// and AVX512-BF16 12x32 (vdpbf16ps on k-pairs). The x86 kernels are target-attributed functions
// compiled without -march; gemm_isa() (gemm.cc) makes sure only supported ones are called.
#include "gemm_kernels.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mmpref {
namespace {

// Tail tiles (rows < MR or cols < NR) run through a full-size scratch tile: load the valid part
// of C (or zeros), run the full tile, write the valid part back.
template <int MR, int NR>
struct TileIO {
  alignas(64) float t[MR * NR];
  float* begin(float* c, int64_t ldc, bool add, int rows, int cols) {
    std::memset(t, 0, sizeof(t));
    if (add)
      for (int r = 0; r < rows; ++r) std::memcpy(t + r * NR, c + r * ldc, sizeof(float) * cols);
    return t;
  }
  void end(float* c, int64_t ldc, int rows, int cols) {
    for (int r = 0; r < rows; ++r) std::memcpy(c + r * ldc, t + r * NR, sizeof(float) * cols);
  }
};

// Baseline: plain loops (the compiler vectorises the c loop with whatever the target has);
// multiply then add (-ffp-contract=off), so not the FMA bits of the x86 kernels.
constexpr int kBaseMR = 4, kBaseNR = 16;

void micro_baseline(int64_t kcp, const void* ap_, const void* bp_, float* c, int64_t ldc, bool add, int rows,
                    int cols) {
  const float* ap = static_cast<const float*>(ap_);
  const float* bp = static_cast<const float*>(bp_);
  float acc[kBaseMR][kBaseNR];
  for (int r = 0; r < kBaseMR; ++r)
    for (int j = 0; j < kBaseNR; ++j) acc[r][j] = (add && r < rows && j < cols) ? c[r * ldc + j] : 0.0f;
  for (int64_t k = 0; k < kcp; ++k, ap += kBaseMR, bp += kBaseNR)
    for (int r = 0; r < kBaseMR; ++r)
      for (int j = 0; j < kBaseNR; ++j) acc[r][j] += ap[r] * bp[j];
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < cols; ++j) c[r * ldc + j] = acc[r][j];
}

#if defined(__x86_64__)

// 1. AVX2 + FMA: 6 rows x 16 columns = 12 ymm accumulators, 2 B vectors, 1 broadcast.
constexpr int kAvx2MR = 6, kAvx2NR = 16;

// R <= MR rows of the tile are computed (decode shapes: R = 1 or 2 instead of 6 zero rows); the
// same FMA chain per element, so the same bits.
template <int R>
__attribute__((target("avx2,fma"))) void micro_avx2_rows(int64_t kcp, const float* ap, const float* bp, float* c,
                                                         int64_t ldc, bool add, int rows, int cols) {
  TileIO<kAvx2MR, kAvx2NR> io;
  const bool full = rows == R && cols == kAvx2NR;
  float* cc = full ? c : io.begin(c, ldc, add, rows, cols);
  const int64_t ld = full ? ldc : kAvx2NR;
  const bool load = add || !full;
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    acc[r][0] = load ? _mm256_loadu_ps(cc + r * ld) : _mm256_setzero_ps();
    acc[r][1] = load ? _mm256_loadu_ps(cc + r * ld + 8) : _mm256_setzero_ps();
  }
  for (int64_t k = 0; k < kcp; ++k, ap += kAvx2MR, bp += kAvx2NR) {
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(ap + r);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(cc + r * ld, acc[r][0]);
    _mm256_storeu_ps(cc + r * ld + 8, acc[r][1]);
  }
  if (!full) io.end(c, ldc, rows, cols);
}

void micro_avx2(int64_t kcp, const void* ap_, const void* bp_, float* c, int64_t ldc, bool add, int rows, int cols) {
  const float* ap = static_cast<const float*>(ap_);
  const float* bp = static_cast<const float*>(bp_);
  if (rows == 1) return micro_avx2_rows<1>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows == 2) return micro_avx2_rows<2>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows <= 4) return micro_avx2_rows<4>(kcp, ap, bp, c, ldc, add, rows, cols);
  micro_avx2_rows<kAvx2MR>(kcp, ap, bp, c, ldc, add, rows, cols);
}

// 2. AVX-512F: 12 rows x 32 columns = 24 zmm accumulators, 2 B vectors, 1 broadcast.
constexpr int kZmmMR = 12, kZmmNR = 32;

template <int R>
__attribute__((target("avx512f"))) void micro_avx512_rows(int64_t kcp, const float* ap, const float* bp, float* c,
                                                          int64_t ldc, bool add, int rows, int cols) {
  TileIO<kZmmMR, kZmmNR> io;
  const bool full = rows == R && cols == kZmmNR;
  float* cc = full ? c : io.begin(c, ldc, add, rows, cols);
  const int64_t ld = full ? ldc : kZmmNR;
  const bool load = add || !full;
  __m512 acc[R][2];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    acc[r][0] = load ? _mm512_loadu_ps(cc + r * ld) : _mm512_setzero_ps();
    acc[r][1] = load ? _mm512_loadu_ps(cc + r * ld + 16) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kcp; ++k, ap += kZmmMR, bp += kZmmNR) {
    const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(ap[r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(cc + r * ld, acc[r][0]);
    _mm512_storeu_ps(cc + r * ld + 16, acc[r][1]);
  }
  if (!full) io.end(c, ldc, rows, cols);
}

void micro_avx512(int64_t kcp, const void* ap_, const void* bp_, float* c, int64_t ldc, bool add, int rows,
                  int cols) {
  const float* ap = static_cast<const float*>(ap_);
  const float* bp = static_cast<const float*>(bp_);
  if (rows == 1) return micro_avx512_rows<1>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows == 2) return micro_avx512_rows<2>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows <= 4) return micro_avx512_rows<4>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows <= 8) return micro_avx512_rows<8>(kcp, ap, bp, c, ldc, add, rows, cols);
  micro_avx512_rows<kZmmMR>(kcp, ap, bp, c, ldc, add, rows, cols);
}

// 3. AVX512-BF16: the same 12 x 32 tile; one step consumes a k-pair: a 32-bit broadcast of
// (A[r, 2j], A[r, 2j+1]) against 16 column pairs per vector.
template <int R>
__attribute__((target("avx512f,avx512bf16"))) void micro_avx512bf16_rows(int64_t kcp, const uint16_t* ap,
                                                                        const uint16_t* bp, float* c, int64_t ldc,
                                                                        bool add, int rows, int cols) {
  TileIO<kZmmMR, kZmmNR> io;
  const bool full = rows == R && cols == kZmmNR;
  float* cc = full ? c : io.begin(c, ldc, add, rows, cols);
  const int64_t ld = full ? ldc : kZmmNR;
  const bool load = add || !full;
  __m512 acc[R][2];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    acc[r][0] = load ? _mm512_loadu_ps(cc + r * ld) : _mm512_setzero_ps();
    acc[r][1] = load ? _mm512_loadu_ps(cc + r * ld + 16) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kcp; k += 2, ap += 2 * kZmmMR, bp += 2 * kZmmNR) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + 32);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      int32_t pair;
      std::memcpy(&pair, ap + 2 * r, sizeof(pair));
      const __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(cc + r * ld, acc[r][0]);
    _mm512_storeu_ps(cc + r * ld + 16, acc[r][1]);
  }
  if (!full) io.end(c, ldc, rows, cols);
}

void micro_avx512bf16(int64_t kcp, const void* ap_, const void* bp_, float* c, int64_t ldc, bool add, int rows,
                      int cols) {
  const uint16_t* ap = static_cast<const uint16_t*>(ap_);
  const uint16_t* bp = static_cast<const uint16_t*>(bp_);
  if (rows == 1) return micro_avx512bf16_rows<1>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows == 2) return micro_avx512bf16_rows<2>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows <= 4) return micro_avx512bf16_rows<4>(kcp, ap, bp, c, ldc, add, rows, cols);
  if (rows <= 8) return micro_avx512bf16_rows<8>(kcp, ap, bp, c, ldc, add, rows, cols);
  micro_avx512bf16_rows<kZmmMR>(kcp, ap, bp, c, ldc, add, rows, cols);
}

#endif  // __x86_64__

// Cache blocks: B micro-panel (KC x NR) about half of a 32 KiB L1, A block (MC x KC) a few hundred
// KiB of L2 (512 KiB Zen 3, 1 MiB Zen 4), B block (KC x NC) in L3. MC is a multiple of MR, NC of NR.
const GemmKernel kBaseline{GemmIsa::kBaseline, kBaseMR, kBaseNR, 128, 256, 4096, false, micro_baseline};
#if defined(__x86_64__)
const GemmKernel kAvx2{GemmIsa::kAvx2, kAvx2MR, kAvx2NR, 144, 256, 4080, false, micro_avx2};
const GemmKernel kAvx512{GemmIsa::kAvx512, kZmmMR, kZmmNR, 240, 128, 4096, false, micro_avx512};
const GemmKernel kAvx512Bf16{GemmIsa::kAvx512Bf16, kZmmMR, kZmmNR, 240, 256, 4096, true, micro_avx512bf16};
#endif


// Compute ceilings for benches: `steps` iterations of 12 independent accumulator updates with the
// instruction the kernel of that level is bound by (FMA, or vdpbf16ps); returns the flops done.
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) int64_t peak_avx2(int64_t steps) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (int64_t s = 0; s < steps; ++s)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 t = acc[0];
  for (int i = 1; i < 12; ++i) t = _mm256_add_ps(t, acc[i]);
  volatile float sink = _mm256_cvtss_f32(t);
  (void)sink;
  return steps * 12 * 16;
}
__attribute__((target("avx512f"))) int64_t peak_avx512(int64_t steps) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (int64_t s = 0; s < steps; ++s)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 t = acc[0];
  for (int i = 1; i < 12; ++i) t = _mm512_add_ps(t, acc[i]);
  alignas(64) float v[16];
  _mm512_store_ps(v, t);
  volatile float sink = v[0] + v[15];
  (void)sink;
  return steps * 12 * 32;
}
__attribute__((target("avx512f,avx512bf16"))) int64_t peak_avx512bf16(int64_t steps) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x3a833a83);
  for (int64_t s = 0; s < steps; ++s)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 t = acc[0];
  for (int i = 1; i < 12; ++i) t = _mm512_add_ps(t, acc[i]);
  alignas(64) float v[16];
  _mm512_store_ps(v, t);
  volatile float sink = v[0] + v[15];
  (void)sink;
  return steps * 12 * 64;
}
#endif

int64_t peak_baseline(int64_t steps) {
  float acc[12][kBaseNR];
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < kBaseNR; ++j) acc[i][j] = float(i + j);
  for (int64_t s = 0; s < steps; ++s)
    for (int i = 0; i < 12; ++i)
      for (int j = 0; j < kBaseNR; ++j) acc[i][j] = acc[i][j] * 0.999f + 1e-3f;
  float t = 0;
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < kBaseNR; ++j) t += acc[i][j];
  volatile float sink = t;
  (void)sink;
  return steps * 12 * kBaseNR * 2;
}

}  // namespace

int64_t gemm_peak_loop(GemmIsa isa, bool bf16_input, int64_t steps) {
#if defined(__x86_64__)
  switch (isa) {
    case GemmIsa::kAvx512Bf16: return bf16_input ? peak_avx512bf16(steps) : peak_avx512(steps);
    case GemmIsa::kAvx512: return peak_avx512(steps);
    case GemmIsa::kAvx2: return peak_avx2(steps);
    default: break;
  }
#else
  (void)isa;
  (void)bf16_input;
#endif
  return peak_baseline(steps);
}

const GemmKernel& gemm_kernel(GemmIsa isa, bool bf16_input) {
#if defined(__x86_64__)
  switch (isa) {
    case GemmIsa::kAvx512Bf16: return bf16_input ? kAvx512Bf16 : kAvx512;
    case GemmIsa::kAvx512: return kAvx512;
    case GemmIsa::kAvx2: return kAvx2;
    default: break;
  }
#else
  (void)isa;
  (void)bf16_input;
#endif
  return kBaseline;
}

}  // namespace mmpref
