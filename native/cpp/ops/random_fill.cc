// CPU random fill: fixed 4096-element chunks in parallel (chunk c starts 1024 c blocks after the
// first one); each chunk is generated into an L1
// buffer by the bulk Philox generator, then scaled, shifted and rounded to the output dtype.
#include "random_fill.h"

#include <algorithm>
#include <cmath>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/philox_batch.h"
#include "../core/thread_pool.h"

namespace mmpref {
namespace {

template <class T>
MMPREF_CPU_CLONES void affine_store(const float* v, int64_t n, float a, float b, T* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = from_float<T>(random_affine(v[i], a, b));
}

void run_bits(const RandomFillArgs& a, const PhiloxKeys& keys) {
  uint32_t* out = static_cast<uint32_t*>(a.out);
  const int64_t chunks = (a.n + kRandomChunk - 1) / kRandomChunk;
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t e0 = c * kRandomChunk;  // a multiple of 4: block start_block + e0 / 4
      bits_at(keys, a.start_block + uint64_t(e0 / 4), a.start_skip, std::min(kRandomChunk, a.n - e0), out + e0);
    }
  });
}

template <class T>
void run(const RandomFillArgs& a, const PhiloxKeys& keys) {
  T* out = static_cast<T*>(a.out);
  const int64_t chunks = (a.n + kRandomChunk - 1) / kRandomChunk;
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    alignas(64) float buf[kRandomChunk];
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t e0 = c * kRandomChunk, len = std::min(kRandomChunk, a.n - e0);
      const uint64_t block = a.start_block + uint64_t(e0 / 4);  // e0 is a multiple of 4
      if (a.kind == RandomKind::kUniform)
        uniform_at(keys, block, a.start_skip, len, buf);
      else
        normal_at(keys, block, a.start_skip, len, buf);
      affine_store<T>(buf, len, a.a, a.b, out + e0);
    }
  });
}

}  // namespace

Status random_fill_cpu(const RandomFillArgs& a) {
  const PhiloxKeys keys = philox_keys(a.seed, a.offset);
  if (a.kind == RandomKind::kBits) {
    if (a.dtype != DType::kInt32)
      return make_status(Code::kDtype, std::string("random.bits: expected an int32 output but received ") +
                                           dtype_name(a.dtype));
    run_bits(a, keys);
    return Status::Ok();
  }
  return dispatch_float(a.dtype, "random", [&](auto t) { run<decltype(t)>(a, keys); });
}

}  // namespace mmpref
