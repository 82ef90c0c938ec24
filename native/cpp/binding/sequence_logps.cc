// sequenceLogps and logpsBackward (ops/sequence_logps.h); arguments and shapes declared in
// lib/ops/sequence_logps.args.ts (logits [..., V], labels and the backward's lse [...], logps /
// counts / gradLogps [B], out like logits). Here the relations a pattern cannot say: padded logits
// [B, T, V] without cuSeqlens, packed [N, V] with cuSeqlens [B + 1]; B is the sequences.
// labels and cuSeqlens are index arguments: the op checks and uses private copies (a concurrent
// writer cannot move an address after the check).
#include <string>

#include "../ops/sequence_logps.h"
#include "args/sequence_logps.h"
#include "logps_rows.h"

namespace mmpref::napi {
namespace {

// Fills the row map from logits, labels, cuSeqlens and the flags (same names in both decls);
// `per_seq` is the argument with one value per sequence (declared [B]).
template <class A>
Status read_rows(const Call& c, int per_seq, LogpsRows* m) {
  const TensorView& labels = c.t(A::labels);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(row_layout(c, A::logits, A::cuSeqlens, "V", m));
  MMPREF_RETURN_IF_ERROR(c.shape_is(per_seq, {m->seqs}, "one per sequence"));
  m->vocab = c.dim(A::dim::V);
  m->labels = labels.data;
  m->label_dtype = labels.dtype;
  m->ignore_index = c.integer(A::ignoreIndex);
  m->shift = c.boolean(A::shift);
  m->average = c.boolean(A::average);
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::sequence_logps, SequenceLogpsArgs, sequence_logps, prepare_forward) {
  SequenceLogpsArgs& s = job->args;
  MMPREF_RETURN_IF_ERROR(read_rows<A>(c, A::logps, &s.map));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::perToken, s.map.rows, "one per label"));
  if (c.has(A::lse)) MMPREF_RETURN_IF_ERROR(c.numel_is(A::lse, s.map.rows, "one per logits row"));
  const TensorView& logits = c.t(A::logits);
  s.logits = logits.data;
  s.dtype = logits.dtype;
  s.logps = c.t(A::logps).template ptr<float>();
  s.counts = c.t(A::counts).template ptr<int32_t>();
  s.per_token = c.t(A::perToken).template ptr<float>();
  s.lse = c.has(A::lse) ? c.t(A::lse).template ptr<float>() : nullptr;
  s.device = logits.device;
  return Status::Ok();
}

// NB: out is either the logits buffer itself (declared inPlace) or disjoint from it (Call checks):
// a partial overlap would let one row's gradient overwrite logits another row has not read yet.
MMPREF_LAUNCH_OP(args::logps_backward, LogpsBackwardArgs, logps_backward, prepare_backward) {
  LogpsBackwardArgs& s = job->args;
  MMPREF_RETURN_IF_ERROR(read_rows<A>(c, A::gradLogps, &s.map));
  const TensorView& logits = c.t(A::logits);
  s.logits = logits.data;
  s.grad = c.t(A::out).data;
  s.dtype = logits.dtype;
  s.grad_logps = c.t(A::gradLogps).template ptr<float>();
  s.lse = c.has(A::lse) ? c.t(A::lse).template ptr<float>() : nullptr;
  s.device = logits.device;
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi
