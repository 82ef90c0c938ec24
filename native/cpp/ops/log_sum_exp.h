// logSumExp over the last dimension.
//
//   y[r] = log(sum_j exp(x[r, j])) = m + log(sum_j exp(x[r, j] - m)),  m = max_j x[r, j]
//
// x: float32 / float16 / bfloat16 [..., C] (C may be 0), y: float32 [...]. Accumulates in float32.
// Special cases (as torch.logsumexp): a row of -inf (or C = 0) gives -inf, not NaN; any +inf gives
// +inf; any NaN gives NaN. Subtracting the max keeps every exp argument <= 0, so |x| up to FLT_MAX
// is safe. Gradient (not exposed): dy/dx[r, j] = exp(x[r, j] - y[r]) = softmax.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/status.h"

namespace mmpref {

struct LogSumExpArgs {
  const void* x = nullptr;
  float* y = nullptr;
  DType dtype = DType::kFloat32;
  int64_t rows = 0;
  int64_t cols = 0;
  int device = -1;
};

// Columns per CPU work item. Fixed (never derived from the thread count) so that the summation
// order, and so every bit of the result, is the same for any MMPREF_NUM_THREADS.
constexpr int64_t kLseBlockCols = 16384;

Status log_sum_exp_cpu(const LogSumExpArgs& a);
Status log_sum_exp_cuda(const LogSumExpArgs& a);

}  // namespace mmpref
