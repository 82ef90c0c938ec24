// CPU NEFTune: 1. per row, the number of real tokens (lengths are range-checked first, before
// anything is written) and the noise magnitude; 2. positions in parallel, noise generated in
// 1024-element L1 chunks and added.
#include "neftune.h"

#include <algorithm>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "noise_cpu.h"

namespace mmpref {
namespace {

template <class T>
void run(const NeftuneArgs& a, const std::vector<float>& mag) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const PhiloxKeys keys = philox_keys(a.seed, a.offset);
  const int64_t npos = a.batch * a.seq, D = a.dim;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1));
  parallel_for(npos, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / a.seq, n = p % a.seq;
      const bool real = a.lengths ? n < a.lengths[b] : a.mask ? a.mask[p] != 0 : true;
      const float m = mag[size_t(b)];
      if (real && m != 0.0f)
        add_noise_row(keys, RowNoise::kPm1, x + p * D, y + p * D, p * D, D, m);
      else
        keep_row(x + p * D, y + p * D, D);
    }
  });
}

}  // namespace

Status neftune_cpu(const NeftuneArgs& a) {
  std::vector<float> mag(size_t(a.batch));
  for (int64_t b = 0; b < a.batch; ++b) {
    int64_t count = a.seq;
    if (a.lengths) {
      const int32_t len = a.lengths[b];
      if (len < 0 || int64_t(len) > a.seq)
        return make_status(Code::kRange, "noise.neftune: expected lengths in [0, " + std::to_string(a.seq) +
                                             "] but received " + std::to_string(len) + " for row " +
                                             std::to_string(b));
      count = len;
    } else if (a.mask) {
      count = 0;
      for (int64_t n = 0; n < a.seq; ++n) count += a.mask[b * a.seq + n] != 0;
    }
    mag[size_t(b)] = neftune_magnitude(a.alpha, a.padded_norm, count, a.seq, a.dim);
  }
  return dispatch_float(a.dtype, "noise.neftune", [&](auto t) { run<decltype(t)>(a, mag); });
}

}  // namespace mmpref
