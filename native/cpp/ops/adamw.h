// AdamW, one tensor at a time (PyTorch torch.optim.AdamW, amsgrad off, maximize off), float32 math.
// Per step t >= 1, with lr, beta1, beta2, eps, weight decay wd (docs: /work/shared/TRAINING.md §2):
//   theta <- theta * (1 - lr * wd)                        decoupled weight decay
//   m     <- lerp(m, g, 1 - beta1)                        = beta1 m + (1 - beta1) g
//   v     <- beta2 v + (1 - beta2) g^2
//   theta <- theta - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// in the order and with the scalar roundings of torch's _single_tensor_adamw / _multi_tensor_adam
// (decay, step_size = lr / bc1 and bc2_sqrt = sqrt(1 - beta2^t) are computed in float64 on the host
// and rounded to float32 once). With a master copy (master != nullptr) the update is applied to the
// float32 master and the parameter is written as round-to-nearest-even(master) in its dtype;
// without one a float16/bfloat16 parameter is loaded, updated in float32 and rounded back.
// No gradient: the element-wise update has none. Reference: test/reference/adamw.ts.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/hd.h"
#include "../core/status.h"

namespace mmpref {

struct AdamwArgs {
  void* param;       // [n] float32 / float16 / bfloat16, updated in place
  const void* grad;  // [n] float32 or param dtype
  float* m;          // [n] first moment, updated in place
  float* v;          // [n] second moment, updated in place
  float* master;     // [n] float32 master weights or nullptr
  DType param_dtype;
  DType grad_dtype;
  int64_t n;
  float decay;      // float(1 - lr * wd)
  float beta1_w;    // float(1 - beta1), the lerp weight
  float beta2;      // float(beta2)
  float beta2_c;    // float(1 - beta2)
  float step_size;  // float(lr / (1 - beta1^t))
  float bc2_sqrt;   // float(sqrt(1 - beta2^t))
  float eps;
  int device;
};

// Products and sums rounded on their own: nvcc may not fuse them into an FMA (the CPU never
// does), so CPU and CUDA give the same bits.
MMPREF_HD float adamw_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

// torch.lerp's float formula: weight < 0.5 ? a + w (b - a) : b - (b - a)(1 - w).
MMPREF_HD float adamw_lerp(float a, float b, float w) {
  const float d = b - a;
  return w < 0.5f ? a + adamw_mul(w, d) : b - adamw_mul(d, 1.0f - w);
}

struct AdamwElem {
  float theta, m, v;
};

// One element: theta (float32, master or loaded parameter), gradient g, moments m, v.
MMPREF_HD AdamwElem adamw_update(float theta, float g, float m, float v, const AdamwArgs& a) {
  theta = adamw_mul(theta, a.decay);
  m = adamw_lerp(m, g, a.beta1_w);
  v = adamw_mul(v, a.beta2) + adamw_mul(adamw_mul(a.beta2_c, g), g);
  const float denom = sqrtf(v) / a.bc2_sqrt + a.eps;
  theta = theta + adamw_mul(-a.step_size, m) / denom;  // torch addcdiv: self + (value * t1) / t2
  return AdamwElem{theta, m, v};
}

Status adamw_cpu(const AdamwArgs& a);
Status adamw_cuda(const AdamwArgs& a);

}  // namespace mmpref
