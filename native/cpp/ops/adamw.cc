// CPU AdamW (ops/adamw.h): one pass over fixed blocks of the tensor, element-wise, so the bits do
// not depend on the thread count.
#include <algorithm>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "adamw.h"

namespace mmpref {
namespace {

template <class P, class G, bool MASTER>
MMPREF_CPU_CLONES void adamw_block(P* param, const G* grad, float* m, float* v, float* master, int64_t n, AdamwArgs a) {
  for (int64_t i = 0; i < n; ++i) {
    const float theta = MASTER ? master[i] : to_float(param[i]);
    const AdamwElem e = adamw_update(theta, to_float(grad[i]), m[i], v[i], a);
    m[i] = e.m;
    v[i] = e.v;
    if (MASTER) master[i] = e.theta;
    param[i] = from_float<P>(e.theta);
  }
}

constexpr int64_t kBlock = 1 << 13;

template <class P, class G>
void run(const AdamwArgs& a) {
  parallel_for((a.n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) {
    const int64_t s = b0 * kBlock, e = std::min(a.n, b1 * kBlock);
    P* p = static_cast<P*>(a.param) + s;
    const G* g = static_cast<const G*>(a.grad) + s;
    if (a.master)
      adamw_block<P, G, true>(p, g, a.m + s, a.v + s, a.master + s, e - s, a);
    else
      adamw_block<P, G, false>(p, g, a.m + s, a.v + s, nullptr, e - s, a);
  });
}

}  // namespace

Status adamw_cpu(const AdamwArgs& a) {
  if (a.n == 0) return Status::Ok();
  return dispatch_float(a.param_dtype, "optim.adamw", [&](auto tag) {
    using P = decltype(tag);
    if (a.grad_dtype == DType::kFloat32)
      run<P, float>(a);
    else
      run<P, P>(a);
  });
}

}  // namespace mmpref
