// CPU similarity.cosine / similarity.filter: row norms (lane sums), then either the GEMM core
// (gemm_nt.h) with a dividing epilogue (all pairs) or one fused pass per row (paired). The filter
// takes the row max of the similarity matrix, in reference order.
#include <algorithm>
#include <vector>

#include "../core/half.h"
#include "../core/thread_pool.h"
#include "cosine.h"
#include "gemm_nt.h"

namespace mmpref {
namespace {

constexpr int kLanes = 16;

template <class T>
MMPREF_CPU_CLONES float row_norm(const T* x, int64_t n) {
  float acc[kLanes] = {0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float v = to_float(x[i + j]);
      acc[j] += v * v;
    }
  for (int j = 0; i < n; ++i, ++j) acc[j] += to_float(x[i]) * to_float(x[i]);
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += acc[j];
  return std::sqrt(s);
}

template <class T>
MMPREF_CPU_CLONES float paired_row(const T* x, const T* y, int64_t n) {
  float d[kLanes] = {0}, sx[kLanes] = {0}, sy[kLanes] = {0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float u = to_float(x[i + j]), v = to_float(y[i + j]);
      d[j] += u * v;
      sx[j] += u * u;
      sy[j] += v * v;
    }
  for (int j = 0; i < n; ++i, ++j) {
    const float u = to_float(x[i]), v = to_float(y[i]);
    d[j] += u * v;
    sx[j] += u * u;
    sy[j] += v * v;
  }
  float dot = 0.0f, nx = 0.0f, ny = 0.0f;
  for (int j = 0; j < kLanes; ++j) dot += d[j], nx += sx[j], ny += sy[j];
  return cosine_finish(dot, std::sqrt(nx), std::sqrt(ny));
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
  switch (a.dtype) {
    case DType::kFloat32: run<float>(a); break;
    case DType::kFloat16: run<half_t>(a); break;
    case DType::kBFloat16: run<bfloat16_t>(a); break;
    default:
      return make_status(Code::kDtype, std::string("cosine: expected float32, float16 or bfloat16 but received ") +
                                           dtype_name(a.dtype));
  }
  return Status::Ok();
}

}  // namespace mmpref
