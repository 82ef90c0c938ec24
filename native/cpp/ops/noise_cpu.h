// CPU loops shared by the noise ops (visual_tokens, diffuse, neftune): elementwise noise
// application, per-row float32 reductions (fixed-lane loops that GCC vectorises under
// MMPREF_CPU_CLONES; they run inside one work item with a fixed lane order, so their results never
// depend on the thread count), and the per-row "add noise or keep" steps of the token-wise ops.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../core/half.h"
#include "../core/philox_batch.h"
#include "../core/thread_pool.h"

namespace mmpref {
// Internal linkage: every .cc that includes this gets its own clones (no cross-TU ifunc symbols).
namespace {

// Noise is generated in L1-resident chunks of this many elements.
constexpr int64_t kNoiseChunk = 1024;
constexpr int kSumLanes = 16;

// y[i] = x[i] + s * z[i] in float32 (one fma), rounded once to T. x and y may be the same array.
template <class T>
MMPREF_CPU_CLONES void add_scaled(const T* x, const float* z, int64_t n, float s, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = from_float<T>(fmaf(s, z[i], to_float(x[i])));
}

template <class T>
MMPREF_CPU_CLONES float row_sum(const T* x, int64_t n) {
  float acc[kSumLanes] = {0};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) acc[j] += to_float(x[i + j]);
  for (int j = 0; i < n; ++i, ++j) acc[j] += to_float(x[i]);
  float s = 0.0f;
  for (int j = 0; j < kSumLanes; ++j) s += acc[j];
  return s;
}

template <class T>
MMPREF_CPU_CLONES float sum_squares(const T* x, int64_t n) {
  float acc[kSumLanes] = {0};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) {
      const float v = to_float(x[i + j]);
      acc[j] = fmaf(v, v, acc[j]);
    }
  for (int j = 0; i < n; ++i, ++j) {
    const float v = to_float(x[i]);
    acc[j] = fmaf(v, v, acc[j]);
  }
  float s = 0.0f;
  for (int j = 0; j < kSumLanes; ++j) s += acc[j];
  return s;
}

// sum (x - mean)^2: the second pass of a two-pass variance (the row is in L1 by then).
template <class T>
MMPREF_CPU_CLONES float sum_sq_dev(const T* x, int64_t n, float mean) {
  float acc[kSumLanes] = {0};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) {
      const float v = to_float(x[i + j]) - mean;
      acc[j] = fmaf(v, v, acc[j]);
    }
  for (int j = 0; i < n; ++i, ++j) {
    const float v = to_float(x[i]) - mean;
    acc[j] = fmaf(v, v, acc[j]);
  }
  float s = 0.0f;
  for (int j = 0; j < kSumLanes; ++j) s += acc[j];
  return s;
}

enum class RowNoise { kNormal, kPm1 };

// One row of D elements whose first element is stream element e0:
// y = x + s * g (g = normals or symmetric uniforms), generated in L1 chunks; x and y may alias.
template <class T>
void add_noise_row(const PhiloxKeys& keys, RowNoise kind, const T* x, T* y, int64_t e0, int64_t D, float s) {
  alignas(64) float g[kNoiseChunk];
  for (int64_t c = 0; c < D; c += kNoiseChunk) {
    const int64_t len = std::min(kNoiseChunk, D - c);
    if (kind == RowNoise::kNormal)
      normal_range(keys, uint64_t(e0 + c), len, g);
    else
      pm1_range(keys, uint64_t(e0 + c), len, g);
    add_scaled(x + c, g, len, s, y + c);
  }
}

// An untouched row: copied bit for bit out of place, left alone in place.
template <class T>
void keep_row(const T* x, T* y, int64_t D) {
  if (y != x) std::memcpy(y, x, size_t(D) * sizeof(T));
}

}  // namespace
}  // namespace mmpref
