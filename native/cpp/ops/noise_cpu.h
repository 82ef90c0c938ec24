// CPU loops shared by the noise ops (visual_tokens, diffuse, neftune): elementwise noise
// application and per-row float32 reductions, written as fixed-lane loops that GCC vectorises
// under MMPREF_CPU_CLONES. Reductions run inside one work item with a fixed lane order, so their
// results never depend on the thread count.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/half.h"
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

}  // namespace
}  // namespace mmpref
