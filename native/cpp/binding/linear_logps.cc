// linearLogps and linearLogpsScale (ops/linear_logps.h); arguments and shapes declared in
// lib/ops/linear_logps.args.ts (hidden [..., H], lmHead [V, H], labels / perToken / lse [...],
// logps / counts [B], dHidden [..., H], dLmHead [V, H]; u / out [..., H], scale [B]). Here: padded
// [B, T, H] or packed [N, H] with cuSeqlens [B + 1] (logps_rows.h), B's value, the dtypes, and
// gradLogps exactly with a gradient output.
#include <string>

#include "../ops/linear_logps.h"
#include "args/linear_logps.h"
#include "logps_rows.h"

namespace mmpref::napi {
namespace {

MMPREF_LAUNCH_OP(args::linear_logps, LinearLogpsArgs, linear_logps, prepare) {
  LinearLogpsArgs& s = job->args;
  LogpsRows& m = s.map;
  const TensorView &hidden = c.t(A::hidden), &labels = c.t(A::labels);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.same_dtype(A::lmHead, A::hidden));
  MMPREF_RETURN_IF_ERROR(row_layout(c, A::hidden, A::cuSeqlens, "H", &m));
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::logps, {m.seqs}, "one per sequence"));
  if (c.has(A::gradLogps)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::gradLogps, {m.seqs}, "one per sequence"));
  const bool any_grad = c.has(A::dHidden) || c.has(A::dLmHead);
  if (any_grad != c.has(A::gradLogps))
    return c.error(Code::kArgument, "expected gradLogps exactly when dHidden or dLmHead is given but received " +
                                        std::string(c.has(A::gradLogps) ? "gradLogps without either" : "no gradLogps"));
  const TensorView* dh = c.opt(A::dHidden);
  if (dh && dh->dtype != hidden.dtype && dh->dtype != DType::kFloat32)
    return c.error(Code::kDtype, std::string("expected dHidden of float32 or ") + dtype_name(hidden.dtype) + " but received " + dtype_name(dh->dtype));
  m.vocab = c.dim(A::dim::V);
  m.labels = labels.data;
  m.label_dtype = labels.dtype;
  m.ignore_index = c.integer(A::ignoreIndex);
  m.shift = c.boolean(A::shift);
  m.average = c.boolean(A::average);
  s.d_hidden = dh ? dh->data : nullptr;
  if (dh) s.d_hidden_dtype = dh->dtype;
  s.d_head = c.has(A::dLmHead) ? c.t(A::dLmHead).template ptr<float>() : nullptr;
  s.hidden = hidden.data;
  s.head = c.t(A::lmHead).data;
  s.dtype = hidden.dtype;
  s.hidden_size = c.dim(A::dim::H);
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

MMPREF_LAUNCH_OP(args::linear_logps_scale, LinearLogpsScaleArgs, linear_logps_scale, prepare_scale) {
  LinearLogpsScaleArgs& s = job->args;
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(row_layout(c, A::u, A::cuSeqlens, "H", &s));
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::scale, {s.seqs}, "one per sequence"));
  s.hidden_size = c.dim(A::dim::H);
  s.u = c.t(A::u).template ptr<float>();
  s.scale = c.t(A::scale).template ptr<float>();
  s.out = c.t(A::out).data;
  s.dtype = c.t(A::out).dtype;
  s.device = c.t(A::u).device;
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi
