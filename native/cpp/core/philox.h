// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// generator behind cuRAND's Philox and Random123. Counter-based: a word depends only on
// (seed, offset, index), so results are identical for any thread count or CUDA launch shape.
//
// Stream convention (all mmpref ops): a (seed, offset) pair names an infinite stream of uint32
// words; block b (b = 0, 1, ...) is philox4x32_10(counter = {b_lo, b_hi, offset_lo, offset_hi},
// key = {seed_lo, seed_hi}) and holds words 4b..4b+3. Ops document which word indices each
// element consumes (usually element i uses block i/4 or its own block i).
#pragma once

#include <cstdint>

#include "hd.h"

namespace mmpref {

struct Philox4 {
  uint32_t v[4];
};

MMPREF_HD uint32_t mulhi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return uint32_t((uint64_t(a) * uint64_t(b)) >> 32);
#endif
}

MMPREF_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                uint32_t k1) {
  const uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  const uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = mulhi32(kM0, c0), lo0 = kM0 * c0;
    const uint32_t hi1 = mulhi32(kM1, c2), lo1 = kM1 * c2;
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Block `block` of the stream (seed, offset).
MMPREF_HD Philox4 philox_block(uint64_t seed, uint64_t offset, uint64_t block) {
  return philox4x32_10(uint32_t(block), uint32_t(block >> 32), uint32_t(offset),
                       uint32_t(offset >> 32), uint32_t(seed), uint32_t(seed >> 32));
}

// uint32 -> float in [0, 1): the top 24 bits times 2^-24 (every value exactly representable).
MMPREF_HD float uniform01(uint32_t w) { return float(w >> 8) * 5.9604644775390625e-8f; }

// uint32 -> float in (0, 1]: safe as a log() argument.
MMPREF_HD float uniform01_open0(uint32_t w) {
  return float((w >> 8) + 1u) * 5.9604644775390625e-8f;
}

}  // namespace mmpref
