// CPU similarity.cosine / similarity.filter: row norms (lane vectors, core/lanes.h), then either the GEMM core
// (gemm_nt.h) with a dividing epilogue (all pairs) or one fused pass per row (paired). The filter
// takes the row max of the similarity matrix, in reference order.
#include <algorithm>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/lanes.h"
#include "../core/thread_pool.h"
#include "cosine.h"
#include "gemm_nt.h"

namespace mmpref {
namespace {

// Lane accumulation over a row; the K tail goes through one zero-padded vector.
template <class T>
MMPREF_LANES_INLINE void load_tail(const T* x, int64_t n, lanes_t* v) {
  alignas(64) float buf[kLaneWidth] = {0};
  for (int64_t i = 0; i < n; ++i) buf[i] = to_float(x[i]);
  load_lanes(buf, v);
}

template <class T>
MMPREF_CPU_CLONES float row_norm(const T* x, int64_t n) {
  lanes_t acc = {};
  const int64_t nv = n / kLaneWidth * kLaneWidth;
  for (int64_t i = 0; i < nv; i += kLaneWidth) {
    lanes_t v;
    load_lanes(x + i, &v);
    acc += v * v;
  }
  if (nv < n) {
    lanes_t v;
    load_tail(x + nv, n - nv, &v);
    acc += v * v;
  }
  return std::sqrt(lane_sum(acc));
}

template <class T>
MMPREF_CPU_CLONES float paired_row(const T* x, const T* y, int64_t n) {
  lanes_t d = {}, sx = {}, sy = {}, u, v;
  const int64_t nv = n / kLaneWidth * kLaneWidth;
  for (int64_t i = 0; i < nv; i += kLaneWidth) {
    load_lanes(x + i, &u);
    load_lanes(y + i, &v);
    d += u * v;
    sx += u * u;
    sy += v * v;
  }
  if (nv < n) {
    load_tail(x + nv, n - nv, &u);
    load_tail(y + nv, n - nv, &v);
    d += u * v;
    sx += u * u;
    sy += v * v;
  }
  return cosine_finish(lane_sum(d), std::sqrt(lane_sum(sx)), std::sqrt(lane_sum(sy)));
}

template <class T>
void norms(const T* x, int64_t rows, int64_t e, float* out) {
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(e, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) out[r] = row_norm(x + r * e, e);
  });
}

template <class T>
void run(const CosineArgs& a) {
  const T* x = static_cast<const T*>(a.a);
  const T* y = static_cast<const T*>(a.b);
  if (a.paired) {
    parallel_for(a.n, std::max<int64_t>(1, 8192 / std::max<int64_t>(a.e, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float c = paired_row(x + r * a.e, y + r * a.e, a.e);
        if (a.keep) a.keep[r] = c < a.threshold;
        else a.out[r] = c;
      }
    });
    return;
  }
  std::vector<float> na(size_t(a.n)), nb(size_t(a.m));
  norms(x, a.n, a.e, na.data());
  norms(y, a.m, a.e, nb.data());
  std::vector<float> scratch;
  float* sim = a.out;
  if (a.keep) {
    scratch.resize(size_t(a.n * a.m));
    sim = scratch.data();
  }
  const int64_t m_total = a.m;
  gemm_nt_cpu(x, y, a.n, a.m, a.e, [&](int64_t r0, int64_t c0, int rows, int cols, const float* c, int ldc) {
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < cols; ++j)
        sim[(r0 + r) * m_total + c0 + j] = cosine_finish(c[r * ldc + j], na[size_t(r0 + r)], nb[size_t(c0 + j)]);
  });
  if (a.keep) {
    for (int64_t r = 0; r < a.n; ++r) {
      bool keep = true;  // NB: NaN < threshold is false, so a NaN similarity drops the candidate
      for (int64_t j = 0; j < a.m; ++j) keep = keep && sim[r * a.m + j] < a.threshold;
      a.keep[r] = keep;
    }
  }
}

}  // namespace

Status cosine_cpu(const CosineArgs& a) {
  return dispatch_float(a.dtype, "cosine", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref
