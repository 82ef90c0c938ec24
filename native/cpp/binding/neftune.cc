// noise.neftune (ops/neftune.h); arguments declared in lib/ops/neftune.args.ts: embeds, out float
// [B, L, D] (out may be embeds), lengths int32 [B] or mask bool/uint8 [B, L] (not both).
#include "../ops/neftune.h"
#include "args/neftune.h"

namespace mmpref::napi {
MMPREF_LAUNCH_OP(args::neftune, NeftuneArgs, neftune, prepare) {
  const TensorView& x = c.t(A::embeds);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(c.ndim_is(A::embeds, 3));
  const int64_t B = x.shape[0], L = x.shape[1], D = x.shape[2];
  MMPREF_RETURN_IF_ERROR(c.same_shape(A::out, A::embeds, true));
  if (c.has(A::lengths) && c.has(A::mask)) return c.error(Code::kArgument, "expected lengths or mask, not both");
  if (c.has(A::lengths)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::lengths, {B}, "embeds [B, L, D]"));
  if (c.has(A::mask)) MMPREF_RETURN_IF_ERROR(c.shape_is(A::mask, {B, L}, "embeds [B, L, D]"));
  MMPREF_RETURN_IF_ERROR(c.finite_in(A::alpha, 0.0, kFloatMax));
  NeftuneArgs& r = job->args;
  r.x = x.data;
  r.y = c.t(A::out).data;
  r.dtype = x.dtype;
  r.batch = B;
  r.seq = L;
  r.dim = D;
  r.lengths = c.has(A::lengths) ? c.t(A::lengths).template ptr<int32_t>() : nullptr;
  r.mask = c.has(A::mask) ? c.t(A::mask).template ptr<uint8_t>() : nullptr;
  r.alpha = float(c.number(A::alpha));
  r.padded_norm = c.boolean(A::paddedNorm);
  r.seed = c.u64(A::seed);
  r.offset = c.u64(A::offset);
  r.device = x.device;
  return Status::Ok();
}

}  // namespace mmpref::napi
