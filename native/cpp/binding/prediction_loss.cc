// noise.predictionLoss (ops/prediction_loss.h); arguments, grad like epsPred, weightTable [T] and
// gradScale's range declared in
// lib/ops/prediction_loss.args.ts: epsPred/eps float [B, ...] (same shape), grad epsPred-dtype or
// null, perSample/weightsOut float32 [B], loss float32 [] or [1], weights float32 [B] or null,
// weightTable float32 [T] or null (then t int32 [B] or tScalar pick the row). Every output is
// disjoint from every input and from the other outputs (declared: no inPlace).
#include "../ops/prediction_loss.h"
#include "args/prediction_loss.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::prediction_loss, PredictionLossArgs, prediction_loss, prepare) {
  const TensorView& p = c.t(A::epsPred);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (p.ndim < 1) return c.error(Code::kShape, "expected epsPred with a batch dimension but received a scalar");
  const int64_t B = p.shape[0];
  int64_t S = 1;
  for (int d = 1; d < p.ndim; ++d) S *= p.shape[d];
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::eps, A::epsPred));
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::perSample, {B}, "epsPred [B, ...]"));
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::weightsOut, {B}, "epsPred [B, ...]"));
  if (c.t(A::loss).numel != 1) return c.error(Code::kShape, "expected a 1-element loss but received " + shape_str(c.t(A::loss)));
  if (c.has(A::weights) && c.has(A::weightTable)) return c.error(Code::kArgument, "expected weights or a weight table, not both");
  if (c.has(A::weights)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::weights, {B}, "epsPred [B, ...]"));
  if (c.has(A::weightTable) && c.dim(A::dim::T) < 1) return c.error(Code::kShape, "expected a weight table of at least 1 step but received 0");
  if (c.has(A::t)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::t, {B}, "epsPred [B, ...]"));
  const TensorView& e = c.t(A::eps);
  job->args = PredictionLossArgs{p.data, p.dtype, e.data, e.dtype, c.t(A::grad).data, c.t(A::perSample).template ptr<float>(),
                                 c.t(A::weightsOut).template ptr<float>(), c.t(A::loss).template ptr<float>(), B, S,
                                 c.t(A::weights).template ptr<float>(), c.t(A::weightTable).template ptr<float>(),
                                 c.has(A::weightTable) ? c.dim(A::dim::T) : 0, c.t(A::t).template ptr<int32_t>(),
                                 int32_t(c.integer(A::tScalar)), float(c.number(A::gradScale)), p.device};
  return Status::Ok();
}

}  // namespace mmpref::napi
