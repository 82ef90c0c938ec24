// noise.visualTokens (ops/visual_tokens.h); arguments, shapes x [B, N, D], out like x (may be x),
// mask bool/uint8 [B, N], rows bool/uint8 [B] or null and the ranges of sigma and prob declared
// in lib/ops/visual_tokens.args.ts; scale 0 absolute, 1 token-rms, 2 token-std.
#include "../ops/visual_tokens.h"
#include "args/visual_tokens.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::visual_tokens, VisualTokensArgs, visual_tokens, prepare) {
  const TensorView& x = c.t(A::x);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  VisualTokensArgs& r = job->args;
  r.x = x.data;
  r.y = c.t(A::out).data;
  r.dtype = x.dtype;
  r.batch = c.dim(A::dim::B);
  r.tokens = c.dim(A::dim::N);
  r.dim = c.dim(A::dim::D);
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
