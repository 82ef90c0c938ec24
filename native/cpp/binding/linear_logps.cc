// linearLogps and linearLogpsScale (ops/linear_logps.h); arguments declared in
// lib/ops/linear_logps.args.ts. Padded hidden [B, T, H] with labels [B, T]; packed hidden [N, H]
// with labels [N] and cuSeqlens int32 [B + 1]; lmHead [V, H] in hidden's dtype.
#include <string>

#include "../ops/linear_logps.h"
#include "args/linear_logps.h"

namespace mmpref::napi {
namespace {

MMPREF_LAUNCH_OP(args::linear_logps, LinearLogpsArgs, linear_logps, prepare) {
  LinearLogpsArgs& s = job->args;
  LogpsRows& m = s.map;
  const TensorView &hidden = c.t(A::hidden), &head = c.t(A::lmHead), &labels = c.t(A::labels);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::lmHead, A::hidden));
  if (head.ndim != 2) return c.error(Code::kShape, "expected lmHead of shape [V, H] but received " + shape_str(head));
  if (!c.has(A::cuSeqlens)) {
    if (hidden.ndim != 3) return c.error(Code::kShape, "expected hidden of shape [B, T, H] but received " + shape_str(hidden));
    MMPREF_RETURN_IF_ERROR(c.shape_is(A::labels, {hidden.shape[0], hidden.shape[1]}, "hidden " + shape_str(hidden)));
    m.seqs = hidden.shape[0];
    m.seq_len = hidden.shape[1];
    m.rows = m.seqs * m.seq_len;
  } else {
    const TensorView& cu = c.t(A::cuSeqlens);
    if (hidden.ndim != 2) return c.error(Code::kShape, "expected packed hidden of shape [N, H] but received " + shape_str(hidden));
    MMPREF_RETURN_IF_ERROR(c.shape_is(A::labels, {hidden.shape[0]}, "hidden " + shape_str(hidden)));
    if (cu.ndim != 1 || cu.shape[0] < 1) return c.error(Code::kShape, "expected cuSeqlens of shape [B + 1] but received " + shape_str(cu));
    m.seqs = cu.shape[0] - 1;
    m.rows = hidden.shape[0];
    m.cu_seqlens = cu.ptr<int32_t>();
  }
  const int64_t H = hidden.shape[hidden.ndim - 1], V = head.shape[0];
  if (head.shape[1] != H)
    return c.error(Code::kShape, "expected lmHead of shape [V, " + std::to_string(H) + "] (from hidden " + shape_str(hidden) +
                                     ") but received " + shape_str(head));
  m.vocab = V;
  m.labels = labels.data;
  m.label_dtype = labels.dtype;
  m.ignore_index = c.integer(A::ignoreIndex);
  m.shift = c.boolean(A::shift);
  m.average = c.boolean(A::average);
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::logps, m.seqs, "one per sequence"));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::counts, m.seqs, "one per sequence"));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::perToken, m.rows, "one per label"));
  if (c.has(A::lse)) MMPREF_RETURN_IF_ERROR(c.numel_is(A::lse, m.rows, "one per hidden row"));
  if (c.has(A::gradLogps)) MMPREF_RETURN_IF_ERROR(c.numel_is(A::gradLogps, m.seqs, "one per sequence"));
  const bool any_grad = c.has(A::dHidden) || c.has(A::dLmHead);
  if (any_grad != c.has(A::gradLogps))
    return c.error(Code::kArgument, "expected gradLogps exactly when dHidden or dLmHead is given but received " +
                                        std::string(c.has(A::gradLogps) ? "gradLogps without either" : "no gradLogps"));
  if (c.has(A::dHidden)) {
    const TensorView& dh = c.t(A::dHidden);
    if (dh.dtype != hidden.dtype && dh.dtype != DType::kFloat32)
      return c.error(Code::kDtype, std::string("expected dHidden of float32 or ") + dtype_name(hidden.dtype) + " but received " +
                                       dtype_name(dh.dtype));
    MMPREF_RETURN_IF_ERROR(c.numel_is(A::dHidden, hidden.numel, "hidden's shape"));
    s.d_hidden = dh.data;
    s.d_hidden_dtype = dh.dtype;
  }
  if (c.has(A::dLmHead)) {
    MMPREF_RETURN_IF_ERROR(c.numel_is(A::dLmHead, head.numel, "lmHead's shape"));
    s.d_head = c.t(A::dLmHead).template ptr<float>();
  }
  s.hidden = hidden.data;
  s.head = head.data;
  s.dtype = hidden.dtype;
  s.hidden_size = H;
  s.logps = c.t(A::logps).template ptr<float>();
  s.counts = c.t(A::counts).template ptr<int32_t>();
  s.per_token = c.t(A::perToken).template ptr<float>();
  s.lse = c.has(A::lse) ? c.t(A::lse).template ptr<float>() : nullptr;
  s.grad_logps = c.has(A::gradLogps) ? c.t(A::gradLogps).template ptr<float>() : nullptr;
  s.token_mean = c.boolean(A::tokenMean);
  s.chunk = c.integer(A::chunk);
  s.device = hidden.device;
  return Status::Ok();
}

// u [B, T, H] (scale [B]) or packed u [N, H] with cuSeqlens [B + 1] (scale [B]); out u's shape.
MMPREF_LAUNCH_OP(args::linear_logps_scale, LinearLogpsScaleArgs, linear_logps_scale, prepare_scale) {
  LinearLogpsScaleArgs& s = job->args;
  const TensorView &u = c.t(A::u), &scale = c.t(A::scale);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (!c.has(A::cuSeqlens)) {
    if (u.ndim != 3) return c.error(Code::kShape, "expected u of shape [B, T, H] but received " + shape_str(u));
    s.seqs = u.shape[0];
    s.seq_len = u.shape[1];
    s.rows = s.seqs * s.seq_len;
  } else {
    const TensorView& cu = c.t(A::cuSeqlens);
    if (u.ndim != 2) return c.error(Code::kShape, "expected packed u of shape [N, H] but received " + shape_str(u));
    if (cu.ndim != 1 || cu.shape[0] < 1) return c.error(Code::kShape, "expected cuSeqlens of shape [B + 1] but received " + shape_str(cu));
    s.seqs = cu.shape[0] - 1;
    s.rows = u.shape[0];
    s.cu_seqlens = cu.ptr<int32_t>();
  }
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::scale, s.seqs, "one per sequence"));
  MMPREF_RETURN_IF_ERROR(c.numel_is(A::out, u.numel, "u's shape"));
  s.hidden_size = u.shape[u.ndim - 1];
  s.u = u.ptr<float>();
  s.scale = scale.ptr<float>();
  s.out = c.t(A::out).data;
  s.dtype = c.t(A::out).dtype;
  s.device = u.device;
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi
