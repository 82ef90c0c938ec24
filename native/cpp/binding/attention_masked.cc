// attention.masked and attention.maskedBackward (ops/attention_masked.h); arguments and shapes
// declared in lib/ops/attention_masked.args.ts (q/out [B, Hq, Tq, D], k/v [B, Hkv, T, D], lse
// float32 [B, Hq, Tq], keyMask bool/uint8 [B, L]; the backward's dOut/out/dq like q, dk/dv like k).
// Here the relations a pattern cannot say, with the wrapper's messages (lib/ops/attention_masked.ts).
#include <cmath>

#include "../ops/attention_masked.h"
#include "args/attention_masked.h"

namespace mmpref::napi {
namespace {

// The checks and fields the forward and the backward share (X: the generated argument indices of
// the op called; G: its Args struct, which names these fields alike).
template <class X, class G>
Status prepare_common(const Call& c, G& g) {
  const TensorView &q = c.t(X::q), &k = c.t(X::k), &v = c.t(X::v), &out = c.t(X::out);
  const int64_t hq = c.dim(X::dim::Hq), hkv = c.dim(X::dim::Hkv), d = c.dim(X::dim::D), kv_len = c.integer(X::kvLength);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  if (k.dtype != q.dtype || v.dtype != q.dtype)
    return c.error(Code::kDtype, std::string("expected q, k and v of one dtype but received ") + dtype_name(q.dtype) + ", " + dtype_name(k.dtype) +
                                     " and " + dtype_name(v.dtype));
  if (out.dtype != q.dtype)
    return c.error(Code::kDtype, std::string("expected q, k, v and out of one dtype but received ") + dtype_name(q.dtype) + ", " +
                                     dtype_name(k.dtype) + ", " + dtype_name(v.dtype) + ", " + dtype_name(out.dtype));
  if (d < 1 || d > kAttnMaxHeadDim)
    return c.error(Code::kShape, "expected a head dim d in [1, " + std::to_string(kAttnMaxHeadDim) + "] but received q " + shape_str(q));
  if (hkv < 1 || hq % hkv != 0)
    return c.error(Code::kShape, "expected the query heads Hq = " + std::to_string(hq) + " to be a multiple of the kv heads but received Hkv = " +
                                     std::to_string(hkv) + " (k " + shape_str(k) + ")");
  const double scale = c.number(X::scale);
  if (!std::isfinite(scale) || !std::isfinite(float(scale)))
    return c.error(Code::kRange, "expected a finite scale (as float32) but received " + std::to_string(scale));
  if (kv_len > c.dim(X::dim::T))
    return c.error(Code::kRange, "expected kvLength <= " + std::to_string(c.dim(X::dim::T)) + " (keys in k) but received " + std::to_string(kv_len));
  const TensorView* mask = c.opt(X::keyMask);
  if (mask && c.dim(X::dim::L) < kv_len)
    return c.error(Code::kShape, "expected keyMask of shape [" + std::to_string(c.dim(X::dim::B)) + ", L] with L >= " + std::to_string(kv_len) +
                                     " (kvLength) but received " + shape_str(*mask));
  g.q = q.data;
  g.k = k.data;
  g.v = v.data;
  g.out = out.data;
  g.key_mask = mask ? mask->ptr<uint8_t>() : nullptr;
  g.dtype = q.dtype;
  g.batch = c.dim(X::dim::B);
  g.q_heads = hq;
  g.q_len = c.dim(X::dim::Tq);
  g.head_dim = d;
  g.kv_heads = hkv;
  g.kv_buf_len = c.dim(X::dim::T);
  g.kv_len = kv_len;
  g.mask_len = mask ? c.dim(X::dim::L) : 0;
  g.scale = float(scale);
  g.causal = c.boolean(X::causal);
  g.query_offset = c.integer(X::queryOffset);
  g.device = q.device;
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::attention_masked, AttentionMaskedArgs, attention_masked, prepare) {
  MMPREF_RETURN_IF_ERROR((prepare_common<A>(c, job->args)));
  job->args.lse = c.has(A::lse) ? c.t(A::lse).template ptr<float>() : nullptr;
  return Status::Ok();
}

MMPREF_LAUNCH_OP(args::attention_masked_backward, AttentionMaskedBackwardArgs, attention_masked_backward, prepare_backward) {
  MMPREF_RETURN_IF_ERROR((prepare_common<A>(c, job->args)));
  AttentionMaskedBackwardArgs& g = job->args;
  g.lse = c.t(A::lse).template ptr<float>();
  g.d_out = c.t(A::dOut).data;
  g.dq = c.t(A::dq).data;
  g.dk = c.t(A::dk).data;
  g.dv = c.t(A::dv).data;
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi
