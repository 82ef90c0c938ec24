// ops.crossEntropy (ops/cross_entropy.h); arguments, shapes and gradScale's range declared in
// lib/ops/cross_entropy.args.ts: logits [..., V] with labels, gradOut (or null) and losses [...],
// loss and count [1], grad (or null) like the logits (or exactly the logits: inPlace). Here only
// the rank: [B, T, V] (B sequences) or [N, V] (one sequence).
// labels is an index argument: the op checks and uses a private copy.
#include <cstdint>

#include "../ops/cross_entropy.h"
#include "args/cross_entropy.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::cross_entropy, CrossEntropyArgs, cross_entropy, prepare) {
  const TensorView &logits = c.t(A::logits), &labels = c.t(A::labels);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (logits.ndim != 2 && logits.ndim != 3) return c.error(Code::kShape, "expected logits of shape [B, T, V] or [N, V] but received " + shape_str(logits));
  CrossEntropyArgs& s = job->args;
  LogpsRows& m = s.map;
  m.rows = c.lead_numel();
  if (m.rows > INT32_MAX) return c.error(Code::kShape, "expected at most 2^31 - 1 logits rows but received " + std::to_string(m.rows));
  m.seqs = m.rows == 0 ? 0 : logits.ndim == 3 ? logits.shape[0] : 1;  // no rows: nothing maps (and no division by seq_len = 0)
  m.seq_len = logits.shape[logits.ndim - 2];
  m.vocab = c.dim(A::dim::V);
  m.labels = labels.data;
  m.label_dtype = labels.dtype;
  m.ignore_index = c.integer(A::ignoreIndex);
  m.shift = c.boolean(A::shift);
  m.average = false;
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
