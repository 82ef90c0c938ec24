// imageKeyMask (ops/image_key_mask.h); arguments, shapes and maskRatio's range declared in
// lib/ops/image_key_mask.args.ts: spans int32 [S, 3] on the CPU (row, start, length), keyMask
// bool/uint8 [B, L] (checked here), out bool [B, L].
// spans is an index argument: validated here from the private copy, then copied into the job.
#include <algorithm>
#include <cmath>

#include "../ops/image_key_mask.h"
#include "args/image_key_mask.h"

namespace mmpref::napi {
namespace {

constexpr const char* kOp = "imageKeyMask";
using A = args::image_key_mask;

Status range_error(const std::string& what) { return make_status(Code::kRange, std::string(kOp) + ": " + what); }

// Every span inside [0, L) of an existing row, and no two spans of a row overlapping (spans [S, 3]
// declared).
Status read_spans(const TensorView& t, int64_t batch, int64_t length, std::vector<ImageKeySpan>* out) {
  if (t.device >= 0) return make_status(Code::kDevice, std::string(kOp) + ": spans must be a CPU tensor");
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

MMPREF_LAUNCH_OP(args::image_key_mask, ImageKeyMaskArgs, image_key_mask, prepare) {
  const TensorView& out = c.t(A::out);
  if (out.shape[1] > (int64_t(1) << 32) || out.shape[0] > (int64_t(1) << 32))
    return c.error(Code::kShape, "expected out with at most 2^32 rows and positions but received " + shape_str(out));
  // NB: not one_device(): spans is always a CPU tensor
  if (c.has(A::keyMask)) {
    if (c.t(A::keyMask).device != out.device)
      return c.error(Code::kDevice, "expected keyMask on the device of out but received another device");
    MMPREF_RETURN_IF_ERROR(c.same_shape(A::keyMask, A::out));
  }
  ImageKeyMaskArgs& g = job->args;
  MMPREF_RETURN_IF_ERROR(read_spans(c.t(A::spans), out.shape[0], out.shape[1], &g.spans));
  g.base = c.t(A::keyMask).template ptr<uint8_t>();
  g.out = out.ptr<uint8_t>();
  g.batch = out.shape[0];
  g.length = out.shape[1];
  g.threshold = image_key_threshold(c.number(A::maskRatio));
  g.seed = c.u64(A::seed);
  g.offset = c.u64(A::offset);
  g.device = out.device;
  return Status::Ok();
}

}  // namespace
}  // namespace mmpref::napi
