// CPU GEMM driver (gemm.h): ISA choice, panel packing (any layout, dtype conversion), the
// GotoBLAS loop nest over the thread pool, and the bias / rounding epilogue.
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/half.h"
#include "../core/hd.h"
#include "../core/thread_pool.h"
#include "gemm_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mmpref {
namespace {

constexpr int64_t kGemmStreamM = 8;  // M <= this: run_small (decode shapes)

GemmIsa detect_isa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // NB: libgcc's cpu model also checks XCR0, so an OS without AVX-512 state reports no avx512f.
  if (__builtin_cpu_supports("avx512f")) {
    if (__builtin_cpu_supports("avx512bf16")) return GemmIsa::kAvx512Bf16;
    return GemmIsa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GemmIsa::kAvx2;
#endif
  return GemmIsa::kBaseline;
}

GemmIsa isa_from_env(GemmIsa best) {
  const char* env = std::getenv("MMPREF_CPU_ISA");
  if (!env) return best;
  const std::string s(env);
  GemmIsa want = best;
  if (s == "baseline") want = GemmIsa::kBaseline;
  else if (s == "avx2") want = GemmIsa::kAvx2;
  else if (s == "avx512") want = GemmIsa::kAvx512;
  else if (s == "avx512bf16") want = GemmIsa::kAvx512Bf16;
  return std::min(want, best);
}

// A(i, k) of op(A) is a[i * si + k * sk]; packs rows [i0, i0 + rows) x k [k0, k0 + kc) into
// MR-high micro-panels (float32, or bfloat16 k-pairs), zero padding to MR rows and kcp k.
template <class T>
MMPREF_CPU_CLONES void pack_f32(const T* a, int64_t si, int64_t sk, int64_t i0, int rows, int64_t k0, int kc,
                                int mr, float* dst) {
  for (int p0 = 0; p0 < rows; p0 += mr, dst += int64_t(mr) * kc) {
    const int pr = std::min(mr, rows - p0);
    if (sk == 1) {
      for (int r = 0; r < pr; ++r) {
        const T* s = a + (i0 + p0 + r) * si + k0;
        for (int k = 0; k < kc; ++k) dst[int64_t(k) * mr + r] = to_float(s[k]);
      }
    } else {
      for (int k = 0; k < kc; ++k) {
        const T* s = a + (k0 + k) * sk + (i0 + p0) * si;
        float* d = dst + int64_t(k) * mr;
        for (int r = 0; r < pr; ++r) d[r] = to_float(s[r * si]);
      }
    }
    for (int r = pr; r < mr; ++r)
      for (int k = 0; k < kc; ++k) dst[int64_t(k) * mr + r] = 0.0f;
  }
}

MMPREF_CPU_CLONES void pack_pairs(const bfloat16_t* a, int64_t si, int64_t sk, int64_t i0, int rows, int64_t k0,
                                  int kc, int mr, uint16_t* dst) {
  const int kcp = (kc + 1) & ~1;
  for (int p0 = 0; p0 < rows; p0 += mr, dst += int64_t(mr) * kcp) {
    const int pr = std::min(mr, rows - p0);
    std::memset(dst, 0, sizeof(uint16_t) * mr * kcp);
    auto at = [&](int k, int r) -> uint16_t& { return dst[int64_t(k >> 1) * 2 * mr + 2 * r + (k & 1)]; };
    if (sk == 1) {
      for (int r = 0; r < pr; ++r) {
        const bfloat16_t* s = a + (i0 + p0 + r) * si + k0;
        for (int k = 0; k < kc; ++k) at(k, r) = s[k].bits;
      }
    } else {
      for (int k = 0; k < kc; ++k) {
        const bfloat16_t* s = a + (k0 + k) * sk + (i0 + p0) * si;
        for (int r = 0; r < pr; ++r) at(k, r) = s[r * si].bits;
      }
    }
  }
}

#if defined(__x86_64__)
// Packs rows [0, rows) (rows % 8 == 0, row stride ld, k contiguous) x k [0, kc) of float32 into a
// micro-panel dst[k * mr + r] with 8x8 register transposes: the row-major weight of the forward
// (NT) otherwise costs a strided scalar store per element.
__attribute__((target("avx2"))) inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2"))) inline __m256 load8(const bfloat16_t* p) {  // exact widening
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

template <class T>
__attribute__((target("avx2"))) void pack_rows8_avx2(const T* src, int64_t ld, int rows, int kc, int mr, float* dst) {
  int k = 0;
  for (; k + 8 <= kc; k += 8)
    for (int r0 = 0; r0 < rows; r0 += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = load8(src + (r0 + i) * ld + k);
      // 8x8 transpose: v[i][j] -> t[j][i]
      const __m256 a0 = _mm256_unpacklo_ps(v[0], v[1]), a1 = _mm256_unpackhi_ps(v[0], v[1]);
      const __m256 a2 = _mm256_unpacklo_ps(v[2], v[3]), a3 = _mm256_unpackhi_ps(v[2], v[3]);
      const __m256 a4 = _mm256_unpacklo_ps(v[4], v[5]), a5 = _mm256_unpackhi_ps(v[4], v[5]);
      const __m256 a6 = _mm256_unpacklo_ps(v[6], v[7]), a7 = _mm256_unpackhi_ps(v[6], v[7]);
      const __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44), b1 = _mm256_shuffle_ps(a0, a2, 0xee);
      const __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44), b3 = _mm256_shuffle_ps(a1, a3, 0xee);
      const __m256 b4 = _mm256_shuffle_ps(a4, a6, 0x44), b5 = _mm256_shuffle_ps(a4, a6, 0xee);
      const __m256 b6 = _mm256_shuffle_ps(a5, a7, 0x44), b7 = _mm256_shuffle_ps(a5, a7, 0xee);
      const __m256 t[8] = {_mm256_permute2f128_ps(b0, b4, 0x20), _mm256_permute2f128_ps(b1, b5, 0x20),
                           _mm256_permute2f128_ps(b2, b6, 0x20), _mm256_permute2f128_ps(b3, b7, 0x20),
                           _mm256_permute2f128_ps(b0, b4, 0x31), _mm256_permute2f128_ps(b1, b5, 0x31),
                           _mm256_permute2f128_ps(b2, b6, 0x31), _mm256_permute2f128_ps(b3, b7, 0x31)};
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + int64_t(k + j) * mr + r0, t[j]);
    }
  for (; k < kc; ++k)
    for (int r = 0; r < rows; ++r) dst[int64_t(k) * mr + r] = to_float(src[r * ld + k]);
}

// Decode GEMV for the NT layout (B = W stored [N, K], K contiguous) with R <= 4 rows of A, float32
// / float16 / bfloat16 in: W is read in place, 16 rows at a time, 8 k at a time, transposed in
// registers and fed straight to the FMAs, so no packed copy of W goes through L1 and the two
// 8-column accumulators of each A row hide the FMA latency. Every C[r, n] is the same single FMA
// chain over k = 0..K-1 (fma(a, w, acc), starting from C or 0) as the packed micro-kernels: the
// same bits as run() / run_small() at the AVX2 and AVX-512 levels.
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8f(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8f(const bfloat16_t* p) { return load8(p); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8f(const half_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma,f16c"))) inline void transpose8(__m256 v[8]) {
  const __m256 a0 = _mm256_unpacklo_ps(v[0], v[1]), a1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 a2 = _mm256_unpacklo_ps(v[2], v[3]), a3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 a4 = _mm256_unpacklo_ps(v[4], v[5]), a5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 a6 = _mm256_unpacklo_ps(v[6], v[7]), a7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44), b1 = _mm256_shuffle_ps(a0, a2, 0xee);
  const __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44), b3 = _mm256_shuffle_ps(a1, a3, 0xee);
  const __m256 b4 = _mm256_shuffle_ps(a4, a6, 0x44), b5 = _mm256_shuffle_ps(a4, a6, 0xee);
  const __m256 b6 = _mm256_shuffle_ps(a5, a7, 0x44), b7 = _mm256_shuffle_ps(a5, a7, 0xee);
  v[0] = _mm256_permute2f128_ps(b0, b4, 0x20);
  v[1] = _mm256_permute2f128_ps(b1, b5, 0x20);
  v[2] = _mm256_permute2f128_ps(b2, b6, 0x20);
  v[3] = _mm256_permute2f128_ps(b3, b7, 0x20);
  v[4] = _mm256_permute2f128_ps(b0, b4, 0x31);
  v[5] = _mm256_permute2f128_ps(b1, b5, 0x31);
  v[6] = _mm256_permute2f128_ps(b2, b6, 0x31);
  v[7] = _mm256_permute2f128_ps(b3, b7, 0x31);
}

// C[r, n0 .. n0 + 16) for r < R: x [R, K] float32 (row stride K), w rows n0.. (row stride ldw).
template <int R, class T>
__attribute__((target("avx2,fma,f16c"))) void gemv_nt16_avx2(const float* x, int64_t K, const T* w, int64_t ldw,
                                                           float* c, int64_t ldc, bool add) {
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < 2; ++h) acc[r][h] = add ? _mm256_loadu_ps(c + r * ldc + 8 * h) : _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int h = 0; h < 2; ++h) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) {
        const T* row = w + (8 * h + i) * ldw + k;
        if ((k & 31) == 0) _mm_prefetch(reinterpret_cast<const char*>(row) + 1024, _MM_HINT_T0);
        v[i] = load8f(row);
      }
      transpose8(v);  // v[j] = W[n0 + 8h .. + 8, k + j]
      for (int j = 0; j < 8; ++j)
        for (int r = 0; r < R; ++r) acc[r][h] = _mm256_fmadd_ps(_mm256_set1_ps(x[r * K + k + j]), v[j], acc[r][h]);
    }
  }
  alignas(32) float t[R][16];
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < 2; ++h) _mm256_store_ps(t[r] + 8 * h, acc[r][h]);
  for (; k < K; ++k)  // k tail: the same chains, one scalar FMA each
    for (int r = 0; r < R; ++r)
      for (int n = 0; n < 16; ++n) t[r][n] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(x[r * K + k]), _mm_set_ss(to_float(w[n * ldw + k])), _mm_set_ss(t[r][n])));
  for (int r = 0; r < R; ++r)
    for (int n = 0; n < 16; ++n) c[r * ldc + n] = t[r][n];
}

// The last N % 16 columns: one scalar FMA chain per output.
template <class T>
__attribute__((target("avx2,fma,f16c"))) void gemv_nt_tail(const float* x, int rows, int64_t K, const T* w,
                                                          int64_t ldw, int cols, float* c, int64_t ldc, bool add) {
  for (int r = 0; r < rows; ++r)
    for (int n = 0; n < cols; ++n) {
      __m128 acc = _mm_set_ss(add ? c[r * ldc + n] : 0.0f);
      for (int64_t k = 0; k < K; ++k)
        acc = _mm_fmadd_ss(_mm_set_ss(x[r * K + k]), _mm_set_ss(to_float(w[n * ldw + k])), acc);
      c[r * ldc + n] = _mm_cvtss_f32(acc);
    }
}
#endif

struct Operand {
  const void* p;
  int64_t si, sk;  // element (i, k) at i * si + k * sk: i = row of C for A, column of C for B
};

template <class T>
void pack(const Operand& o, int64_t i0, int rows, int64_t k0, int kc, int mr, bool pairs, GemmIsa isa, void* dst) {
  const T* p = static_cast<const T*>(o.p);
  if constexpr (std::is_same_v<T, bfloat16_t>) {
#if defined(__x86_64__)
    // k-pairs are adjacent 32-bit words of a row-major operand: the same 8x8 transposes, on bits
    if (pairs && isa >= GemmIsa::kAvx2 && o.sk == 1 && rows == mr && mr % 8 == 0 && o.si % 2 == 0 &&
        k0 % 2 == 0 && kc % 2 == 0)
      return pack_rows8_avx2(reinterpret_cast<const float*>(p + i0 * o.si + k0), o.si / 2, rows, kc / 2, mr,
                             static_cast<float*>(dst));
#endif
    if (pairs) return pack_pairs(p, o.si, o.sk, i0, rows, k0, kc, mr, static_cast<uint16_t*>(dst));
  }
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, bfloat16_t>) {
    if (isa >= GemmIsa::kAvx2 && o.sk == 1 && rows == mr && mr % 8 == 0)
      return pack_rows8_avx2(p + i0 * o.si + k0, o.si, rows, kc, mr, static_cast<float*>(dst));
  }
#endif
  (void)isa;
  pack_f32(p, o.si, o.sk, i0, rows, k0, kc, mr, static_cast<float*>(dst));
}

// Per-thread A block buffer, grown on demand and kept (no page faults per slice).
void* thread_a_buffer(size_t bytes) {
  thread_local std::vector<float> buf;
  if (buf.size() * sizeof(float) < bytes) buf.resize(bytes / sizeof(float) + 16);
  return buf.data();
}

constexpr int64_t kGemvRows = 4;  // M <= this, NT layout, AVX2+ float32 FMA kernel: run_gemv_nt

#if defined(__x86_64__)
template <class T>
void run_gemv_nt(const GemmArgs& g, float* c, int64_t ldc) {
  const int64_t M = g.m, N = g.n, K = g.k;
  // A as float32 [M, K] (small: M <= 4 rows)
  std::unique_ptr<float[]> xa(new float[size_t(M * K)]);
  const T* a = static_cast<const T*>(g.a);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t k = 0; k < K; ++k) xa[r * K + k] = to_float(g.trans_a ? a[k * g.lda + r] : a[r * g.lda + k]);
  const T* w = static_cast<const T*>(g.b);
  const int64_t blocks = N / 16;
  parallel_for(blocks + 1, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t n0 = b * 16;
      if (b == blocks) {
        if (N > n0) gemv_nt_tail(xa.get(), int(M), K, w + n0 * g.ldb, g.ldb, int(N - n0), c + n0, ldc, g.accumulate);
        continue;
      }
      const T* wb = w + n0 * g.ldb;
      switch (M) {
        case 1: gemv_nt16_avx2<1>(xa.get(), K, wb, g.ldb, c + n0, ldc, g.accumulate); break;
        case 2: gemv_nt16_avx2<2>(xa.get(), K, wb, g.ldb, c + n0, ldc, g.accumulate); break;
        case 3: gemv_nt16_avx2<3>(xa.get(), K, wb, g.ldb, c + n0, ldc, g.accumulate); break;
        default: gemv_nt16_avx2<4>(xa.get(), K, wb, g.ldb, c + n0, ldc, g.accumulate); break;
      }
    }
  });
}
#endif

// Small M (decode): A is packed once for all of K; each work item takes B micro-panels and, slice
// by slice, packs one into a thread-local L1 buffer and runs every A micro-panel against it, so B
// (the weight) is read from memory exactly once and no packed copy of it goes through L2/L3. Same
// micro-kernel and accumulation order as run(): the same bits as the blocked path.
template <class T>
void run_small(const GemmArgs& g, const GemmKernel& kern, float* c, int64_t ldc) {
  const int64_t M = g.m, N = g.n, K = g.k;
  const Operand A{g.a, g.trans_a ? 1 : g.lda, g.trans_a ? g.lda : 1};
  const Operand B{g.b, g.trans_b ? g.ldb : 1, g.trans_b ? 1 : g.ldb};
  const bool pairs = kern.bf16_pairs;
  const size_t esz = pairs ? 2 : 4;
  const int MR = kern.mr, NR = kern.nr;
  const int na = int(ceil_div(M, MR));
  const int64_t slices = ceil_div(K, kern.kc);
  const size_t a_slice = size_t(na) * MR * kern.kc * esz;  // every slice but the last holds kc = KC
  std::unique_ptr<char[]> abuf(new char[a_slice * slices + 64]);
  parallel_for(slices, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int kc = int(std::min<int64_t>(kern.kc, K - s * kern.kc));
      pack<T>(A, 0, int(M), s * kern.kc, kc, MR, pairs, kern.isa, abuf.get() + a_slice * s);
    }
  });
  const int64_t npanels = ceil_div(N, NR);
  parallel_for(npanels, 2, [&](int64_t p0, int64_t p1) {
    char* bp = static_cast<char*>(thread_a_buffer(size_t(NR) * (kern.kc + 1) * esz));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t j = p * NR;
      const int cols = int(std::min<int64_t>(NR, N - j));
      for (int64_t s = 0; s < slices; ++s) {
        const int64_t pc = s * kern.kc;
        const int kc = int(std::min<int64_t>(kern.kc, K - pc));
        const int kcp = pairs ? (kc + 1) & ~1 : kc;
        pack<T>(B, j, cols, pc, kc, NR, pairs, kern.isa, bp);
        const char* ap = abuf.get() + a_slice * s;
        for (int a = 0; a < na; ++a) {
          const int rows = int(std::min<int64_t>(MR, M - int64_t(a) * MR));
          kern.micro(kcp, ap + size_t(a) * MR * kcp * esz, bp, c + int64_t(a) * MR * ldc + j, ldc,
                     pc > 0 || g.accumulate, rows, cols);
        }
      }
    }
  });
}

template <class T>
void run(const GemmArgs& g, const GemmKernel& kern, float* c, int64_t ldc) {
  const int64_t M = g.m, N = g.n, K = g.k;
  const Operand A{g.a, g.trans_a ? 1 : g.lda, g.trans_a ? g.lda : 1};
  const Operand B{g.b, g.trans_b ? g.ldb : 1, g.trans_b ? 1 : g.ldb};
  const bool pairs = kern.bf16_pairs;
  const size_t esz = pairs ? 2 : 4;
  const int MR = kern.mr, NR = kern.nr;
  const int64_t nc_max = std::min<int64_t>(kern.nc, ceil_div(N, NR) * NR);
  const int kc_max = int(std::min<int64_t>(kern.kc, K + (K & 1)));
  std::unique_ptr<char[]> bbuf(new char[size_t(nc_max) * kc_max * esz + 64]);
  // equal M blocks (multiples of MR) of at most MC rows
  const int64_t mblocks = ceil_div(M, kern.mc);
  const int64_t mc_eq = std::min<int64_t>(kern.mc, ceil_div(ceil_div(M, mblocks), MR) * MR);
  const int threads = num_threads();

  for (int64_t jc = 0; jc < N; jc += kern.nc) {
    const int nc = int(std::min<int64_t>(kern.nc, N - jc));
    const int npanels = int(ceil_div(nc, NR));
    // split the micro-panels of this block into groups until there are at least 2 items per
    // thread and (if possible) a multiple of the thread count: equal shares for every thread
    int64_t want = 1;
    while (want < npanels && (mblocks * want < 2 * threads || (mblocks * want) % threads)) ++want;
    const int per_group = int(ceil_div(npanels, want));
    const int64_t ngroups = ceil_div(npanels, per_group);
    for (int64_t pc = 0; pc < K; pc += kern.kc) {
      const int kc = int(std::min<int64_t>(kern.kc, K - pc));
      const int kcp = pairs ? (kc + 1) & ~1 : kc;
      const bool add = pc > 0 || g.accumulate;
      // 1. pack B [pc, pc + kc) x [jc, jc + nc) once, micro-panel by micro-panel
      char* bp = bbuf.get();
      parallel_for(npanels, 4, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const int cols = int(std::min<int64_t>(NR, nc - p * NR));
          pack<T>(B, jc + p * NR, cols, pc, kc, NR, pairs, kern.isa, bp + size_t(p) * NR * kcp * esz);
        }
      });
      // 2. items (MC rows x a group of micro-panels): pack A, then micro-kernels (jr outer: the
      //    B micro-panel stays in L1 while the A micro-panels stream from L2)
      parallel_for(mblocks * ngroups, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t it = i0; it < i1; ++it) {
          const int64_t ic = (it / ngroups) * mc_eq;
          const int64_t grp = it % ngroups;
          if (ic >= M) continue;  // NB: cannot happen (mblocks * mc_eq covers M once), kept as a guard
          const int mc = int(std::min<int64_t>(mc_eq, M - ic));
          char* ap = static_cast<char*>(thread_a_buffer(size_t(ceil_div(mc, MR)) * MR * kcp * esz));
          pack<T>(A, ic, mc, pc, kc, MR, pairs, kern.isa, ap);
          const int p_end = int(std::min<int64_t>(npanels, (grp + 1) * per_group));
          for (int p = int(grp * per_group); p < p_end; ++p) {
            const int64_t j = jc + int64_t(p) * NR;
            const int cols = int(std::min<int64_t>(NR, N - j));
            const char* bpanel = bp + size_t(p) * NR * kcp * esz;
            for (int r0 = 0; r0 < mc; r0 += MR) {
              const int rows = std::min(MR, mc - r0);
              kern.micro(kcp, ap + size_t(r0) * kcp * esz, bpanel, c + (ic + r0) * ldc + j, ldc, add, rows, cols);
            }
          }
        }
      });
    }
  }
}

template <class T, class O>
void epilogue(const GemmArgs& g, const float* c, int64_t ldc, O* out) {
  parallel_for(g.m, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* s = c + r * ldc;
      O* d = out + r * g.ldc;
      for (int64_t j = 0; j < g.n; ++j) {
        float v = s[j];
        if (g.bias) {
          const float b = g.bias_dtype == DType::kFloat32 ? static_cast<const float*>(g.bias)[j]
                                                          : to_float(static_cast<const T*>(g.bias)[j]);
          v += b;
        }
        d[j] = from_float<O>(v);
      }
    }
  });
}

template <class T>
Status run_typed(const GemmArgs& g, GemmIsa isa) {
  const GemmKernel& kern = gemm_kernel(isa, std::is_same_v<T, bfloat16_t>);
  const bool f32_out = g.out_dtype == DType::kFloat32;
  // float32 output: sums go straight into C; otherwise into a float32 workspace [M, N]
  std::unique_ptr<float[]> ws;
  float* c = static_cast<float*>(g.c);
  int64_t ldc = g.ldc;
  if (!f32_out) {
    ws.reset(new float[size_t(g.m * g.n)]);
    c = ws.get();
    ldc = g.n;
  }
  if (g.k == 0) {
    if (!g.accumulate)
      parallel_for(g.m, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) std::fill(c + r * ldc, c + r * ldc + g.n, 0.0f);
      });
  } else if (g.m <= kGemvRows && g.trans_b && kern.isa >= GemmIsa::kAvx2 && !kern.bf16_pairs) {
#if defined(__x86_64__)
    run_gemv_nt<T>(g, c, ldc);
#endif
  } else if (g.m <= kGemmStreamM) {
    run_small<T>(g, kern, c, ldc);
  } else {
    run<T>(g, kern, c, ldc);
  }
  if (!f32_out) epilogue<T>(g, c, ldc, static_cast<T*>(g.c));
  else if (g.bias) epilogue<T>(g, c, ldc, c);
  return Status::Ok();
}

}  // namespace

GemmIsa gemm_isa() {
  static const GemmIsa isa = isa_from_env(detect_isa());
  return isa;
}

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::kAvx512Bf16: return "avx512bf16";
    case GemmIsa::kAvx512: return "avx512";
    case GemmIsa::kAvx2: return "avx2";
    default: return "baseline";
  }
}

Status gemm_check(const GemmArgs& g) {
  if (g.m < 0 || g.n < 0 || g.k < 0)
    return make_status(Code::kShape, "gemm: expected non-negative M, N, K but received " + std::to_string(g.m) +
                                         ", " + std::to_string(g.n) + ", " + std::to_string(g.k));
  if (g.out_dtype != DType::kFloat32 && g.out_dtype != g.in_dtype)
    return make_status(Code::kDtype, std::string("gemm: expected an output of float32 or ") +
                                         dtype_name(g.in_dtype) + " but received " + dtype_name(g.out_dtype));
  if (g.accumulate && g.out_dtype != DType::kFloat32)
    return make_status(Code::kDtype, std::string("gemm: accumulate expects a float32 output but received ") +
                                         dtype_name(g.out_dtype));
  if (g.bias && g.bias_dtype != DType::kFloat32 && g.bias_dtype != g.in_dtype)
    return make_status(Code::kDtype, std::string("gemm: expected a bias of float32 or ") + dtype_name(g.in_dtype) +
                                         " but received " + dtype_name(g.bias_dtype));
  const int64_t a_cols = g.trans_a ? g.m : g.k, b_cols = g.trans_b ? g.k : g.n;
  if (g.lda < std::max<int64_t>(a_cols, 1) || g.ldb < std::max<int64_t>(b_cols, 1) ||
      g.ldc < std::max<int64_t>(g.n, 1))
    return make_status(Code::kArgument, "gemm: leading dimensions too small: expected lda >= " +
                                            std::to_string(a_cols) + ", ldb >= " + std::to_string(b_cols) +
                                            ", ldc >= " + std::to_string(g.n) + " but received " +
                                            std::to_string(g.lda) + ", " + std::to_string(g.ldb) + ", " +
                                            std::to_string(g.ldc));
  switch (g.in_dtype) {
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kBFloat16: return Status::Ok();
    default:
      return make_status(Code::kDtype, std::string("gemm: expected float32, float16 or bfloat16 inputs but received ") +
                                           dtype_name(g.in_dtype));
  }
}

Status gemm_cpu(const GemmArgs& g) {
  const Status st = gemm_check(g);
  if (!st.ok()) return st;
  if (g.m == 0 || g.n == 0) return Status::Ok();
  GemmIsa isa = gemm_isa();
  if (g.max_isa >= 0) isa = std::min(isa, GemmIsa(std::min(g.max_isa, int(GemmIsa::kAvx512Bf16))));
  switch (g.in_dtype) {
    case DType::kFloat32: return run_typed<float>(g, isa);
    case DType::kFloat16: return run_typed<half_t>(g, isa);
    default: return run_typed<bfloat16_t>(g, isa);
  }
}

}  // namespace mmpref
