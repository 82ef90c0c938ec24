// sampling.contrastive: visual contrastive decoding logits (VCD, Leng et al. 2023, eq. 3-5, in the
// "version 2" form of vcd_utils/vcd_sample.py; METHODS.md section 2).
//
//   cutoff_r = log(beta) + max_j l[r, j]
//   out[r, j] = (1 + alpha) * l[r, j] - alpha * l'[r, j]    where l[r, j] >= cutoff_r
//             = -inf                                        elsewhere (ties with the cutoff kept)
//
// l = logits with the clean image, l' = with the distorted image (same shape and dtype), computed
// in float32, output float32. The mask uses the raw clean logits (before any sampler processor).
// Edge cases (all specified by METHODS.md section 2):
// - beta = 0: log(0) = -inf, nothing is masked (no NaN); beta = 1: only tokens tied with the max;
// - alpha = 0 returns l (masked) exactly, even where l' is infinite; negative alpha is allowed;
// - -inf in l stays -inf (whatever alpha); NaN in l gives NaN;
// - +inf inputs are clamped to the largest float32 first, and a +inf result (overflow, or -inf in
//   l' with alpha > 0) is clamped to it too; a -inf result stays -inf (the token is excluded);
// - rows with rowActive = false are copied through unchanged (as float32).
// Gradient: not exposed (decoding only).
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/math.h"
#include "../core/status.h"

namespace mmpref {

struct ContrastiveArgs {
  const void* logits = nullptr;     // [rows, cols]
  const void* distorted = nullptr;  // [rows, cols], same dtype
  const uint8_t* row_active = nullptr;  // bool [rows] or nullptr (all active)
  float* out = nullptr;              // float32 [rows, cols]
  DType dtype = DType::kFloat32;
  int64_t rows = 0, cols = 0;
  float alpha = 1.0f;
  float log_beta = 0.0f;  // float(log(beta)), computed once on the host: -inf for beta = 0
  int device = -1;
};

constexpr float kFloatMax = 3.4028234663852886e38f;

// Products rounded on their own: nvcc may not fuse them into an FMA (the CPU never does), so CPU
// and CUDA give the same bits.
MMPREF_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

MMPREF_HD float vcd_clamp_input(float x) { return x == kInf ? kFloatMax : x; }

// One output element; l and ld already clamped, cutoff = log_beta + row max. Written as selects
// (the CPU loop vectorises): the mixed value of a masked or NaN entry is computed and dropped.
MMPREF_HD float vcd_combine(float l, float ld, float alpha, float cutoff) {
  const float mixed = alpha == 0.0f ? l : mul_rn(1.0f + alpha, l) - mul_rn(alpha, ld);
  const float r = mixed == kInf ? kFloatMax : mixed;
  const float kept = (l == -kInf || l < cutoff) ? -kInf : r;
  return l != l ? l : kept;
}

Status contrastive_cpu(const ContrastiveArgs& a);
Status contrastive_cuda(const ContrastiveArgs& a);

}  // namespace mmpref
