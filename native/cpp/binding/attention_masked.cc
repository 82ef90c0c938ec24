// attention.masked (ops/attention_masked.h); arguments declared in lib/ops/attention_masked.args.ts.
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

Status shape_error(const std::string& what) { return make_status(Code::kShape, std::string(kOp) + ": " + what); }

Status check(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
             const TensorView* lse, const TensorView* mask, int64_t kv_len) {
  if (q.ndim != 4 || k.ndim != 4 || v.ndim != 4)
    return shape_error("expected q, k and v with 4 dimensions [B, H, T, d] but received " + shape_str(q) + ", " +
                       shape_str(k) + ", " + shape_str(v));
  if (k.dtype != q.dtype || v.dtype != q.dtype || out.dtype != q.dtype)
    return make_status(Code::kDtype, std::string(kOp) + ": expected q, k, v and out of one dtype but received " +
                                         dtype_name(q.dtype) + ", " + dtype_name(k.dtype) + ", " +
                                         dtype_name(v.dtype) + ", " + dtype_name(out.dtype));
  for (int d = 0; d < 4; ++d)
    if (k.shape[d] != v.shape[d]) return shape_error("expected k and v of one shape but received " + shape_str(k) + " and " + shape_str(v));
  if (out.ndim != 4 || out.numel != q.numel || [&] {
        for (int d = 0; d < 4; ++d)
          if (out.shape[d] != q.shape[d]) return true;
        return false;
      }())
    return shape_error("expected out of shape " + shape_str(q) + " but received " + shape_str(out));
  if (k.shape[0] != q.shape[0]) return shape_error("expected k with batch " + std::to_string(q.shape[0]) + " but received " + shape_str(k));
  if (k.shape[1] < 1 || q.shape[1] % k.shape[1] != 0)
    return shape_error("expected the query heads (" + std::to_string(q.shape[1]) +
                       ") to be a multiple of the kv heads but received " + std::to_string(k.shape[1]));
  if (k.shape[3] != q.shape[3]) return shape_error("expected k with head dim " + std::to_string(q.shape[3]) + " but received " + shape_str(k));
  if (q.shape[3] < 1 || q.shape[3] > kAttnMaxHeadDim)
    return shape_error("expected a head dim in [1, " + std::to_string(kAttnMaxHeadDim) + "] but received " + std::to_string(q.shape[3]));
  if (kv_len > k.shape[2])
    return make_status(Code::kRange, std::string(kOp) + ": expected kvLength <= " + std::to_string(k.shape[2]) +
                                         " (keys in k) but received " + std::to_string(kv_len));
  if (lse && (lse->ndim != 3 || lse->shape[0] != q.shape[0] || lse->shape[1] != q.shape[1] || lse->shape[2] != q.shape[2]))
    return shape_error("expected lse of shape [" + std::to_string(q.shape[0]) + ", " + std::to_string(q.shape[1]) +
                       ", " + std::to_string(q.shape[2]) + "] but received " + shape_str(*lse));
  if (mask && (mask->ndim != 2 || mask->shape[0] != q.shape[0] || mask->shape[1] < kv_len))
    return shape_error("expected keyMask of shape [" + std::to_string(q.shape[0]) + ", L >= " + std::to_string(kv_len) +
                       "] but received " + shape_str(*mask));
  return Status::Ok();
}

Status prepare(const Call& c, AttentionMaskedJob* job) {
  const TensorView &q = c.t(A::q), &k = c.t(A::k), &v = c.t(A::v), &out = c.t(A::out);
  const double scale = c.number(A::scale);
  if (!std::isfinite(scale) || !std::isfinite(float(scale)))
    return c.error(Code::kRange, "expected a finite scale (as float32) but received " + std::to_string(scale));
  const int64_t kv_len = c.integer(A::kvLength);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  MMPREF_RETURN_IF_ERROR(check(q, k, v, out, c.opt(A::lse), c.opt(A::keyMask), kv_len));
  AttentionMaskedArgs& g = job->args;
  g.q = q.data;
  g.k = k.data;
  g.v = v.data;
  g.out = out.data;
  g.lse = c.has(A::lse) ? c.t(A::lse).ptr<float>() : nullptr;
  g.key_mask = c.has(A::keyMask) ? c.t(A::keyMask).ptr<uint8_t>() : nullptr;
  g.dtype = q.dtype;
  g.batch = q.shape[0];
  g.q_heads = q.shape[1];
  g.q_len = q.shape[2];
  g.head_dim = q.shape[3];
  g.kv_heads = k.shape[1];
  g.kv_buf_len = k.shape[2];
  g.kv_len = kv_len;
  g.mask_len = c.has(A::keyMask) ? c.t(A::keyMask).shape[1] : 0;
  g.scale = float(scale);
  g.causal = c.boolean(A::causal);
  g.query_offset = c.integer(A::queryOffset);
  g.device = q.device;
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::attention_masked, AttentionMaskedJob, prepare);
}  // namespace mmpref::napi
