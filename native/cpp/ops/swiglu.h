// SwiGLU: y = silu(g) * u = g / (1 + exp(-g)) * u, elementwise (the LLaMA MLP activation).
// In place (y == g or y == u) works: element i is read before it is written.
// Backward (TRAINING.md section 1), s = sigmoid(g) = 1 / (1 + exp(-g)):
//   du = dy silu(g) = dy g s,  dg = dy u s (1 + g (1 - s))
// dg may be g or dy and du may be u (element i is read before it is written).
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"
#include "elementwise.h"

namespace mmpref {

// exp_approx (core/math.h) vectorises on the CPU; 1 + exp(-g) = inf for g < -88 gives -0 * u.
MMPREF_HD float silu_mul(float g, float u) { return g / (1.0f + exp_approx(-g)) * u; }

Status swiglu_cpu(const ElementwiseArgs& a);
Status swiglu_cuda(const ElementwiseArgs& a);

// (dg, du) of one element; g < -87 gives s = 0: dg = du = -0 or 0 (no NaN from inf * 0).
MMPREF_HD void swiglu_grad(float dy, float g, float u, float* dg, float* du) {
  const float s = 1.0f / (1.0f + exp_approx(-g));
  *du = dy * (g * s);
  *dg = dy * u * (s * (1.0f + g * (1.0f - s)));
}

struct SwigluBackwardArgs {
  const void* dy;
  const void* g;
  const void* u;
  void* dg;  // may be g or dy
  void* du;  // may be u
  DType dtype;
  int64_t n;
  int device;
};

Status swiglu_backward_cpu(const SwigluBackwardArgs& a);
Status swiglu_backward_cuda(const SwigluBackwardArgs& a);
}  // namespace mmpref
