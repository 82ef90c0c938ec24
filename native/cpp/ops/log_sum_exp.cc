// CPU logSumExp: rows (or fixed 16384-column blocks of long rows) in parallel; inside a block,
// 2048-element chunks in two passes (max, then sum of exp) so the data is read from memory once
// and the second pass hits L1; 32 independent lanes per pass so the loops vectorise.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/math.h"
#include "../core/thread_pool.h"
#include "log_sum_exp.h"

namespace mmpref {
namespace {

constexpr int kChunk = 2048;
constexpr int kLanes = 32;  // two AVX-512 (four AVX2) accumulators: breaks the add chain

// (max, sum exp(x - max)) of one block, merged chunk by chunk in order.
// NB: the max pass is a plain max (one vmaxps per vector), which skips NaN; a NaN then shows up
// as a NaN sum (exp_nonpos(NaN) = NaN), and chunks whose max is +-inf, where the sum is skipped,
// are scanned for NaN explicitly. A NaN anywhere makes the state NaN, which lse_merge keeps.
template <class T>
MMPREF_CPU_CLONES LseState lse_block(const T* x, int64_t n) {
  LseState st = lse_empty();
  alignas(64) float buf[kChunk];
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int len = int(std::min<int64_t>(kChunk, n - c0));
    const T* p = x + c0;
    // 1. chunk max (half types: converted into the L1 buffer in the same pass)
    float mx[kLanes];
    for (int j = 0; j < kLanes; ++j) mx[j] = -kInf;
    const float* v = nullptr;
    int i = 0;
    if constexpr (std::is_same_v<T, float>) {
      v = p;
      for (; i + kLanes <= len; i += kLanes)
        for (int j = 0; j < kLanes; ++j) mx[j] = v[i + j] > mx[j] ? v[i + j] : mx[j];
    } else {
      for (; i + kLanes <= len; i += kLanes)
        for (int j = 0; j < kLanes; ++j) {
          const float e = to_float(p[i + j]);
          buf[i + j] = e;
          mx[j] = e > mx[j] ? e : mx[j];
        }
      for (int k = i; k < len; ++k) buf[k] = to_float(p[k]);
      v = buf;
    }
    for (int j = 0; i < len; ++i, ++j) mx[j] = v[i] > mx[j] ? v[i] : mx[j];
    float m = mx[0];
    for (int j = 1; j < kLanes; ++j) m = mx[j] > m ? mx[j] : m;
    if (m == -kInf || m == kInf) {  // rare: all -inf/NaN, or a +inf
      bool nan = false;
      for (int k = 0; k < len; ++k) nan |= v[k] != v[k];
      if (nan) return LseState{__builtin_nanf(""), 0.0f};
      if (m == kInf) st = lse_merge(st, LseState{kInf, 0.0f});
      continue;
    }
    // 2. sum of exp(x - m), every argument <= 0
    float acc[kLanes] = {0};
    i = 0;
    for (; i + kLanes <= len; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += exp_nonpos(v[i + j] - m);
    for (int j = 0; i < len; ++i, ++j) acc[j] += exp_nonpos(v[i] - m);
    float s = 0.0f;
    for (int j = 0; j < kLanes; ++j) s += acc[j];
    if (s != s) return LseState{s, 0.0f};  // a NaN in this chunk
    st = lse_merge(st, LseState{m, s});
  }
  return st;
}

template <class T>
void run(const LogSumExpArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const int64_t rows = a.rows, cols = a.cols;
  const int64_t blocks = std::max<int64_t>(1, (cols + kLseBlockCols - 1) / kLseBlockCols);
  if (blocks == 1) {
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1));
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) a.y[r] = lse_finish(lse_block(x + r * cols, cols));
    });
    return;
  }
  // Long rows: every (row, block) is a work item; partials are merged per row in block order.
  std::vector<LseState> part(size_t(rows * blocks));
  parallel_for(rows * blocks, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r = i / blocks, b = i % blocks;
      const int64_t c0 = b * kLseBlockCols, len = std::min(kLseBlockCols, cols - c0);
      part[size_t(i)] = lse_block(x + r * cols + c0, len);
    }
  });
  for (int64_t r = 0; r < rows; ++r) {
    LseState st = lse_empty();
    for (int64_t b = 0; b < blocks; ++b) st = lse_merge(st, part[size_t(r * blocks + b)]);
    a.y[r] = lse_finish(st);
  }
}

}  // namespace

Status log_sum_exp_cpu(const LogSumExpArgs& a) {
  return dispatch_float(a.dtype, "logSumExp", [&](auto t) { run<decltype(t)>(a); });
}

}  // namespace mmpref
