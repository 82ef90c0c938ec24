// sample (ops/sample.h); arguments, shapes and the ranges of topP, minP declared in
// lib/ops/sample.args.ts: logits float [B, V], history int32 [B, H] (an index argument: a private
// copy), seeds null or a BigUint64Array of B per-row seeds (copied when read), tokens int32 [B],
// logprobs float32 [B].
#include <cmath>
#include <vector>

#include "../ops/sample.h"
#include "args/sample.h"

namespace mmpref::napi {
namespace {

using A = args::sample;

// The launcher pair's job, plus the per-row seeds it owns (args.seeds points into them once it runs).
struct SampleJob : LaunchJob<SampleArgs, sample_cpu, MMPREF_CUDA(sample_cuda)> {
  std::vector<uint64_t> seeds;
  Status run() override {
    if (!seeds.empty()) args.seeds = seeds.data();
    return LaunchJob::run();
  }
};

Status prepare(const Call& c, SampleJob* job) {
  const TensorView& logits = c.t(A::logits);
  MMPREF_RETURN_IF_ERROR(c.one_device());
  const int64_t rows = c.dim(A::dim::B), vocab = c.dim(A::dim::V);
  if (vocab < 1 || vocab > kSampleMaxVocab)
    return c.error(Code::kShape, "expected logits [B, V] with 1 <= V <= " + std::to_string(kSampleMaxVocab) + " but received " + shape_str(logits));
  // scalars (float32 is what the kernels use: it must not round to 0 or infinity)
  const double temperature = c.number(A::temperature);
  const float pf = float(c.number(A::repetitionPenalty)), tf = float(temperature);
  if (!(std::isfinite(pf) && pf > 0)) return c.error(Code::kRange, "expected repetitionPenalty > 0 and finite");
  if (!(std::isfinite(tf) && tf >= 0 && (tf > 0) == (temperature > 0)))
    return c.error(Code::kRange, "expected temperature 0 or a finite float32 > 0");
  if (c.has(A::seeds)) {
    if (int64_t(c.u64s(A::seeds).size()) != rows)
      return c.error(Code::kShape, "expected " + std::to_string(rows) + " seeds (one per row) but received " +
                                       std::to_string(c.u64s(A::seeds).size()));
    job->seeds = c.u64s(A::seeds);
  }
  job->args = SampleArgs{logits.data, logits.dtype, rows, vocab, c.t(A::history).ptr<int32_t>(), c.has(A::history) ? c.dim(A::dim::H) : 0,
                         pf, tf, c.integer(A::topK), c.number(A::topP), float(c.number(A::minP)), nullptr, c.u64(A::seed), c.u64(A::step),
                         c.t(A::tokens).ptr<int32_t>(), c.t(A::logprobs).ptr<float>(), logits.device};
  return Status::Ok();
}

}  // namespace
MMPREF_BIND_OP(args::sample, SampleJob, prepare);
}  // namespace mmpref::napi
