// Residual add: y = a + alpha * b, elementwise, float32 math. In place (y == a or y == b) works.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"
#include "elementwise.h"

namespace mmpref {

Status add_cpu(const ElementwiseArgs& a);
Status add_cuda(const ElementwiseArgs& a);
}  // namespace mmpref
