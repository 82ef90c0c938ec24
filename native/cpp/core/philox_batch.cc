// Bulk Philox generation on the CPU (see philox_batch.h).
#include "philox_batch.h"

#include <algorithm>
#include <cstring>

#include "normal.h"
#include "philox.h"
#include "thread_pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(MMPREF_NO_CLONES)
#define MMPREF_PHILOX_X86 1
#include <immintrin.h>
#endif

namespace mmpref {

PhiloxKeys philox_keys(uint64_t seed, uint64_t offset) {
  PhiloxKeys k;
  uint32_t a = uint32_t(seed), b = uint32_t(seed >> 32);
  for (int r = 0; r < 10; ++r) {  // round r uses key + r * Weyl constant (philox4x32_10)
    k.k0[r] = a;
    k.k1[r] = b;
    a += 0x9E3779B9u;
    b += 0xBB67AE85u;
  }
  k.c2 = uint32_t(offset);
  k.c3 = uint32_t(offset >> 32);
  return k;
}

namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;

void philox_groups_scalar(const PhiloxKeys& k, uint64_t block0, int64_t ngroups, uint32_t* out) {
  for (int64_t g = 0; g < ngroups; ++g)
    for (int j = 0; j < kPhiloxGroup; ++j) {
      const uint64_t b = block0 + uint64_t(g * kPhiloxGroup + j);
      const Philox4 w = philox4x32_10(uint32_t(b), uint32_t(b >> 32), k.c2, k.c3, k.k0[0], k.k1[0]);
      uint32_t* o = out + 64 * g + 2 * j;
      o[0] = w.v[0];
      o[1] = w.v[2];
      o[32] = w.v[1];
      o[33] = w.v[3];
    }
}

#if MMPREF_PHILOX_X86
// GCC 12 flags _mm512_undefined_epi32() inside its own shift intrinsics (bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// NB: counters live in 64-bit lanes whose low halves hold the 32-bit Philox words (the high
// halves are don't-care): vpmuludq multiplies exactly those low halves into the full 64-bit
// product, whose high half is mulhi and low half mullo, so a round is 2 multiplies, 2 shifts
// and 2 three-way xors. V independent vectors per step hide the multiply latency.
template <int V>
__attribute__((target("avx512f"))) inline void philox_step_avx512(const PhiloxKeys& k, uint64_t base,
                                                                   uint32_t* out) {
  const __m512i m0 = _mm512_set1_epi64(kM0), m1 = _mm512_set1_epi64(kM1);
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  __m512i c0[V], c1[V], c2[V], c3[V];
  for (int h = 0; h < V; ++h) {
    const __m512i cnt = _mm512_add_epi64(_mm512_set1_epi64(int64_t(base + 8u * h)), lane);
    c0[h] = cnt;
    c1[h] = _mm512_srli_epi64(cnt, 32);
    c2[h] = _mm512_set1_epi64(k.c2);
    c3[h] = _mm512_set1_epi64(k.c3);
  }
  for (int r = 0; r < 10; ++r) {
    const __m512i k0 = _mm512_set1_epi64(k.k0[r]), k1 = _mm512_set1_epi64(k.k1[r]);
    for (int h = 0; h < V; ++h) {
      const __m512i p0 = _mm512_mul_epu32(c0[h], m0), p1 = _mm512_mul_epu32(c2[h], m1);
      const __m512i n0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), c1[h], k0, 0x96);
      const __m512i n2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), c3[h], k1, 0x96);
      c1[h] = p1;
      c3[h] = p0;
      c0[h] = n0;
      c2[h] = n2;
    }
  }
  // Pair layout: (c2 << 32) | c0 is {c0[0], c2[0], c0[1], c2[1], ...} as uint32 = the A words
  // of these 8 blocks; likewise (c3 << 32) | c1 = the B words. Vector h holds blocks 8h..8h+7.
  for (int h = 0; h < V; ++h) {
    uint32_t* o = out + 64 * (h / 2) + 16 * (h & 1);
    _mm512_storeu_si512(o, _mm512_mask_blend_epi32(0xAAAA, c0[h], _mm512_slli_epi64(c2[h], 32)));
    _mm512_storeu_si512(o + 32, _mm512_mask_blend_epi32(0xAAAA, c1[h], _mm512_slli_epi64(c3[h], 32)));
  }
}

__attribute__((target("avx512f"))) void philox_groups_avx512(const PhiloxKeys& k, uint64_t block0,
                                                              int64_t ngroups, uint32_t* out) {
  int64_t g = 0;
  for (; g + 2 <= ngroups; g += 2) philox_step_avx512<4>(k, block0 + uint64_t(16 * g), out + 64 * g);
  if (g < ngroups) philox_step_avx512<2>(k, block0 + uint64_t(16 * g), out + 64 * g);
}

__attribute__((target("avx2"))) void philox_groups_avx2(const PhiloxKeys& k, uint64_t block0,
                                                         int64_t ngroups, uint32_t* out) {
  const __m256i m0 = _mm256_set1_epi64x(kM0), m1 = _mm256_set1_epi64x(kM1);
  const __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);
  constexpr int V = 4;  // 4 vectors of 4 blocks = one group per step
  for (int64_t g = 0; g < ngroups; ++g) {
    const uint64_t base = block0 + uint64_t(16 * g);
    __m256i c0[V], c1[V], c2[V], c3[V];
    for (int h = 0; h < V; ++h) {
      const __m256i cnt = _mm256_add_epi64(_mm256_set1_epi64x(int64_t(base + 4u * h)), lane);
      c0[h] = cnt;
      c1[h] = _mm256_srli_epi64(cnt, 32);
      c2[h] = _mm256_set1_epi64x(k.c2);
      c3[h] = _mm256_set1_epi64x(k.c3);
    }
    for (int r = 0; r < 10; ++r) {
      const __m256i k0 = _mm256_set1_epi64x(k.k0[r]), k1 = _mm256_set1_epi64x(k.k1[r]);
      for (int h = 0; h < V; ++h) {
        const __m256i p0 = _mm256_mul_epu32(c0[h], m0), p1 = _mm256_mul_epu32(c2[h], m1);
        const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1[h]), k0);
        const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3[h]), k1);
        c1[h] = p1;
        c3[h] = p0;
        c0[h] = n0;
        c2[h] = n2;
      }
    }
    uint32_t* o = out + 64 * g;
    for (int h = 0; h < V; ++h) {  // pair layout, as in the AVX-512 kernel (4 blocks per vector)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8 * h),
                          _mm256_blend_epi32(c0[h], _mm256_slli_epi64(c2[h], 32), 0xAA));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32 + 8 * h),
                          _mm256_blend_epi32(c1[h], _mm256_slli_epi64(c3[h], 32), 0xAA));
    }
  }
}
#pragma GCC diagnostic pop
#endif

using GroupsFn = void (*)(const PhiloxKeys&, uint64_t, int64_t, uint32_t*);

struct Kernel {
  GroupsFn fn;
  const char* name;
};

Kernel pick_kernel() {
#if MMPREF_PHILOX_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {philox_groups_avx512, "avx512"};
  if (__builtin_cpu_supports("avx2")) return {philox_groups_avx2, "avx2"};
#endif
  return {philox_groups_scalar, "scalar"};
}

const Kernel& kernel() {
  static const Kernel k = pick_kernel();
  return k;
}

// ---- word -> value transforms: one group (64 words, pair layout) -> 64 elements in order ------
// Element 2p of a group is word A[p] = w[p], element 2p + 1 is word B[p] = w[32 + p]; a normal
// pair (elements 2p, 2p + 1) is Box-Muller on (A[p], B[p]).

MMPREF_CPU_CLONES void normal_groups(const uint32_t* w, int64_t ngroups, float* out) {
  for (int64_t g = 0; g < ngroups; ++g) {
    const uint32_t* wg = w + 64 * g;
    float* o = out + 64 * g;
    for (int p = 0; p < 32; ++p) box_muller(wg[p], wg[32 + p], &o[2 * p], &o[2 * p + 1]);
  }
}

MMPREF_CPU_CLONES void uniform_groups(const uint32_t* w, int64_t ngroups, float* out) {
  for (int64_t g = 0; g < ngroups; ++g)
    for (int p = 0; p < 32; ++p) {
      out[64 * g + 2 * p] = uniform01(w[64 * g + p]);
      out[64 * g + 2 * p + 1] = uniform01(w[64 * g + 32 + p]);
    }
}

MMPREF_CPU_CLONES void pm1_groups(const uint32_t* w, int64_t ngroups, float* out) {
  for (int64_t g = 0; g < ngroups; ++g)
    for (int p = 0; p < 32; ++p) {
      out[64 * g + 2 * p] = uniform_pm1(w[64 * g + p]);
      out[64 * g + 2 * p + 1] = uniform_pm1(w[64 * g + 32 + p]);
    }
}

void bits_groups(const uint32_t* w, int64_t ngroups, uint32_t* out) {
  for (int64_t g = 0; g < ngroups; ++g)
    for (int p = 0; p < 32; ++p) {
      out[64 * g + 2 * p] = w[64 * g + p];
      out[64 * g + 2 * p + 1] = w[64 * g + 32 + p];
    }
}

// n elements from element `skip` of block `block`: whole groups of 64 elements starting at that
// block, in chunks of kChunkGroups; a partial head or tail goes through a buffer.
constexpr int64_t kChunkGroups = 4;

template <class OutT, class Transform>
void gen_range(const PhiloxKeys& keys, uint64_t block, int64_t skip, int64_t n, OutT* out, Transform transform) {
  alignas(64) uint32_t w[64 * kChunkGroups];
  alignas(64) OutT buf[64 * kChunkGroups];
  const GroupsFn philox = kernel().fn;
  while (n > 0) {
    const int64_t groups = std::min<int64_t>(kChunkGroups, (skip + n + 63) / 64);
    philox(keys, block, groups, w);
    const int64_t take = std::min<int64_t>(n, groups * 64 - skip);
    if (skip == 0 && take == groups * 64) {
      transform(w, groups, out);
    } else {
      transform(w, groups, buf);
      std::memcpy(out, buf + skip, size_t(take) * sizeof(OutT));
    }
    out += take;
    n -= take;
    block += uint64_t(groups * kPhiloxGroup);
    skip = 0;
  }
}

}  // namespace

void philox_groups(const PhiloxKeys& keys, uint64_t block0, int64_t ngroups, uint32_t* out) {
  kernel().fn(keys, block0, ngroups, out);
}

const char* philox_kernel_name() { return kernel().name; }

void bits_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, uint32_t* out) {
  gen_range(keys, block, skip, n, out, bits_groups);
}
void uniform_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, float* out) {
  gen_range(keys, block, skip, n, out, uniform_groups);
}
void pm1_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, float* out) {
  gen_range(keys, block, skip, n, out, pm1_groups);
}
void normal_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, float* out) {
  gen_range(keys, block, skip, n, out, normal_groups);
}

}  // namespace mmpref
