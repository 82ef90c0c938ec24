// imageKeyMask(spans, base | null, out, ratio, seed, offset, async)
//   spans int32 [S, 3] on the CPU (row, start, length), base bool/uint8 [B, L], out bool [B, L].
// The spans are read and validated here, on the calling thread, and copied into the job.
#include <algorithm>
#include <cmath>

#include "../ops/image_key_mask.h"
#include "napi_util.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "imageKeyMask";

struct ImageKeyMaskJob : Job {
  ImageKeyMaskArgs args;
  Status run() override { return MMPREF_RUN_ON_DEVICE("imageKeyMask", args.device, image_key_mask_cpu(args), image_key_mask_cuda(args)); }
};

Status range_error(const std::string& what) { return make_status(Code::kRange, std::string(kOp) + ": " + what); }

// Every span inside [0, L) of an existing row, and no two spans of a row overlapping.
Status read_spans(const TensorView& t, int64_t batch, int64_t length, std::vector<ImageKeySpan>* out) {
  if (t.device >= 0) return make_status(Code::kDevice, std::string(kOp) + ": spans must be a CPU tensor");
  if (t.ndim != 2 || t.shape[1] != 3)
    return make_status(Code::kShape, std::string(kOp) + ": expected spans of shape [S, 3] but received " + shape_str(t));
  const int32_t* p = t.ptr<int32_t>();
  out->reserve(size_t(t.shape[0]));
  for (int64_t s = 0; s < t.shape[0]; ++s) {
    const ImageKeySpan sp{p[3 * s], p[3 * s + 1], p[3 * s + 2]};
    const std::string name = "span " + std::to_string(s) + " (row " + std::to_string(sp.row) + ", start " +
                             std::to_string(sp.start) + ", length " + std::to_string(sp.length) + ")";
    if (sp.row < 0 || sp.row >= batch) return range_error("expected a row in [0, " + std::to_string(batch) + ") for " + name);
    if (sp.start < 0 || sp.length < 0 || sp.start + sp.length > length)
      return range_error("expected " + name + " inside [0, " + std::to_string(length) + ")");
    if (sp.length > 0) out->push_back(sp);
  }
  std::vector<ImageKeySpan> sorted = *out;
  std::sort(sorted.begin(), sorted.end(), [](const ImageKeySpan& x, const ImageKeySpan& y) {
    return x.row != y.row ? x.row < y.row : x.start < y.start;
  });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i].row == sorted[i - 1].row && sorted[i].start < sorted[i - 1].start + sorted[i - 1].length)
      return range_error("expected non-overlapping spans but row " + std::to_string(sorted[i].row) + " has [" +
                         std::to_string(sorted[i - 1].start) + ", " + std::to_string(sorted[i - 1].length) + "] and [" +
                         std::to_string(sorted[i].start) + ", " + std::to_string(sorted[i].length) + "]");
  return Status::Ok();
}

Napi::Value image_key_mask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info, kOp);
  auto job = std::make_unique<ImageKeyMaskJob>();
  TensorView spans, base, out;
  bool has_base = false, async = false;
  double ratio = 0;
  uint64_t seed = 0, offset = 0;
  MMPREF_NAPI_TRY(env, a.async_flag(&async));
  MMPREF_NAPI_TRY(env, a.tensor(0, "spans", job.get(), &spans, dtype_bit(DType::kInt32)));
  MMPREF_NAPI_TRY(env, a.optional_tensor(1, "keyMask", job.get(), &base, &has_base,
                                         dtype_bit(DType::kBool) | dtype_bit(DType::kUInt8)));
  MMPREF_NAPI_TRY(env, a.tensor(2, "out", job.get(), &out, dtype_bit(DType::kBool)));
  MMPREF_NAPI_TRY(env, a.number(3, "maskRatio", &ratio));
  MMPREF_NAPI_TRY(env, a.u64(4, "seed", &seed));
  MMPREF_NAPI_TRY(env, a.u64(5, "offset", &offset));
  if (!(ratio >= 0.0 && ratio <= 1.0))
    MMPREF_NAPI_TRY(env, range_error("expected maskRatio in [0, 1] but received " + std::to_string(ratio)));
  if (out.ndim != 2)
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, std::string(kOp) + ": expected out of shape [B, L] but received " + shape_str(out)));
  if (out.shape[1] > (int64_t(1) << 32) || out.shape[0] > (int64_t(1) << 32))
    MMPREF_NAPI_TRY(env, make_status(Code::kShape, std::string(kOp) + ": at most 2^32 rows and positions, received " + shape_str(out)));
  if (has_base) {
    MMPREF_NAPI_TRY(env, same_device(kOp, {&base, &out}));
    if (base.ndim != 2 || base.shape[0] != out.shape[0] || base.shape[1] != out.shape[1])
      MMPREF_NAPI_TRY(env, make_status(Code::kShape, std::string(kOp) + ": expected keyMask of shape " + shape_str(out) +
                                                         " but received " + shape_str(base)));
  }
  ImageKeyMaskArgs& g = job->args;
  MMPREF_NAPI_TRY(env, read_spans(spans, out.shape[0], out.shape[1], &g.spans));
  g.base = has_base ? base.ptr<uint8_t>() : nullptr;
  g.out = out.ptr<uint8_t>();
  g.batch = out.shape[0];
  g.length = out.shape[1];
  g.threshold = image_key_threshold(ratio);
  g.seed = seed;
  g.offset = offset;
  g.device = out.device;
  return run_job(env, std::move(job), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("imageKeyMask", Napi::Function::New(env, image_key_mask, "imageKeyMask"));
}

}  // namespace
MMPREF_REGISTER_BINDING(init);
}  // namespace mmpref::napi
