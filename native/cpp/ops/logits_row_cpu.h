// CPU row kernels over logits rows shared by sequence_logps.cc and cross_entropy.cc (math in
// sequence_logps.h): the row plan (what each row scores), the one-pass log-sum-exp of a row
// (row_lse) and the gradient row g * (onehot - softmax) (row_grad). Internal linkage: every
// including .cc gets its own copy (and its own MMPREF_CPU_CLONES resolvers).
#pragma once

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../core/half.h"
#include "sequence_logps.h"

namespace mmpref {
namespace {

constexpr int64_t kChunk = 4096;
constexpr int64_t kPrefix = 256;  // elements whose max gives a row's first reference
constexpr int kLanes = 32;  // two AVX-512 / four AVX2 registers per accumulator array
// Overflow guard: a chunk whose largest exponent y exceeds this is re-centred and summed again.
constexpr float kYMax = 64.0f;

// ---- row plan ---------------------------------------------------------------------------------

struct Plan {
  std::vector<int64_t> target;  // per row: token id, or -1 when the row scores nothing
  std::vector<int32_t> count;   // per sequence: scored rows
};

// Sequence b's rows [begin, end).
inline void seq_bounds(const LogpsRows& m, int64_t b, int64_t* begin, int64_t* end) {
  *begin = m.cu_seqlens ? int64_t(m.cu_seqlens[b]) : b * m.seq_len;
  *end = m.cu_seqlens ? int64_t(m.cu_seqlens[b + 1]) : *begin + m.seq_len;
}

// Serial scan of the labels (O(rows)): what each row scores; the first bad label is reported.
Status make_plan(const char* op, const LogpsRows& m, Plan* p) {
  if (m.cu_seqlens) MMPREF_RETURN_IF_ERROR(check_cu_seqlens(op, m.cu_seqlens, m.seqs, m.rows));
  p->target.assign(size_t(m.rows), -1);
  p->count.assign(size_t(m.seqs), 0);
  for (int64_t b = 0; b < m.seqs; ++b) {
    int64_t s0, s1;
    seq_bounds(m, b, &s0, &s1);
    for (int64_t r = s0; r < s1; ++r) {
      const int64_t li = label_index(r, s1, m.shift);
      if (li < 0) continue;
      const int64_t y = load_label(m.labels, m.label_dtype, li);
      if (y == m.ignore_index) continue;
      if (y < 0 || y >= m.vocab) return label_range_error(op, m, li, y);
      p->target[size_t(r)] = y;
      ++p->count[size_t(b)];
    }
  }
  return Status::Ok();
}

// ---- fast row kernels (vectorised by GCC in every MMPREF_CPU_CLONES clone) ---------------------

// Polynomial degree of 2^y per logits dtype (see exp2_poly).
template <class T>
constexpr int kDeg = std::is_same_v<T, float> ? 5 : 4;

struct Part {
  float ymax;   // largest clamped exponent y of the chunk
  float sum;    // sum of 2^y
  float probe;  // float32 inputs: sum of x, NaN iff the chunk holds a NaN (or +inf and -inf)
};

// NB: `lo` (= kExp2Lo) arrives as a run-time argument: given the literal, GCC if-converts the
// clamp into masked arithmetic on constants, which is slower than one vmaxps.
template <class T>
MMPREF_CPU_CLONES Part chunk_exp2_sum(const T* x, int64_t n, float c, float lo) {
  float acc[kLanes], ym[kLanes], pr[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    acc[j] = 0.0f;
    ym[j] = lo;
    pr[j] = 0.0f;
  }
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float v = to_float(x[i + j]);
      float y = fmaf(v, kLog2eF, -c);
      y = lo > y ? lo : y;  // NB: maxps(lo, y) keeps a NaN y, so NaN reaches the sum
      ym[j] = y > ym[j] ? y : ym[j];
      acc[j] += exp2_reduced<kDeg<T>>(y);
      if constexpr (std::is_same_v<T, float>) pr[j] += v;
    }
  for (int j = 0; i < n; ++i, ++j) {
    const float v = to_float(x[i]);
    float y = fmaf(v, kLog2eF, -c);
    y = lo > y ? lo : y;
    ym[j] = y > ym[j] ? y : ym[j];
    acc[j] += exp2_reduced<kDeg<T>>(y);
    if constexpr (std::is_same_v<T, float>) pr[j] += v;
  }
  Part p{lo, 0.0f, 0.0f};
  for (int j = 0; j < kLanes; ++j) {
    p.ymax = ym[j] > p.ymax ? ym[j] : p.ymax;
    p.sum += acc[j];
    p.probe += pr[j];
  }
  return p;
}

// Max of a chunk (NaN skipped) and probe = sum of x (NaN iff a NaN or both infinities).
template <class T>
MMPREF_CPU_CLONES float chunk_max(const T* x, int64_t n, float* probe) {
  float mx[kLanes], pr[kLanes];
  for (int j = 0; j < kLanes; ++j) {
    mx[j] = -kInf;
    pr[j] = 0.0f;
  }
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float v = to_float(x[i + j]);
      mx[j] = v > mx[j] ? v : mx[j];
      pr[j] += v;
    }
  for (int j = 0; i < n; ++i, ++j) {
    const float v = to_float(x[i]);
    mx[j] = v > mx[j] ? v : mx[j];
    pr[j] += v;
  }
  float m = -kInf, s = 0.0f;
  for (int j = 0; j < kLanes; ++j) {
    m = mx[j] > m ? mx[j] : m;
    s += pr[j];
  }
  *probe = s;
  return m;
}

// g[j] = scale * 2^(x[j]*L - c), 0 where x[j]*L - c < lo. g may equal x (in place): each block is
// computed into a local array first, so the vectoriser needs no alias check.
template <class T>
MMPREF_CPU_CLONES void grad_row(const T* x, T* g, int64_t n, float c, float scale, float lo) {
  int64_t i = 0;
  float e[kLanes];
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float y = fmaf(to_float(x[i + j]), kLog2eF, -c);
      const float p = exp2_reduced<kDeg<T>>(lo > y ? lo : y);
      e[j] = y < lo ? 0.0f : scale * p;  // -inf logits get exactly 0
    }
    for (int j = 0; j < kLanes; ++j) g[i + j] = from_float<T>(e[j]);
  }
  for (; i < n; ++i) {
    const float y = fmaf(to_float(x[i]), kLog2eF, -c);
    const float p = exp2_reduced<kDeg<T>>(lo > y ? lo : y);
    g[i] = from_float<T>(y < lo ? 0.0f : scale * p);
  }
}

// ---- bfloat16: two elements per 32-bit word ------------------------------------------------------
// NB: a bf16 value is the high half of its float32, so a word w holds the floats (w << 16) and
// (w & 0xffff0000): 1 op per 16 elements instead of a widening load plus a shift, and results go
// back the same way. Element order inside a row only assigns lanes, which are summed in a fixed
// order, so this changes no determinism. Rows are 2-byte aligned: an odd head element is scalar.

typedef uint32_t __attribute__((may_alias)) word_t;
constexpr int kPairLanes = kLanes / 2;

inline float bf16_lo(uint32_t w) { return bits_as_float(w << 16); }
inline float bf16_hi(uint32_t w) { return bits_as_float(w & 0xffff0000u); }
// float32 -> bfloat16 round to nearest even, result in the high half. NB: no NaN case (half.h
// has one): gradients here are finite, or NaN with zero low bits (from bf16 logits), which this
// keeps NaN.
inline uint32_t bf16_round_hi(float f) {
  const uint32_t u = float_as_bits(f);
  return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}

MMPREF_CPU_CLONES Part chunk_exp2_sum(const bfloat16_t* x, int64_t n, float c, float lo) {
  float acc_a[kPairLanes], acc_b[kPairLanes], ym_a[kPairLanes], ym_b[kPairLanes];
  for (int j = 0; j < kPairLanes; ++j) {
    acc_a[j] = acc_b[j] = 0.0f;
    ym_a[j] = ym_b[j] = lo;
  }
  const auto add = [&](float v, float* acc, float* ym, int j) {
    float y = fmaf(v, kLog2eF, -c);
    y = lo > y ? lo : y;
    ym[j] = y > ym[j] ? y : ym[j];
    acc[j] += exp2_reduced<4>(y);
  };
  int64_t i = 0;
  if (n > 0 && (reinterpret_cast<uintptr_t>(x) & 2)) add(to_float(x[i++]), acc_a, ym_a, 0);
  const word_t* w = reinterpret_cast<const word_t*>(x + i);
  const int64_t words = (n - i) / 2;
  int64_t k = 0;
  for (; k + kPairLanes <= words; k += kPairLanes)
    for (int j = 0; j < kPairLanes; ++j) {
      const uint32_t u = w[k + j];
      float ya = fmaf(bf16_lo(u), kLog2eF, -c);
      float yb = fmaf(bf16_hi(u), kLog2eF, -c);
      ya = lo > ya ? lo : ya;
      yb = lo > yb ? lo : yb;
      ym_a[j] = ya > ym_a[j] ? ya : ym_a[j];
      ym_b[j] = yb > ym_b[j] ? yb : ym_b[j];
      acc_a[j] += exp2_reduced<4>(ya);
      acc_b[j] += exp2_reduced<4>(yb);
    }
  for (int j = 0; k < words; ++k, ++j) {
    add(bf16_lo(w[k]), acc_a, ym_a, j);
    add(bf16_hi(w[k]), acc_b, ym_b, j);
  }
  if (i + 2 * words < n) add(to_float(x[n - 1]), acc_b, ym_b, kPairLanes - 1);
  Part p{lo, 0.0f, 0.0f};
  for (int j = 0; j < kPairLanes; ++j) {
    p.ymax = ym_a[j] > p.ymax ? ym_a[j] : p.ymax;
    p.ymax = ym_b[j] > p.ymax ? ym_b[j] : p.ymax;
    p.sum += acc_a[j];
    p.sum += acc_b[j];
  }
  return p;
}

// grad_row for bfloat16 when x and g have the same alignment mod 4 (always in place).
MMPREF_CPU_CLONES void grad_row_pairs(const bfloat16_t* x, bfloat16_t* g, int64_t n, float c, float scale,
                                      float lo) {
  const auto one = [&](float v) {
    const float y = fmaf(v, kLog2eF, -c);
    const float p = exp2_reduced<4>(lo > y ? lo : y);
    return y < lo ? 0.0f : scale * p;
  };
  int64_t i = 0;
  if (n > 0 && (reinterpret_cast<uintptr_t>(x) & 2)) {
    g[0] = bfloat16_t{uint16_t(bf16_round_hi(one(to_float(x[0]))) >> 16)};
    i = 1;
  }
  const word_t* w = reinterpret_cast<const word_t*>(x + i);
  word_t* o = reinterpret_cast<word_t*>(g + i);
  const int64_t words = (n - i) / 2;
  int64_t k = 0;
  uint32_t r[kPairLanes];
  for (; k + kPairLanes <= words; k += kPairLanes) {
    for (int j = 0; j < kPairLanes; ++j) {
      const uint32_t u = w[k + j];
      r[j] = (bf16_round_hi(one(bf16_lo(u))) >> 16) | bf16_round_hi(one(bf16_hi(u)));
    }
    __builtin_memcpy(static_cast<void*>(o + k), r, sizeof r);
  }
  for (; k < words; ++k) {
    const uint32_t u = w[k];
    o[k] = (bf16_round_hi(one(bf16_lo(u))) >> 16) | bf16_round_hi(one(bf16_hi(u)));
  }
  if (i + 2 * words < n) g[n - 1] = bfloat16_t{uint16_t(bf16_round_hi(one(to_float(x[n - 1]))) >> 16)};
}

// ---- per-row drivers --------------------------------------------------------------------------

// Run-time clamp bound (see chunk_exp2_sum).
volatile float g_exp2_lo = kExp2Lo;

inline bool ref_ok(float c) { return std::fabs(c) < kRefLimit; }  // false for NaN / inf too

// lse of one row through the fast path; false when the row needs row_lse_exact.
template <class T>
bool row_lse_fast(const T* x, int64_t n, float lo, double* out) {
  float c = 0.0f;
  bool have_ref = false;
  double s = 0.0;
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t len = std::min(kChunk, n - c0);
    const T* p = x + c0;
    // 1. reference: the max of a short prefix (a later, larger max re-centres c below), or of
    //    the whole chunk when the prefix is all -inf; a chunk of -inf contributes nothing
    if (!have_ref) {
      float probe;
      float m = chunk_max(p, std::min(len, kPrefix), &probe);
      if (m == -kInf && len > kPrefix) m = chunk_max(p, len, &probe);
      if (probe != probe) return false;
      if (m == -kInf) continue;
      c = m * kLog2eF;
      if (!ref_ok(c)) return false;
      have_ref = true;
    }
    // 2. sum of 2^(x*L - c) over the chunk
    Part q = chunk_exp2_sum(p, len, c, lo);
    if (q.probe != q.probe) return false;
    if (q.ymax > kYMax) {  // 3a. far above the reference: re-centre, sum again
      const float cn = c + q.ymax;
      if (!ref_ok(cn)) return false;
      s *= std::exp2(double(c) - double(cn));
      c = cn;
      q = chunk_exp2_sum(p, len, c, lo);
      if (!(q.ymax <= kYMax)) return false;
    }
    s += double(q.sum);
    if (q.ymax > 0.0f) {  // 3b. keep c at the running max so the next chunks see y <= 0
      const float cn = c + q.ymax;
      if (!ref_ok(cn)) return false;
      s *= std::exp2(double(c) - double(cn));
      c = cn;
    }
  }
  if (!have_ref) {  // every element -inf (or V = 0)
    *out = -double(kInf);
    return true;
  }
  if (!(s > 0.0 && s < double(kInf))) return false;  // a NaN (bf16/f16) reached the sum
  *out = lse_from_ref(c, s);
  return true;
}

// Exact lse in double: NaN anywhere -> NaN, else +inf anywhere -> +inf, all -inf -> -inf.
template <class T>
double row_lse_exact(const T* x, int64_t n) {
  double m = -double(kInf);
  for (int64_t j = 0; j < n; ++j) {
    const double v = to_float(x[j]);
    if (v != v) return v;
    m = v > m ? v : m;
  }
  if (m == double(kInf) || m == -double(kInf)) return m;
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) s += std::exp(double(to_float(x[j])) - m);
  return m + std::log(s);
}

template <class T>
double row_lse(const T* x, int64_t n, float lo) {
  double lse;
  if (row_lse_fast(x, n, lo, &lse)) return lse;
  return row_lse_exact(x, n);
}


// Writes g[0, V) = gb * (onehot(y) - softmax(x)) for a row with log-sum-exp lse (x may equal g:
// in place). -inf logits give exactly 0; the label term is computed in double.
template <class T>
void row_grad(const T* x, T* g, int64_t V, int64_t y, double lse, double gb, float lo) {
  const float x_label = to_float(x[y]);  // read before an in-place write
  const float cb = float(lse * kLog2eF);
  const double k = std::exp(double(cb) / double(kLog2eF) - lse);  // 1 +- 1e-7: c_b's rounding
  const float scale = float(-gb * k);
  if (ref_ok(cb) && std::fabs(scale) < kInf) {
    if constexpr (std::is_same_v<T, bfloat16_t>) {
      if (((reinterpret_cast<uintptr_t>(x) ^ reinterpret_cast<uintptr_t>(g)) & 3) == 0)
        grad_row_pairs(x, g, V, cb, scale, lo);
      else
        grad_row(x, g, V, cb, scale, lo);
    } else {
      grad_row(x, g, V, cb, scale, lo);
    }
  } else {  // non-finite lse or upstream gradient, huge logits: exact double formula
    for (int64_t j = 0; j < V; ++j)
      g[j] = from_float<T>(float(-gb * std::exp(double(to_float(x[j])) - lse)));
  }
  // the label: g * (1 - p_y), in double
  g[y] = from_float<T>(float(gb * (1.0 - std::exp(double(x_label) - lse))));
}

}  // namespace
}  // namespace mmpref
