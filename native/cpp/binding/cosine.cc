// cosine(a, b, paired, out, async):                        a [N, E], b [M, E] (paired: [N, E]),
//                                                           out float32 [N, M] (paired: [N]);
// similarityFilter(candidates, references, paired, threshold, keep, async): keep bool [N].
#include <cmath>

#include "../ops/cosine.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct CosineJob : Job {
  CosineArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("cosine", args.device, cosine_cpu(args), cosine_cuda(args)); }
};

// Reads the two embedding matrices and the paired flag (arguments 0-2) and checks their shapes.
Status read_inputs(const Args& a, const char* op, const char* na, const char* nb, Job* job, TensorView* x,
                   TensorView* y, CosineArgs* c) {
  MMPREF_RETURN_IF_ERROR(a.tensor(0, na, job, x, kFloatMask));
  MMPREF_RETURN_IF_ERROR(a.tensor(1, nb, job, y, dtype_bit(x->dtype)));
  MMPREF_RETURN_IF_ERROR(a.boolean(2, "paired", &c->paired));
  if (x->ndim != 2 || y->ndim != 2 || x->shape[1] != y->shape[1] || (c->paired && x->shape[0] != y->shape[0]))
    return make_status(Code::kShape, std::string(op) + ": expected " + na + " [N, E] and " + nb +
                                         (c->paired ? " [N, E]" : " [M, E]") + " but received " + shape_str(*x) +
                                         " and " + shape_str(*y));
  c->a = x->data;
  c->b = y->data;
  c->dtype = x->dtype;
  c->n = x->shape[0];
  c->m = y->shape[0];
  c->e = x->shape[1];
  c->device = x->device;
  return Status::Ok();
}

Napi::Value cosine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "cosine");
  auto job = std::make_unique<CosineJob>();
  TensorView x, y, out;
  bool async = false;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, read_inputs(a, "cosine", "a", "b", job.get(), &x, &y, &job->args));
  MMPREF_NAPI_TRY(env, a.tensor(3, "out", job.get(), &out, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, same_device("cosine", {&x, &y, &out}));
  const CosineArgs& c = job->args;
  const bool ok = c.paired ? (out.ndim == 1 && out.shape[0] == c.n)
                           : (out.ndim == 2 && out.shape[0] == c.n && out.shape[1] == c.m);
  if (!ok)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "cosine: expected out of shape " +
                                                       (c.paired ? "[" + std::to_string(c.n) + "]"
                                                                 : "[" + std::to_string(c.n) + ", " + std::to_string(c.m) + "]") +
                                                       " but received " + shape_str(out)));
  job->args.out = out.ptr<float>();
  return run_job(env, std::move(job), async);
}

Napi::Value similarity_filter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "similarityFilter");
  auto job = std::make_unique<CosineJob>();
  TensorView x, y, keep;
  bool async = false;
  double threshold = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, read_inputs(a, "similarityFilter", "candidates", "references", job.get(), &x, &y, &job->args));
  MMPREF_NAPI_TRY(env, a.number(3, "threshold", &threshold));
  MMPREF_NAPI_TRY(env, a.tensor(4, "keep", job.get(), &keep, dtype_bit(DType::kBool)));
  MMPREF_NAPI_TRY(env, same_device("similarityFilter", {&x, &y, &keep}));
  if (!std::isfinite(threshold))
    MMPREF_NAPI_TRY(env, make_status(Code::kRange, "similarityFilter: expected a finite threshold"));
  if (keep.ndim != 1 || keep.shape[0] != job->args.n)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "similarityFilter: expected keep of shape [" +
                                                       std::to_string(job->args.n) + "] but received " + shape_str(keep)));
  job->args.threshold = float(threshold);
  job->args.keep = keep.ptr<uint8_t>();
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("cosine", Napi::Function::New(env, cosine, "cosine"));
  exports.Set("similarityFilter", Napi::Function::New(env, similarity_filter, "similarityFilter"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi
