// Deliberately wrong kernels must fail under the emulator (scripts/test-cuda-emu.sh builds and
// runs this as a plain program: g++ -xc++ against native/cuda/emu, no addon, no GPU).
// Each case runs a correct kernel (must pass: same result as the float64 reference, no error)
// and a broken variant (must fail: an emulator error, or a result that differs from the reference):
//   1. tail bound off by one (the last element dropped; and a shared-memory write one past the end)
//   2. a missing __syncthreads between shared-memory writes and reads (and a divergent barrier)
//   3. a shuffle with the wrong lane (the wrong source lane; and a lane outside the mask)
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../../launch.cuh"

namespace {

constexpr int kThreads = 256;

enum Bug { kNone, kTailDropsLast, kTailSmemPastEnd, kNoSync, kDivergentSync, kWrongLane, kLaneOutsideMask };

// Sum of x[0, n) by one block: strided per-thread sums, a warp butterfly, warp partials in shared
// memory, the first warp adds them.
template <int BUG>
__global__ void block_sum_kernel(const float* x, int n, float* out) {
  MMPREF_SHARED(float, part, [kThreads / 32]);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float v = 0.0f;
  const int end = BUG == kTailDropsLast ? n - 1 : n;
  for (int i = threadIdx.x; i < end; i += blockDim.x) v += x[i];
  for (int off = 16; off > 0; off >>= 1) {
    if (BUG == kWrongLane) {
      v += __shfl_sync(0xffffffffu, v, (lane + off + 1) & 31);  // should be lane ^ off
    } else {
      v += __shfl_xor_sync(0xffffffffu, v, off);
    }
  }
  if (lane == 0) part[warp] = v;
  if (BUG == kTailSmemPastEnd && lane == 0 && warp == kThreads / 32 - 1) (&part[0])[kThreads / 32] = v;
  if (BUG == kDivergentSync) {
    if (warp == 0) __syncthreads();
  } else if (BUG != kNoSync) {
    __syncthreads();
  }
  if (warp == 0) {
    float s = lane < kThreads / 32 ? part[lane] : 0.0f;
    if (BUG == kLaneOutsideMask) {
      if (lane < 16) s += __shfl_sync(0x0000ffffu, s, lane + 16);  // lanes 16..31 are not in the mask
    } else {
      for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    }
    if (lane == 0) *out = s;
  }
}

template <int BUG>
bool run_case(const char* what, bool expect_ok) {
  const int n = 1000;  // not a multiple of the block: a tail
  std::vector<float> h(n);
  double ref = 0;
  for (int i = 0; i < n; ++i) {
    h[i] = float((i * 37) % 101) / 16.0f;
    ref += h[i];
  }
  float *x = nullptr, *out = nullptr;
  cudaMalloc(&x, n * sizeof(float));
  cudaMalloc(&out, sizeof(float));
  cudaMemcpy(x, h.data(), n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemset(out, 0, sizeof(float));
  mmpref::cuda::launch(MMPREF_KERNEL(block_sum_kernel<BUG>), 1, kThreads)(x, n, out);
  const cudaError_t e = cudaGetLastError();
  float got = 0;
  cudaMemcpy(&got, out, sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(x);
  cudaFree(out);
  // float32 sum of 1000 values in [0, 6.25]: error <= 1000 * 2^-24 * 6250 (generous bound)
  const bool close = std::fabs(got - ref) <= 1000 * 6250.0 * 5.96e-8;
  const bool ok = e == cudaSuccess && close;
  const bool pass = ok == expect_ok;
  std::printf("%s %s: %s (got %.4f, reference %.4f%s%s)\n", pass ? "ok  " : "FAIL", what,
              ok ? "correct" : "caught", got, ref, e == cudaSuccess ? "" : "; emulator: ",
              e == cudaSuccess ? "" : cudaGetErrorString(e));
  return pass;
}

}  // namespace

int main() {
  int bad = 0;
  bad += !run_case<kNone>("correct kernel", true);
  bad += !run_case<kTailDropsLast>("tail bound off by one (last element dropped)", false);
  bad += !run_case<kTailSmemPastEnd>("tail bound off by one (shared memory written one past the end)", false);
  bad += !run_case<kNoSync>("missing __syncthreads", false);
  bad += !run_case<kDivergentSync>("__syncthreads in a branch only warp 0 takes", false);
  bad += !run_case<kWrongLane>("shuffle from the wrong lane", false);
  bad += !run_case<kLaneOutsideMask>("shuffle from a lane outside the mask", false);
  std::printf("wrong kernels: %s\n", bad ? "FAILED" : "every broken variant caught, the correct one passes");
  return bad ? 1 : 0;
}
