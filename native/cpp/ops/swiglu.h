// SwiGLU: y = silu(g) * u = g / (1 + exp(-g)) * u, elementwise (the LLaMA MLP activation).
// In place (y == g or y == u) works: element i is read before it is written.
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
}  // namespace mmpref
