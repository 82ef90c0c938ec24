// BDHS image-key mask (Amirloo et al. 2024, METHODS.md §5.1): every image key of a batch row is
// blocked independently with probability `ratio`, the same for every head, layer and decode step.
//
//   u(b, p)       = uniform01(word b * 2^32 + p of the Philox stream (seed, offset))
//                 = (word (p mod 4) of philox_block(seed, offset, b * 2^30 + floor(p / 4))) >> 8, times 2^-24
//   blocked(b, p) = p lies in one of row b's spans  and  u(b, p) < ratio
//   out[b, p]     = base[b, p] (1 without a base)  and  not blocked(b, p)      (1 = may attend)
//
// u depends only on (seed, offset, b, p): not on the mask length, the call, the head or the layer,
// so a prefill over T keys and every later decode step see the same keys blocked. `u < ratio` is
// evaluated exactly as (word >> 8) < ceil(ratio * 2^24): ratio 0 blocks nothing, ratio 1 blocks
// every image key. Keys outside the spans are never blocked. Positions p < 2^32, rows b < 2^32.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/philox.h"
#include "../core/status.h"

namespace mmpref {

struct ImageKeySpan {
  int64_t row, start, length;
};

struct ImageKeyMaskArgs {
  std::vector<ImageKeySpan> spans;  // validated: in range, non-overlapping within a row
  const uint8_t* base = nullptr;    // optional [B, L] (nonzero = may attend)
  uint8_t* out = nullptr;           // [B, L] bool
  int64_t batch = 0, length = 0;
  uint32_t threshold = 0;  // ceil(ratio * 2^24), in [0, 2^24]
  uint64_t seed = 0, offset = 0;
  int device = -1;
};

// ceil(ratio * 2^24) for ratio in [0, 1] (exact: the product is a scaled double).
inline uint32_t image_key_threshold(double ratio) {
  const double t = ratio * 16777216.0;
  const uint32_t fl = uint32_t(t);
  return double(fl) == t ? fl : fl + 1u;
}

MMPREF_HD bool image_key_blocked(uint64_t seed, uint64_t offset, int64_t b, int64_t p, uint32_t threshold) {
  const Philox4 r = philox_block(seed, offset, (uint64_t(b) << 30) + (uint64_t(p) >> 2));
  return (r.v[p & 3] >> 8) < threshold;
}

Status image_key_mask_cpu(const ImageKeyMaskArgs& a);
Status image_key_mask_cuda(const ImageKeyMaskArgs& a);

}  // namespace mmpref
