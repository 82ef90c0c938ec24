// Masked multi-head attention with an online (flash-style) softmax.
//
//   q [B, Hq, Tq, d], k/v [B, Hkv, Tbuf, d] of which the first Tk = kv_len keys are used
//   (GQA/MQA: query head h reads kv head h / (Hq / Hkv)), d <= 256.
//   s_j   = scale * <q_i, k_j>                         scores of query row i against key j < Tk
//   keep_j = key_mask[b, j] && (!causal || j <= query_offset + i)
//   out_i = sum_{j kept} softmax_j(s) v_j              (zeros when no key is kept)
//   lse_i = log sum_{j kept} exp(s_j)                  (-inf when no key is kept)
//
// Keys are folded in one at a time into a running state (m = max score so far, l = sum of
// exp(s - m), acc = sum of exp(s - m) v); two states over disjoint key sets merge with
// (m, l, acc) = (max, l_a w_a + l_b w_b, acc_a w_a + acc_b w_b), w_x = exp(m_x - m). So no
// [Tq, Tk] score matrix exists anywhere, and a split of the keys (CPU: fixed-size key splits for
// decode; CUDA: split-K) is merged exactly like the blocks inside one pass.
//
// NB: float32 accumulation for every dtype; q is multiplied by `scale` once (float32) before the
// dot products; exp is exp_nonpos (core/math.h), whose arguments are always <= 0 here. A row whose
// keys are all masked never leaves the empty state (m = -inf, l = 0) and writes zeros / -inf,
// never NaN. NaN inputs propagate to the rows that see them: a kept key with a NaN score makes the
// row's out and lse NaN (the block max becomes NaN; l stays NaN through every later rescale).
// Reference: FlashAttention-2 (Dao, 2023) Algorithm 1; the split merge is FlashDecoding's.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

constexpr int kAttnMaxHeadDim = 256;

struct AttentionMaskedArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;             // [B, Hq, Tq, d], dtype of q
  float* lse = nullptr;            // optional [B, Hq, Tq]
  const uint8_t* key_mask = nullptr;  // optional [B, mask_len] (1 = may attend), mask_len >= kv_len
  DType dtype = DType::kFloat32;   // q, k, v and out
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, head_dim = 0;
  int64_t kv_buf_len = 0;  // Tbuf: key stride of k/v (a KV cache's capacity)
  int64_t kv_len = 0;      // Tk <= kv_buf_len: keys actually used
  int64_t mask_len = 0;
  float scale = 1.0f;
  bool causal = false;
  int64_t query_offset = 0;  // absolute position of query row 0 (causal only)
  int device = -1;
};

// CPU work decomposition (fixed by the shape, never by the thread count):
// - rows of one work item: the G = Hq / Hkv query heads sharing a kv head times a tile of
//   max(1, kAttnCpuTileRows / G) queries, so every K/V block is converted once for G heads;
// - decode (Tq <= kAttnSplitMaxQueries): keys are also split into fixed kAttnCpuSplitKeys ranges,
//   each a work item, merged afterwards per row in split order.
constexpr int64_t kAttnCpuTileRows = 32;
constexpr int64_t kAttnSplitMaxQueries = 4;
constexpr int64_t kAttnCpuSplitKeys = 512;
// CUDA split-K for decode: keys per split.
constexpr int64_t kAttnCudaSplitKeys = 256;

// Online-softmax state of one row (acc kept by the caller).
struct AttnRowState {
  float m;  // running max of the kept scores (-inf while empty)
  float l;  // sum of exp(s - m) over the kept keys
};

MMPREF_HD AttnRowState attn_empty() { return AttnRowState{-kInf, 0.0f}; }

// Weight that rescales a state with max `m_old` to the new max `m_new` >= m_old: exp(m_old -
// m_new), and 0 for an empty state (m_old = -inf) so that -inf - -inf never produces NaN.
MMPREF_HD float attn_rescale(float m_old, float m_new) {
  return m_old == -kInf ? 0.0f : exp_nonpos(m_old - m_new);
}

// Final values of a row: 1 / l (0 for an empty row, so the output is zeros) and the lse.
MMPREF_HD float attn_inv_l(AttnRowState st) { return st.l > 0.0f ? 1.0f / st.l : 0.0f; }
MMPREF_HD float attn_lse(AttnRowState st) { return st.l == 0.0f ? -kInf : st.m + logf(st.l); }  // NaN l: NaN

// Last key (inclusive) query row i may see: Tk - 1 without causal masking.
// (A: AttentionMaskedArgs or AttentionMaskedBackwardArgs.)
template <class A>
MMPREF_HD int64_t attn_last_key(const A& a, int64_t i) {
  if (!a.causal) return a.kv_len - 1;
  const int64_t last = a.query_offset + i;
  return last < a.kv_len - 1 ? last : a.kv_len - 1;
}

Status attention_masked_cpu(const AttentionMaskedArgs& a);
Status attention_masked_cuda(const AttentionMaskedArgs& a);

// ---- backward (attention.maskedBackward; CPU ops/attention_masked_backward.cc, CUDA
// cuda/attention_masked_backward.cu) -------------------------------------------------------------
//
// FlashAttention-2's backward (Dao 2023, Algorithm 2) from the forward's out and lse, the same
// masks (keep_ij as above):
//   D_i   = sum_t dO_it O_it
//   P_ij  = exp(scale <q_i, k_j> - lse_i)              (0 where not kept; recomputed, never stored)
//   dV_j  = sum_i P_ij dO_i          dP_ij = <dO_i, v_j>          dS_ij = P_ij (dP_ij - D_i)
//   dQ_i  = scale sum_j dS_ij k_j    dK_j  = scale sum_i dS_ij q_i
// dK/dV of a kv head sum over the G query heads that read it; keys >= kv_len get zeros; a row
// with lse = -inf (no kept key) contributes nothing and gets dQ = 0.
// NB: float32 throughout; q is scaled once (float32) as in the forward, so P is recomputed from the
// same scaled scores; exp is exp_approx (s - lse may round to slightly above 0). Deterministic:
// every dK/dV element and every dQ element is summed by one owner in an order fixed by the shape.
struct AttentionMaskedBackwardArgs {
  const void* d_out = nullptr;  // [B, Hq, Tq, d], dtype
  const void* q = nullptr;
  const void* k = nullptr;      // [B, Hkv, Tbuf, d]
  const void* v = nullptr;
  const void* out = nullptr;    // [B, Hq, Tq, d] (the forward's output)
  const float* lse = nullptr;   // [B, Hq, Tq] (the forward's lse)
  void* dq = nullptr;           // [B, Hq, Tq, d], dtype
  void* dk = nullptr;           // [B, Hkv, Tbuf, d], dtype
  void* dv = nullptr;
  const uint8_t* key_mask = nullptr;
  DType dtype = DType::kFloat32;
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, head_dim = 0;
  int64_t kv_buf_len = 0, kv_len = 0, mask_len = 0;
  float scale = 1.0f;
  bool causal = false;
  int64_t query_offset = 0;
  int device = -1;
};

// P_ij from the scaled score s and the row's lse: 0 for a masked key (s = -inf) or an empty row
// (lse = -inf, handled by the callers: such rows are skipped).
MMPREF_HD float attn_bwd_prob(float s, float lse) { return s == -kInf ? 0.0f : exp_approx(s - lse); }

Status attention_masked_backward_cpu(const AttentionMaskedBackwardArgs& a);
Status attention_masked_backward_cuda(const AttentionMaskedBackwardArgs& a);

}  // namespace mmpref
