// ops.crossEntropy (ops/cross_entropy.h); arguments declared in lib/ops/cross_entropy.args.ts:
// logits float [B, T, V] (labels [B, T]) or [N, V] (labels [N], one sequence), gradOut float32
// [rows] or null, losses float32 [rows], loss float32 [1], count int32 [1], grad logits-dtype
// [rows, V] or null (may be exactly the logits: declared inPlace; any other overlap is refused).
// labels is an index argument: the op checks and uses a private copy.
#include <cstdint>

#include "../ops/cross_entropy.h"
#include "args/cross_entropy.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::cross_entropy, CrossEntropyArgs, cross_entropy, prepare) {
  const TensorView &logits = c.t(A::logits), &labels = c.t(A::labels);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  CrossEntropyArgs& s = job->args;
  LogpsRows& m = s.map;
  if (logits.ndim == 3) {
    MMPREF_RETURN_IF_ERROR(c.shape_is(A::labels, {logits.shape[0], logits.shape[1]}, "logits " + shape_str(logits)));
    m.seqs = logits.shape[0];
    m.seq_len = logits.shape[1];
  } else if (logits.ndim == 2) {
    MMPREF_RETURN_IF_ERROR(c.shape_is(A::labels, {logits.shape[0]}, "logits " + shape_str(logits)));
    m.seqs = 1;
    m.seq_len = logits.shape[0];
  } else {
    return c.error(Code::kShape, "expected logits of shape [B, T, V] or [N, V] but received " + shape_str(logits));
  }
  m.rows = m.seqs * m.seq_len;
  if (m.rows > INT32_MAX) return c.error(Code::kShape, "expected at most 2^31 - 1 logits rows but received " + std::to_string(m.rows));
  if (m.rows == 0) m.seqs = 0;  // no rows: nothing maps (and no division by seq_len = 0)
  m.vocab = logits.shape[logits.ndim - 1];
  m.labels = labels.data;
  m.label_dtype = labels.dtype;
  m.ignore_index = c.integer(A::ignoreIndex);
  m.shift = c.boolean(A::shift);
  m.average = false;
  if (c.has(A::gradOut)) MMPREF_RETURN_IF_ERROR(c.numel_is(A::gradOut, m.rows, "one per logits row"));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::losses, m.rows, "one per logits row"));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::loss, 1, "a scalar"));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::count, 1, "a scalar"));
  if (c.has(A::grad)) {
    MMPREF_RETURN_IF_ERROR(c.same_dtype(A::grad, A::logits));
    MMPREF_RETURN_IF_ERROR(c.numel_is(A::grad, logits.numel, "the logits' shape"));
  }
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::gradScale, -kFloatMax, kFloatMax));
  s.logits = logits.data;
  s.dtype = logits.dtype;
  s.grad_out = c.has(A::gradOut) ? c.t(A::gradOut).template ptr<float>() : nullptr;
  s.losses = c.t(A::losses).template ptr<float>();
  s.loss = c.t(A::loss).template ptr<float>();
  s.count = c.t(A::count).template ptr<int32_t>();
  s.grad = c.has(A::grad) ? c.t(A::grad).data : nullptr;
  s.mean = c.boolean(A::mean);
  s.grad_scale = c.number(A::gradScale);
  s.device = logits.device;
  return Status::Ok();
}

}  // namespace mmpref::napi
