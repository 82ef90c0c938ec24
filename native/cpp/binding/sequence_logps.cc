// sequenceLogps(logits, labels, cuSeqlens|null, logps, counts, perToken, lse|null, ignoreIndex,
//               shift, average, async)
// logpsBackward(logits, labels, cuSeqlens|null, gradLogps, lse|null, out, ignoreIndex, shift,
//               average, async)
// Outputs are allocated by lib/ops/sequence_logps.ts; `out` may be `logits` itself (in place).
// Shapes: padded logits [B, T, V] with labels [B, T]; packed logits [N, V] with labels [N] and
// cuSeqlens int32 [B + 1]. Label values and cuSeqlens contents are checked by the op itself.
#include <string>

#include "../ops/sequence_logps.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

constexpr uint32_t kLabelMask = dtype_bit(DType::kInt32) | dtype_bit(DType::kInt64);
constexpr uint32_t kF32 = dtype_bit(DType::kFloat32);

Status shape_error(const char* op, const std::string& what) {
  return make_status(Code::kShape, std::string(op) + ": " + what);
}

// Reads logits, labels and cuSeqlens (args 0..2) and fills the row map.
Status read_rows(const Args& a, Job* job, TensorView* logits, LogpsRows* m) {
  const char* op = a.op();
  TensorView labels, cu;
  bool packed = false;
  MMPREF_RETURN_IF_ERROR(a.tensor(0, "logits", job, logits, kFloatMask));
  MMPREF_RETURN_IF_ERROR(a.tensor(1, "labels", job, &labels, kLabelMask));
  MMPREF_RETURN_IF_ERROR(a.optional_tensor(2, "cuSeqlens", job, &cu, &packed, dtype_bit(DType::kInt32)));
  MMPREF_RETURN_IF_ERROR(same_device(op, {logits, &labels, packed ? &cu : nullptr}));
  if (!packed) {
    if (logits->ndim != 3)
      return shape_error(op, "expected logits of shape [B, T, V] but received " + shape_str(*logits));
    if (labels.ndim != 2 || labels.shape[0] != logits->shape[0] || labels.shape[1] != logits->shape[1])
      return shape_error(op, "expected labels of shape [" + std::to_string(logits->shape[0]) + ", " +
                                 std::to_string(logits->shape[1]) + "] (from logits " +
                                 shape_str(*logits) + ") but received " + shape_str(labels));
    m->seqs = logits->shape[0];
    m->seq_len = logits->shape[1];
    m->rows = m->seqs * m->seq_len;
  } else {
    if (logits->ndim != 2)
      return shape_error(op, "expected packed logits of shape [N, V] but received " + shape_str(*logits));
    if (labels.ndim != 1 || labels.shape[0] != logits->shape[0])
      return shape_error(op, "expected labels of shape [" + std::to_string(logits->shape[0]) +
                                 "] (from logits " + shape_str(*logits) + ") but received " +
                                 shape_str(labels));
    if (cu.ndim != 1 || cu.shape[0] < 1)
      return shape_error(op, "expected cuSeqlens of shape [B + 1] but received " + shape_str(cu));
    m->seqs = cu.shape[0] - 1;
    m->rows = logits->shape[0];
    m->cu_seqlens = cu.ptr<int32_t>();
  }
  m->vocab = logits->shape[logits->ndim - 1];
  m->labels = labels.data;
  m->label_dtype = labels.dtype;
  return Status::Ok();
}

Status read_flags(const Args& a, size_t i, LogpsRows* m) {
  MMPREF_RETURN_IF_ERROR(a.integer(i, "ignoreIndex", -9007199254740991LL, 9007199254740991LL, &m->ignore_index));
  MMPREF_RETURN_IF_ERROR(a.boolean(i + 1, "shift", &m->shift));
  return a.boolean(i + 2, "average", &m->average);
}

Status expect_numel(const char* op, const char* name, const TensorView& t, int64_t n, const char* what) {
  if (t.numel == n) return Status::Ok();
  return shape_error(op, std::string("expected ") + name + " of " + std::to_string(n) + " elements (" +
                             what + ") but received " + shape_str(t));
}

struct SequenceLogpsJob : Job {
  SequenceLogpsArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("sequenceLogps", args.device, sequence_logps_cpu(args), sequence_logps_cuda(args)); }
};

Napi::Value sequence_logps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "sequenceLogps");
  auto job = std::make_unique<SequenceLogpsJob>();
  SequenceLogpsArgs& s = job->args;
  TensorView logits, logps, counts, per_token, lse;
  bool async = false, has_lse = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, read_rows(a, job.get(), &logits, &s.map));
  MMPREF_NAPI_TRY(env, a.tensor(3, "logps", job.get(), &logps, kF32));
  MMPREF_NAPI_TRY(env, a.tensor(4, "counts", job.get(), &counts, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.tensor(5, "perToken", job.get(), &per_token, kF32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(6, "lse", job.get(), &lse, &has_lse, kF32));
  MMPREF_NAPI_TRY(env, read_flags(a, 7, &s.map));
  MMPREF_NAPI_TRY(env, same_device("sequenceLogps", {&logits, &logps, &counts, &per_token, has_lse ? &lse : nullptr}));
  MMPREF_NAPI_TRY(env, expect_numel("sequenceLogps", "logps", logps, s.map.seqs, "one per sequence"));
  MMPREF_NAPI_TRY(env, expect_numel("sequenceLogps", "counts", counts, s.map.seqs, "one per sequence"));
  MMPREF_NAPI_TRY(env, expect_numel("sequenceLogps", "perToken", per_token, s.map.rows, "one per label"));
  if (has_lse) MMPREF_NAPI_TRY(env, expect_numel("sequenceLogps", "lse", lse, s.map.rows, "one per logits row"));
  s.logits = logits.data;
  s.dtype = logits.dtype;
  s.logps = logps.ptr<float>();
  s.counts = counts.ptr<int32_t>();
  s.per_token = per_token.ptr<float>();
  s.lse = has_lse ? lse.ptr<float>() : nullptr;
  s.device = logits.device;
  return run_job(env, std::move(job), async);
}

struct LogpsBackwardJob : Job {
  LogpsBackwardArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("logpsBackward", args.device, logps_backward_cpu(args), logps_backward_cuda(args)); }
};

Napi::Value logps_backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "logpsBackward");
  auto job = std::make_unique<LogpsBackwardJob>();
  LogpsBackwardArgs& s = job->args;
  TensorView logits, grad_logps, lse, out;
  bool async = false, has_lse = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, read_rows(a, job.get(), &logits, &s.map));
  MMPREF_NAPI_TRY(env, a.tensor(3, "gradLogps", job.get(), &grad_logps, kF32));
  MMPREF_NAPI_TRY(env, a.optional_tensor(4, "lse", job.get(), &lse, &has_lse, kF32));
  MMPREF_NAPI_TRY(env, a.tensor(5, "out", job.get(), &out, kFloatMask));
  MMPREF_NAPI_TRY(env, read_flags(a, 6, &s.map));
  MMPREF_NAPI_TRY(env, same_device("logpsBackward", {&logits, &grad_logps, has_lse ? &lse : nullptr, &out}));
  MMPREF_NAPI_TRY(env, expect_numel("logpsBackward", "gradLogps", grad_logps, s.map.seqs, "one per sequence"));
  if (has_lse) MMPREF_NAPI_TRY(env, expect_numel("logpsBackward", "lse", lse, s.map.rows, "one per logits row"));
  if (out.dtype != logits.dtype)
    MMPREF_NAPI_TRY(env, make_status(Code::kDtype, std::string("logpsBackward: expected out of dtype ") +
                                                       dtype_name(logits.dtype) + " (the logits') but received " +
                                                       dtype_name(out.dtype)));
  if (out.numel != logits.numel)
    MMPREF_NAPI_TRY(env, expect_numel("logpsBackward", "out", out, logits.numel, "the logits' shape"));
  // NB: out is either the logits buffer itself or disjoint from it; a partial overlap would let
  // one row's gradient overwrite logits another row has not read yet.
  const auto lo_l = reinterpret_cast<uintptr_t>(logits.data), lo_o = reinterpret_cast<uintptr_t>(out.data);
  const auto nb = uintptr_t(logits.nbytes());
  if (nb && lo_l != lo_o && lo_l < lo_o + nb && lo_o < lo_l + nb)
    MMPREF_NAPI_TRY(env, arg_error("logpsBackward", "out overlaps logits without being the same buffer"));
  s.logits = logits.data;
  s.grad = out.data;
  s.dtype = logits.dtype;
  s.grad_logps = grad_logps.ptr<float>();
  s.lse = has_lse ? lse.ptr<float>() : nullptr;
  s.device = logits.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("sequenceLogps", Napi::Function::New(env, sequence_logps, "sequenceLogps"));
  exports.Set("logpsBackward", Napi::Function::New(env, logps_backward, "logpsBackward"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi
