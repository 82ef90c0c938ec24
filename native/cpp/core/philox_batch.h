// Bulk Philox4x32-10 generation on the CPU, following the stream convention of philox.h and the
// element -> word mapping of normal.h, bit-identical to the scalar MMPREF_HD functions there (and
// so to CUDA).
//
// Every *_at / *_range function fills out[0..n) with n consecutive elements of the stream; any
// split of an index range into calls gives the same values, so callers may chunk freely (results
// never depend on the thread count).
//
// Speed: the integer Philox rounds use explicit AVX-512F / AVX2 kernels picked at run time
// (GCC does not find vpmuludq for the 32x32->64 multiplies on its own and its auto-vectorised
// code is ~2x slower); the float transforms (Box-Muller, uniforms) are plain loops compiled for
// AVX-512 / AVX2 / baseline by MMPREF_CPU_CLONES.
#pragma once

#include <cstdint>

namespace mmpref {

// Per-stream constants: the 10 round keys and the offset words of the counter.
struct PhiloxKeys {
  uint32_t k0[10], k1[10];
  uint32_t c2, c3;
};

PhiloxKeys philox_keys(uint64_t seed, uint64_t offset);

// Blocks per group; words are produced group by group in a "pair layout" that makes the
// Box-Muller pairs contiguous: for block j = 0..15 of group g (block block0 + 16 g + j),
//   out[64 g + 2 j] = word 0, out[64 g + 2 j + 1] = word 2      (A words, pairs' first halves)
//   out[64 g + 32 + 2 j] = word 1, out[64 g + 32 + 2 j + 1] = word 3   (B words)
// so element 2p of the group uses A[p] = out[64 g + p] and element 2p + 1 uses B[p].
constexpr int kPhiloxGroup = 16;

void philox_groups(const PhiloxKeys& keys, uint64_t block0, int64_t ngroups, uint32_t* out);

// n consecutive elements of the stream starting at element `skip` (0..3) of block `block`
// (block indices wrap modulo 2^64), as ...
void bits_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, uint32_t* out);  // raw words
void uniform_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, float* out);  // [0, 1)
void pm1_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, float* out);      // (-1, 1)
void normal_at(const PhiloxKeys& keys, uint64_t block, int skip, int64_t n, float* out);   // N(0, 1)

// Elements [e0, e0 + n) of the stream.
inline void bits_range(const PhiloxKeys& k, uint64_t e0, int64_t n, uint32_t* out) {
  bits_at(k, e0 >> 2, int(e0 & 3), n, out);
}
inline void uniform_range(const PhiloxKeys& k, uint64_t e0, int64_t n, float* out) {
  uniform_at(k, e0 >> 2, int(e0 & 3), n, out);
}
inline void pm1_range(const PhiloxKeys& k, uint64_t e0, int64_t n, float* out) {
  pm1_at(k, e0 >> 2, int(e0 & 3), n, out);
}
inline void normal_range(const PhiloxKeys& k, uint64_t e0, int64_t n, float* out) {
  normal_at(k, e0 >> 2, int(e0 & 3), n, out);
}

// Name of the Philox kernel in use: "avx512", "avx2" or "scalar".
const char* philox_kernel_name();

}  // namespace mmpref
