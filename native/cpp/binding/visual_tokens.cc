// noise.visualTokens (ops/visual_tokens.h); arguments declared in lib/ops/visual_tokens.args.ts:
// x, out float [B, N, D] (out may be x), mask bool/uint8 [B, N], rows bool/uint8 [B] or null,
// scale 0 absolute, 1 token-rms, 2 token-std.
#include "../ops/visual_tokens.h"
#include "args/visual_tokens.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::visual_tokens, VisualTokensArgs, visual_tokens, prepare) {
  const TensorView& x = c.t(A::x);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.ndim_is(A::x, 3));
  const int64_t B = x.shape[0], N = x.shape[1], D = x.shape[2];
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::x, true));
  MMPREF_RETURN_IF_ERROR(c.shape_is(A::mask, {B, N}, "x [B, N, D]"));
  if (c.has(A::rows)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::rows, {B}, "x [B, N, D]"));
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::sigma, 0.0, kFloatMax));
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::prob, 0.0, 1.0));
  VisualTokensArgs& r = job->args;
  r.x = x.data;
  r.y = c.t(A::out).data;
  r.dtype = x.dtype;
  r.batch = B;
  r.tokens = N;
  r.dim = D;
  r.mask = c.t(A::mask).template ptr<uint8_t>();
  r.rows = c.has(A::rows) ? c.t(A::rows).template ptr<uint8_t>() : nullptr;
  r.sigma = float(c.number(A::sigma));
  r.scale = TokenScale(c.integer(A::scale));
  r.prob = float(c.number(A::prob));
  r.seed = c.u64(A::seed);
  r.offset = c.u64(A::offset);
  r.device = x.device;
  return Status::Ok();
}

}  // namespace mmpref::napi
