// Bindings of the decoder layer ops (lib/ops/decoder_ops.ts):
//   rmsNorm(x, w, out, eps, async)            rotary(x, out, positions|null, offset, theta, async)
//   swiglu(gate, up, out, async)              add(a, b, out, alpha, async)
//   embedding(table, tokens, out, async)
#include <cmath>
#include <functional>

#include "../ops/decoder_ops.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

// A job running one launcher call (MMPREF_RUN_ON_DEVICE picks CPU or CUDA).
struct DeviceJob : Job {
  std::function<Status()> fn;
  Status run() override { return fn(); }
};

Status same_shape(const char* op, const char* name, const TensorView& a, const TensorView& b) {
  if (a.ndim != b.ndim || a.numel != b.numel || a.dtype != b.dtype)
    return make_status(Code::kShape, std::string(op) + ": expected " + name + " of shape " + shape_str(a) + " and dtype " +
                                         dtype_name(a.dtype) + " but received " + shape_str(b) + " " + dtype_name(b.dtype));
  for (int d = 0; d < a.ndim; ++d)
    if (a.shape[d] != b.shape[d])
      return make_status(Code::kShape, std::string(op) + ": expected " + name + " of shape " + shape_str(a) +
                                           " but received " + shape_str(b));
  return Status::Ok();
}

Napi::Value rms_norm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "rmsNorm");
  auto job = std::make_unique<DeviceJob>();
  TensorView x, w, out;
  double eps = 0;
  bool async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "weight", job.get(), &w, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(2, "out", job.get(), &out, kFloatMask));
  MMPREF_NAPI_TRY(env, a.number(3, "eps", &eps));
  MMPREF_NAPI_TRY(env, same_device("rmsNorm", {&x, &w, &out}));
  MMPREF_NAPI_TRY(env, same_shape("rmsNorm", "out", x, out));
  if (x.ndim < 1 || w.ndim != 1 || w.shape[0] != x.size(-1) || (w.dtype != x.dtype && w.dtype != DType::kFloat32))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "rmsNorm: weight must be [" + std::to_string(x.ndim ? x.size(-1) : 0) +
                                                       "] of x's dtype or float32"));
  if (!(eps >= 0 && std::isfinite(eps))) MMPREF_NAPI_TRY(env, make_status(Code::kRange, "rmsNorm: eps must be >= 0"));
  const int64_t cols = x.size(-1);
  RmsNormArgs args{x.data, w.data, out.data, x.dtype, w.dtype, cols ? x.numel / cols : 0, cols, float(eps), x.device};
  job->fn = [args] { return MMPREF_RUN_ON_DEVICE("rmsNorm", args.device, rms_norm_cpu(args), rms_norm_cuda(args)); };
  return run_job(env, std::move(job), async);
}

Napi::Value rotary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "rotary");
  auto job = std::make_unique<DeviceJob>();
  TensorView x, out, pos;
  bool has_pos = false, async = false;
  int64_t offset = 0;
  double theta = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "x", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "out", job.get(), &out, kFloatMask));
  MMPREF_NAPI_TRY(env, a.optional_tensor(2, "positions", job.get(), &pos, &has_pos, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.integer(3, "offset", 0, int64_t(1) << 40, &offset));
  MMPREF_NAPI_TRY(env, a.number(4, "theta", &theta));
  MMPREF_NAPI_TRY(env, same_device("rotary", {&x, &out, has_pos ? &pos : nullptr}));
  MMPREF_NAPI_TRY(env, same_shape("rotary", "out", x, out));
  if (x.ndim != 4 || x.shape[3] % 2 != 0)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "rotary: expected x of shape [B, H, T, d] with even d but received " + shape_str(x)));
  if (has_pos && (pos.ndim != 2 || pos.shape[0] != x.shape[0] || pos.shape[1] != x.shape[2]))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "rotary: expected positions of shape [" + std::to_string(x.shape[0]) + ", " +
                                                       std::to_string(x.shape[2]) + "] but received " + shape_str(pos)));
  if (!(theta > 0 && std::isfinite(theta))) MMPREF_NAPI_TRY(env, make_status(Code::kRange, "rotary: theta must be > 0"));
  RotaryArgs args{x.data, out.data, x.dtype, x.shape[0], x.shape[1], x.shape[2], x.shape[3],
                  has_pos ? pos.ptr<int32_t>() : nullptr, offset, theta, x.device};
  job->fn = [args] { return MMPREF_RUN_ON_DEVICE("rotary", args.device, rotary_cpu(args), rotary_cuda(args)); };
  return run_job(env, std::move(job), async);
}

Napi::Value elementwise(const Napi::CallbackInfo& info, const char* op, bool is_add) {
  Napi::Env env = info.Env();
  Args a(info, op);
  auto job = std::make_unique<DeviceJob>();
  TensorView x, y, out;
  double alpha = 1;
  bool async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, is_add ? "a" : "gate", job.get(), &x, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, is_add ? "b" : "up", job.get(), &y, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(2, "out", job.get(), &out, kFloatMask));
  if (is_add) MMPREF_NAPI_TRY(env, a.number(3, "alpha", &alpha));
  MMPREF_NAPI_TRY(env, same_device(op, {&x, &y, &out}));
  MMPREF_NAPI_TRY(env, same_shape(op, is_add ? "b" : "up", x, y));
  MMPREF_NAPI_TRY(env, same_shape(op, "out", x, out));
  ElementwiseArgs args{x.data, y.data, out.data, x.dtype, x.numel, float(alpha), x.device};
  if (is_add)
    job->fn = [args] { return MMPREF_RUN_ON_DEVICE("add", args.device, add_cpu(args), add_cuda(args)); };
  else
    job->fn = [args] { return MMPREF_RUN_ON_DEVICE("swiglu", args.device, swiglu_cpu(args), swiglu_cuda(args)); };
  return run_job(env, std::move(job), async);
}

Napi::Value swiglu(const Napi::CallbackInfo& info) { return elementwise(info, "swiglu", false); }
Napi::Value add(const Napi::CallbackInfo& info) { return elementwise(info, "add", true); }

Napi::Value embedding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "embedding");
  auto job = std::make_unique<DeviceJob>();
  TensorView table, tokens, out;
  bool async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "table", job.get(), &table, kFloatMask));
  MMPREF_NAPI_TRY(env, a.tensor(1, "tokens", job.get(), &tokens, dtype_bit(DType::kInt32) | dtype_bit(DType::kInt64)));
  MMPREF_NAPI_TRY(env, a.tensor(2, "out", job.get(), &out, kFloatMask));
  MMPREF_NAPI_TRY(env, same_device("embedding", {&table, &tokens, &out}));
  if (table.ndim != 2 || out.dtype != table.dtype || out.numel != tokens.numel * table.shape[1] ||
      out.size(-1) != table.shape[1])
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "embedding: expected table [V, D] and out [..., D] of tokens' count, received table " +
                                                       shape_str(table) + ", out " + shape_str(out)));
  EmbeddingArgs args{table.data, tokens.data, out.data, table.dtype, tokens.dtype, table.shape[0], table.shape[1], tokens.numel, table.device};
  job->fn = [args] { return MMPREF_RUN_ON_DEVICE("embedding", args.device, embedding_cpu(args), embedding_cuda(args)); };
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("rmsNorm", Napi::Function::New(env, rms_norm, "rmsNorm"));
  exports.Set("rotary", Napi::Function::New(env, rotary, "rotary"));
  exports.Set("swiglu", Napi::Function::New(env, swiglu, "swiglu"));
  exports.Set("add", Napi::Function::New(env, add, "add"));
  exports.Set("embedding", Napi::Function::New(env, embedding, "embedding"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi
