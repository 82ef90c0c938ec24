// CPU GEMM core for linear layers (forward and backward), BLIS/GotoBLAS style:
//
//   C[m, n] (+)= sum_k op(A)[m, k] * op(B)[k, n]  (+ bias[n])
//   op(A) = A [M, K] or, with trans_a, A^T for A stored [K, M]; op(B) = B [K, N] or, with trans_b,
//   B^T for B stored [N, K]. All row-major with leading dimensions lda / ldb / ldc.
//
// The three layouts of a linear layer y = x W^T (W [N, K]):
//   NT  forward  Y  = X  W^T       trans_b                       (A = X, B = W)
//   NN  input    dX = dY W                                       (A = dY, B = W)
//   TN  weight   dW (+)= dY^T X    trans_a, accumulate optional  (A = dY, B = X)
//
// Numerics: inputs float32 / float16 / bfloat16 (A and B share a dtype), products summed in float32.
// Output float32 or the input dtype; a half output is rounded once (round to nearest even) from the
// float32 sum plus bias. accumulate (float32 output only) adds the sum into C. Bias has the input
// dtype or float32, length N.
//   float32 / float16 (and bfloat16 below AVX512-BF16): every C[m, n] is one float32 FMA chain
//   over k = 0..K-1 (baseline: multiply then add, -ffp-contract=off), KC slices in order.
//   bfloat16 with AVX512-BF16: vdpbf16ps adds the exact products of k-pairs (2j+1 then 2j) to the
//   float32 accumulator with denormal inputs/outputs flushed to zero (Intel SDM).
//   NB: the K blocking (kGemmKC) is fixed and threads split only M and N, so the bits do not depend
//   on the thread count; they do depend on the ISA level (vector width does not: each C element
//   lives in one lane).
//
// Blocking (GotoBLAS): for each NC-column block and KC slice, B is packed once into NR-wide
// micro-panels (shared by all threads); work items are (MC rows x a group of micro-panels) of C,
// each packs its MC x KC block of A into MR-high micro-panels and runs the MR x NR register
// micro-kernel. Sizes per ISA in gemm_kernels.h. M <= 8 (decode): A is packed once and each
// item packs one B micro-panel at a time into L1 (B read once); same micro-kernel, same bits.
// M <= 4 with the NT layout (linear decode) at AVX2 and above, except bfloat16 at AVX512-BF16:
// a GEMV that reads W in place and transposes 8x8 blocks in registers straight into the FMAs
// (no packed copy), with the same FMA chain per element, so again the same bits.
//
// CUDA: gemm_cuda, same contract and float32 accumulation (see native/cuda/gemm_tc.cuh).
//
// ISA dispatch: gemm_isa() is the one place the level is chosen: the best level this CPU
// supports (cpuid through __builtin_cpu_supports, which also checks OS register-state support),
// capped by the environment variable MMPREF_CPU_ISA = baseline | avx2 | avx512 | avx512bf16 when
// set (read once), and per call by GemmArgs::max_isa (tests). Non-x86 builds have only baseline.
#pragma once

#include <cstdint>

#include "../core/dtype.h"
#include "../core/status.h"

namespace mmpref {

enum class GemmIsa : int { kBaseline = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3 };

// The ISA level GEMMs use (see above). Never higher than the CPU supports.
GemmIsa gemm_isa();
const char* gemm_isa_name(GemmIsa isa);

struct GemmArgs {
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  const void* bias = nullptr;  // [N] or nullptr
  DType in_dtype = DType::kFloat32;
  DType out_dtype = DType::kFloat32;
  DType bias_dtype = DType::kFloat32;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  bool trans_a = false, trans_b = false, accumulate = false;
  int max_isa = -1;  // < 0: gemm_isa(); else min(gemm_isa(), max_isa) (CPU only)
  int device = -1;   // CUDA device of all pointers, or -1 (host)
};

// Checks the arguments: dtypes (accumulate only into float32), sizes, leading dimensions.
Status gemm_check(const GemmArgs& a);
// gemm_check, then C (+)= op(A) op(B) (+ bias) on the CPU.
Status gemm_cpu(const GemmArgs& a);
// The same on CUDA (native/cuda/gemm_tc.cuh): tensor cores (wmma) for float16 / bfloat16 inputs,
// float32 SIMT for float32 inputs.
Status gemm_cuda(const GemmArgs& a);

}  // namespace mmpref
