// sample(logits, history | null, penalty, temperature, topK, topP, minP, seed, seeds | null, step,
//        tokens, logprobs, async): logits float [B, V], history int32 [B, H], seeds a
//        BigUint64Array of B per-row seeds, tokens int32 [B], logprobs float32 [B].
#include <cmath>
#include <vector>

#include "../ops/sample.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

struct SampleJob : Job {
  SampleArgs args;
  std::vector<uint64_t> seeds;  // copied at call time: JS may change its array meanwhile
  Status run() override {
    if (!seeds.empty()) args.seeds = seeds.data();
    return MMPREF_RUN_ON_DEVICE("sample", args.device, sample_cpu(args), sample_cuda(args));
  }
};

Status range(const std::string& what) { return make_status(Code::kRange, "sample: " + what); }

Napi::Value sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, "sample");
  auto job = std::make_unique<SampleJob>();
  SampleArgs& s = job->args;
  TensorView logits, hist, tokens, logprobs;
  bool has_hist = false, async = false;
  double penalty = 1, temperature = 1, top_p = 1, min_p = 0;
  int64_t top_k = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "logits", job.get(), &logits, kFloatMask));
  MMPREF_NAPI_TRY(env, a.optional_tensor(1, "history", job.get(), &hist, &has_hist, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.number(2, "repetitionPenalty", &penalty));
  MMPREF_NAPI_TRY(env, a.number(3, "temperature", &temperature));
  MMPREF_NAPI_TRY(env, a.integer(4, "topK", 0, int64_t(1) << 53, &top_k));
  MMPREF_NAPI_TRY(env, a.number(5, "topP", &top_p));
  MMPREF_NAPI_TRY(env, a.number(6, "minP", &min_p));
  MMPREF_NAPI_TRY(env, a.u64(7, "seed", &s.seed));
  MMPREF_NAPI_TRY(env, a.u64(9, "step", &s.step));
  MMPREF_NAPI_TRY(env, a.tensor(10, "tokens", job.get(), &tokens, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.tensor(11, "logprobs", job.get(), &logprobs, dtype_bit(DType::kFloat32)));
  MMPREF_NAPI_TRY(env, same_device("sample", {&logits, has_hist ? &hist : nullptr, &tokens, &logprobs}));

  // shapes
  if (logits.ndim != 2 || logits.shape[1] < 1 || logits.shape[1] > kSampleMaxVocab)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "sample: expected logits [B, V] with 1 <= V <= " +
                                                       std::to_string(kSampleMaxVocab) + " but received " +
                                                       shape_str(logits)));
  const int64_t rows = logits.shape[0];
  if (has_hist && (hist.ndim != 2 || hist.shape[0] != rows))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "sample: expected history [" + std::to_string(rows) +
                                                       ", H] but received " + shape_str(hist)));
  if (tokens.ndim != 1 || tokens.shape[0] != rows || logprobs.ndim != 1 || logprobs.shape[0] != rows)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, "sample: expected tokens and logprobs of shape [" +
                                                       std::to_string(rows) + "]"));

  // scalars (float32 is what the kernels use: it must not round to 0 or infinity)
  const float pf = float(penalty), tf = float(temperature);
  if (!(std::isfinite(pf) && pf > 0)) MMPREF_NAPI_TRY(env, range("expected repetitionPenalty > 0 and finite"));
  if (!(std::isfinite(tf) && tf >= 0 && (tf > 0) == (temperature > 0)))
    MMPREF_NAPI_TRY(env, range("expected temperature 0 or a finite float32 > 0"));
  if (!(top_p >= 0 && top_p <= 1)) MMPREF_NAPI_TRY(env, range("expected topP in [0, 1]"));
  if (!(min_p >= 0 && min_p <= 1)) MMPREF_NAPI_TRY(env, range("expected minP in [0, 1]"));

  // per-row seeds
  if (!a.is_nullish(8)) {
    Napi::Value v = info[8];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array)
      MMPREF_NAPI_TRY(env, arg_error("sample", "seeds: expected a BigUint64Array"));
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (int64_t(ta.ElementLength()) != rows)
      MMPREF_NAPI_TRY(env, make_status(Code::kShape, "sample: expected " + std::to_string(rows) +
                                                         " seeds (one per row) but received " +
                                                         std::to_string(ta.ElementLength())));
    const uint64_t* p = static_cast<const uint64_t*>(ta.As<Napi::BigUint64Array>().Data());
    job->seeds.assign(p, p + rows);
  }

  s.logits = logits.data;
  s.dtype = logits.dtype;
  s.rows = rows;
  s.vocab = logits.shape[1];
  s.history = has_hist ? hist.ptr<int32_t>() : nullptr;
  s.hist_len = has_hist ? hist.shape[1] : 0;
  s.penalty = pf;
  s.temperature = tf;
  s.top_k = top_k;
  s.top_p = top_p;
  s.min_p = float(min_p);
  s.tokens = tokens.ptr<int32_t>();
  s.logprobs = logprobs.ptr<float>();
  s.device = logits.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) { exports.Set("sample", Napi::Function::New(env, sample, "sample")); }

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi
