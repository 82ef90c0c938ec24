// ops.crossEntropy: the SFT loss (token-mean negative log-likelihood), PyTorch F.cross_entropy
// semantics (ignore_index, reduction) with Hugging Face's causal shift, and its gradient with
// respect to the logits fused into the same pass over each row (Liger-Kernel's fused
// cross-entropy). Rows and labels map as in sequence_logps.h (LogpsRows, `average` unused): with
// shift, row r of a sequence scores labels[r + 1] and its last row scores nothing. For a scored
// row r with label y:
//
//   loss[r] = lse(z_r) - z_r[y]                                  (0 for rows that score nothing)
//   total   = sum_r loss[r]        (mean: / n, n = #scored rows; 0 when n = 0, where PyTorch
//                                   gives NaN)
//   dz_r    = s_r * (softmax(z_r) - onehot(y)),   s_r = gradScale * gradOut[r]? / (mean ? n : 1)
//   dz_r    = 0 on rows that score nothing
//
// Numerics: lse is sequence_logps' one-pass log-sum-exp (float32 lanes, double across chunks /
// in the merge), loss[r] = lse - z[y] in double, the total a double sum in row order (CPU) or a
// fixed-shape tree (CUDA). The gradient row is sequence_logps' backward row with gb = -s_r.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/status.h"
#include "sequence_logps.h"

namespace mmpref {

struct CrossEntropyArgs {
  LogpsRows map;                    // seqs = B, seq_len = T ([N, V]: one sequence of N rows)
  const void* logits = nullptr;     // [rows, vocab]
  DType dtype = DType::kFloat32;
  const float* grad_out = nullptr;  // [rows] per-row upstream gradient, or null (1)
  float* losses = nullptr;          // [rows]: loss[r], 0 where nothing is scored
  float* loss = nullptr;            // [1]: total (mean: / n)
  int32_t* count = nullptr;         // [1]: n
  void* grad = nullptr;             // [rows, vocab] logits' dtype, may equal logits; null: no grad
  bool mean = true;
  double grad_scale = 1.0;
  int device = -1;
};

Status cross_entropy_cpu(const CrossEntropyArgs& a);
Status cross_entropy_cuda(const CrossEntropyArgs& a);

// Per-row gradient scale s_r (see above): n scored rows.
MMPREF_HD double cross_entropy_scale(const CrossEntropyArgs& a, int64_t r, int64_t n) {
  double s = a.grad_scale;
  if (a.grad_out) s *= double(a.grad_out[r]);
  if (a.mean) s /= double(n > 1 ? n : 1);
  return s;
}

}  // namespace mmpref
