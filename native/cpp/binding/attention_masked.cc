// attention.masked and attention.maskedBackward (ops/attention_masked.h); arguments declared in
// lib/ops/attention_masked.args.ts.
//   q/out [B, Hq, Tq, d], k/v [B, Hkv, Tbuf, d] (one float dtype), lse float32 [B, Hq, Tq],
//   keyMask bool/uint8 [B, L >= kvLength], kvLength <= Tbuf keys used.
#include <cmath>

#include "../ops/attention_masked.h"
#include "args/attention_masked.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "attention.masked";
using A = args::attention_masked;
using AttentionMaskedJob = LaunchJob<AttentionMaskedArgs, attention_masked_cpu, MMPREF_CUDA(attention_masked_cuda)>;

Status shape_error(const char* op, const std::string& what) { return make_status(Code::kShape, std::string(op) + ": " + what); }

// Shape relations shared by the forward and the backward (`op` names the one called).
Status check(const char* op, const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
             const TensorView* lse, const TensorView* mask, int64_t kv_len) {
  if (q.ndim != 4 || k.ndim != 4 || v.ndim != 4)
    return shape_error(op, "expected q, k and v with 4 dimensions [B, H, T, d] but received " + shape_str(q) + ", " +
                       shape_str(k) + ", " + shape_str(v));
  if (k.dtype != q.dtype || v.dtype != q.dtype || out.dtype != q.dtype)
    return make_status(Code::kDtype, std::string(op) + ": expected q, k, v and out of one dtype but received " +
                                         dtype_name(q.dtype) + ", " + dtype_name(k.dtype) + ", " +
                                         dtype_name(v.dtype) + ", " + dtype_name(out.dtype));
  for (int d = 0; d < 4; ++d)
    if (k.shape[d] != v.shape[d]) return shape_error(op, "expected k and v of one shape but received " + shape_str(k) + " and " + shape_str(v));
  if (out.ndim != 4 || out.numel != q.numel || [&] {
        for (int d = 0; d < 4; ++d)
          if (out.shape[d] != q.shape[d]) return true;
        return false;
      }())
    return shape_error(op, "expected out of shape " + shape_str(q) + " but received " + shape_str(out));
  if (k.shape[0] != q.shape[0]) return shape_error(op, "expected k with batch " + std::to_string(q.shape[0]) + " but received " + shape_str(k));
  if (k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0)
    return shape_error(op, "expected the query heads (" + std::to_string(q.shape[1]) +
                       ") to be a multiple of the kv heads but received " + std::to_string(k.shape[1]));
  if (k.shape[3] != q.shape[3]) return shape_error(op, "expected k with head dim " + std::to_string(q.shape[3]) + " but received " + shape_str(k));
  if (q.shape[3] < 1 || q.shape[3] > kAttnMaxHeadDim)
    return shape_error(op, "expected a head dim in [1, " + std::to_string(kAttnMaxHeadDim) + "] but received " + std::to_string(q.shape[3]));
  if (kv_len > k.shape[2])
    return make_status(Code::kRange, std::string(op) + ": expected kvLength <= " + std::to_string(k.shape[2]) +
                                         " (keys in k) but received " + std::to_string(kv_len));
  if (lse && (lse->ndim != 3 || lse->shape[0] != q.shape[0] || lse->shape[1] != q.shape[1] || lse->shape[2] != q.shape[2]))
    return shape_error(op, "expected lse of shape [" + std::to_string(q.shape[0]) + ", " + std::to_string(q.shape[1]) +
                       ", " + std::to_string(q.shape[2]) + "] but received " + shape_str(*lse));
  if (mask && (mask->ndim != 2 || mask->shape[0] != q.shape[0] || mask->shape[1] < kv_len))
    return shape_error(op, "expected keyMask of shape [" + std::to_string(q.shape[0]) + ", L >= " + std::to_string(kv_len) +
                       "] but received " + shape_str(*mask));
  return Status::Ok();
}

// The checks and fields the forward and the backward share (X: the generated argument indices of
// the op called; G: its Args struct, which names these fields alike).
template <class X, class G>
Status prepare_common(const Call& c, const char* op, const TensorView* lse, G& g) {
  const TensorView &q = c.t(X::q), &k = c.t(X::k), &v = c.t(X::v), &out = c.t(X::out);
  const double scale = c.number(X::scale);
  if (!std::isfinite(scale) || !std::isfinite(float(scale)))
    return c.error(Code::kRange, "expected a finite scale (as float32) but received " + std::to_string(scale));
  const int64_t kv_len = c.integer(X::kvLength);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(check(op, q, k, v, out, lse, c.opt(X::keyMask), kv_len));
  g.q = q.data;
  g.k = k.data;
  g.v = v.data;
  g.out = out.data;
  g.lse = lse ? lse->ptr<float>() : nullptr;
  g.key_mask = c.has(X::keyMask) ? c.t(X::keyMask).template ptr<uint8_t>() : nullptr;
  g.dtype = q.dtype;
  g.batch = q.shape[0];
  g.q_heads = q.shape[1];
  g.q_len = q.shape[2];
  g.head_dim = q.shape[3];
  g.kv_heads = k.shape[1];
  g.kv_buf_len = k.shape[2];
  g.kv_len = kv_len;
  g.mask_len = c.has(X::keyMask) ? c.t(X::keyMask).shape[1] : 0;
  g.scale = float(scale);
  g.causal = c.boolean(X::causal);
  g.query_offset = c.integer(X::queryOffset);
  g.device = q.device;
  return Status::Ok();
}

Status prepare(const Call& c, AttentionMaskedJob* job) { return prepare_common<A>(c, kOp, c.opt(A::lse), job->args); }

using AttentionMaskedBackwardJob =
    LaunchJob<AttentionMaskedBackwardArgs, attention_masked_backward_cpu, MMPREF_CUDA(attention_masked_backward_cuda)>;

// Backward: the forward's shape relations on (q, k, v, out, lse, keyMask), then dOut/dq like q and
// dk/dv like k, all in q's dtype.
Status prepare_backward(const Call& c, AttentionMaskedBackwardJob* job) {
  using B = args::attention_masked_backward;
  MMPREF_RETURN_IF_ERROR(prepare_common<B>(c, "attention.maskedBackward", &c.t(B::lse), job->args));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dOut, B::q, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dq, B::q, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dk, B::k, true));
  MMPREF_RETURN_IF_ERROR(c.same_shape(B::dv, B::k, true));
  AttentionMaskedBackwardArgs& g = job->args;
  g.d_out = c.t(B::dOut).data;
  g.dq = c.t(B::dq).data;
  g.dk = c.t(B::dk).data;
  g.dv = c.t(B::dv).data;
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::attention_masked, AttentionMaskedJob, prepare);
MMPREF_BIND_OP(args::attention_masked_backward, AttentionMaskedBackwardJob, prepare_backward);
}  // namespace mmpref::napi
