// Fused linear + sequence log-probs (and their gradient) straight from hidden states and the
// lm_head, never materialising the logits [N, V]: Liger-Kernel's fused-linear preference losses
// (`LigerFusedLinearDPOLoss`), Apple's cut-cross-entropy; METHODS.md §6.1 for the log-probs.
//
// hidden X [N, H] (rows of `seqs` sequences, padded or packed as in sequence_logps.h), lm_head
// W [V, H]. Rows are processed in chunks of `chunk` rows; for each chunk c:
//   1. Z_c = X_c W^T                    float32 [chunk, V] buffer (GEMM NT, float32 accumulation)
//   2. lse, lp per row of Z_c           sequence_logps_{cpu,cuda} on the chunk (one "sequence" per
//                                       row, shift off, labels = the row's target): bit-identical
//                                       row math to dpo.sequenceLogps on float32 logits
//   3. with grad_logps (g_b = dL/dlogp_b, / max(n_b, 1) with average; with token_mean
//      g_b / max(sum_b n_b, 1) instead, the SFT token mean):
//      G_c = g * (onehot(y) - softmax(Z_c)) in place (logps_backward_{cpu,cuda} with the chunk's
//      lse), rounded to the inputs' dtype when they are float16/bfloat16 (the GEMMs take one dtype)
//      dX_c = G_c W                       (GEMM NN, out: d_hidden's dtype)
//      dW  += G_c^T X_c                   (GEMM TN, float32, accumulated over chunks in order)
// Peak extra memory: chunk * V * (4 + 2 for half inputs with a gradient) bytes + O(N) plan.
// Determinism: every GEMM's bits are independent of the thread count (gemm.h); dW additionally
// depends on the chunk size (the K = rows sum is split at chunk boundaries), nothing else does.
//
// linear_logps_scale: out[r, :] = s[seq(r)] * u[r, :] (float32 u, output rounded once to its
// dtype): the frozen-head DPO step computes u = (onehot - softmax) W with g = 1 in the same pass
// as the log-probs, then scales by the loss gradient, so it needs no second pass.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "../core/dtype.h"
#include "../core/status.h"
#include "sequence_logps.h"

namespace mmpref {

struct LinearLogpsArgs {
  LogpsRows map;                  // rows = N, vocab = V (labels / cu_seqlens on the op's device)
  const void* hidden = nullptr;   // [rows, hidden_size]
  const void* head = nullptr;     // [vocab, hidden_size], hidden's dtype
  DType dtype = DType::kFloat32;
  int64_t hidden_size = 0;
  float* logps = nullptr;         // [seqs]
  int32_t* counts = nullptr;      // [seqs]
  float* per_token = nullptr;     // [rows], aligned with labels
  float* lse = nullptr;           // [rows] or null
  const float* grad_logps = nullptr;  // [seqs] or null (no gradient)
  bool token_mean = false;        // g_b / total scored tokens (instead of / n_b with average)
  void* d_hidden = nullptr;       // [rows, hidden_size] or null
  DType d_hidden_dtype = DType::kFloat32;  // float32 or hidden's dtype
  float* d_head = nullptr;        // [vocab, hidden_size] float32 or null; always accumulated into
  int64_t chunk = 1;              // rows per chunk (>= 1)
  int device = -1;
};

struct LinearLogpsScaleArgs {
  const float* u = nullptr;       // [rows, hidden_size]
  void* out = nullptr;            // [rows, hidden_size], dtype
  DType dtype = DType::kFloat32;
  const float* scale = nullptr;   // [seqs]
  const int32_t* cu_seqlens = nullptr;  // [seqs + 1] or null (padded: seq_len rows each)
  int64_t seqs = 0, rows = 0, seq_len = 0, hidden_size = 0;
  int device = -1;
};

Status linear_logps_cpu(const LinearLogpsArgs& a);
Status linear_logps_cuda(const LinearLogpsArgs& a);
Status linear_logps_scale_cpu(const LinearLogpsScaleArgs& a);
Status linear_logps_scale_cuda(const LinearLogpsScaleArgs& a);

// ---- host plan shared by the CPU and CUDA drivers (labels and cu_seqlens in host memory) -------

struct LinearLogpsPlan {
  std::vector<int64_t> target;  // per row: token id or -1 (the chunk's labels, ignore_index -1)
  std::vector<int32_t> count;   // per sequence: scored rows
  std::vector<int32_t> iota;    // 0..rows: one chunk "sequence" per row
  std::vector<float> row_grad;  // per row: the gradient of its lp (with grad_logps)
};

// The chunks [r0, r0 + n): runs of consecutive scored rows cut into pieces of at most `chunk` rows.
// Rows that score nothing (prompt, padding, image tokens) are never multiplied: their lse and
// dHidden are 0, and they add nothing to dLmHead.
std::vector<std::pair<int64_t, int64_t>> linear_logps_chunks(const LinearLogpsPlan& p, int64_t chunk);
// Checks cu_seqlens and the labels (ERR_RANGE as sequenceLogps) and fills the plan.
Status linear_logps_plan(const char* op, const LogpsRows& m, const float* grad_logps, bool token_mean,
                         LinearLogpsPlan* p);
// From per-row lp (row-aligned): per_token (label-aligned, 0 elsewhere), logps and counts.
void linear_logps_finish(const LogpsRows& m, const LinearLogpsPlan& p, const float* lp_row, float* per_token,
                         float* logps, int32_t* counts);
// The chunk [r0, r0 + n) as a LogpsRows map over `labels` (the plan's targets, on any device) and
// `iota` (0..n on the same device).
LogpsRows linear_logps_chunk_map(const LogpsRows& m, const int64_t* labels, const int32_t* iota, int64_t r0,
                                 int64_t n);

}  // namespace mmpref
