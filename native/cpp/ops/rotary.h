// Rotary position embedding, Hugging Face rotate_half convention: for i < d/2, with
// f_i = theta^(-2i/d) and a = pos * f_i (angles in float64),
//   y[i] = x[i] cos a - x[i + d/2] sin a,  y[i + d/2] = x[i + d/2] cos a + x[i] sin a
// pos = positions[b, t] or offset + t. In place (y == x) works: each pair is read before written.
// Backward (inverse = true) is the rotation by -a (TRAINING.md section 1):
//   dx[i] = dy[i] cos a + dy[i + d/2] sin a,  dx[i + d/2] = dy[i + d/2] cos a - dy[i] sin a
// i.e. the same kernels with sin a negated (exactly, so the bits mirror the forward's).
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

// Frequency of rotary pair i; the angle at position pos is pos * rotary_inv_freq(i, d, theta),
// in float64 on both sides so CPU and CUDA agree closely.
MMPREF_HD double rotary_inv_freq(int i, int d, double theta) { return pow(theta, -2.0 * double(i) / double(d)); }

struct RotaryArgs {
  const void* x;  // [B, H, T, d]
  void* y;        // may alias x (in place)
  DType dtype;
  int64_t B, H, T, d;
  const int32_t* positions;  // [B, T] or null
  int64_t offset;            // used when positions is null
  double theta;
  int device;
  bool inverse = false;  // rotaryBackward: rotate by -a
};

Status rotary_cpu(const RotaryArgs& a);
Status rotary_cuda(const RotaryArgs& a);
}  // namespace mmpref
