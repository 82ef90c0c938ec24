#include "../cpp/ops/membw.h"
#include "common.cuh"

namespace mmpref {
namespace {

// n = 4 n4 + tail (tail < 4: the last elements, one per thread of block 0)
__global__ void membw_read_kernel(const float4* __restrict__ x, int64_t n4, int tail, float* out) {
  float s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4; i += int64_t(gridDim.x) * blockDim.x) {
    const float4 v = __ldg(x + i);
    s += (v.x + v.y) + (v.z + v.w);
  }
  if (blockIdx.x == 0 && int(threadIdx.x) < tail) s += reinterpret_cast<const float*>(x + n4)[threadIdx.x];
  for (int off = 16; off; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
  if ((threadIdx.x & 31) == 0) atomicAdd(out, s);
}

__global__ void membw_rmw_kernel(float4* __restrict__ x, int64_t n4, int tail) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4; i += int64_t(gridDim.x) * blockDim.x) {
    float4 v = x[i];
    v.x = v.x * 0.999f + 1e-7f;
    v.y = v.y * 0.999f + 1e-7f;
    v.z = v.z * 0.999f + 1e-7f;
    v.w = v.w * 0.999f + 1e-7f;
    x[i] = v;
  }
  if (blockIdx.x == 0 && int(threadIdx.x) < tail) {
    float* t = reinterpret_cast<float*>(x + n4) + threadIdx.x;
    *t = *t * 0.999f + 1e-7f;
  }
}

}  // namespace

Status membw_cuda(MemBwArgs* a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a->device));
  const int64_t n4 = a->n / 4;
  const int tail = int(a->n - 4 * n4);  // NB: the binding accepts any n; the last n % 4 elements
  int sms = 132;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, a->device) != cudaSuccess) {
    cudaGetLastError();  // keep the default; do not leave a stale error for the launch check
    sms = 132;
  }
  const int grid = sms * 8, block = 256;
  switch (a->kind) {
    case MemBwKind::kRead: {
      cuda::DeviceScratch scratch;
      MMPREF_RETURN_IF_ERROR(scratch.alloc(4, "membw"));
      float* out = scratch.get<float>();
      Status st = cuda::status_from(cudaMemsetAsync(out, 0, 4, cuda::op_stream()), "membw read");
      float h = 0;
      if (st.ok()) {
        cuda::launch(MMPREF_KERNEL(membw_read_kernel), grid, block, 0, cuda::op_stream())(reinterpret_cast<const float4*>(a->x), n4, tail, out);
        st = cuda::check_launch_and_sync("membw read");
      }
      // NB: on op_stream() (cudaMemcpy's legacy default stream would wait for other threads' work)
      if (st.ok()) st = cuda::status_from(cudaMemcpyAsync(&h, out, 4, cudaMemcpyDeviceToHost, cuda::op_stream()), "membw read");
      if (st.ok()) st = cuda::status_from(cudaStreamSynchronize(cuda::op_stream()), "membw read");
      a->result = h;
      return st;
    }
    case MemBwKind::kCopy:
    case MemBwKind::kCopyLib:
      MMPREF_RETURN_IF_ERROR(cuda::status_from(
          cudaMemcpyAsync(a->y, a->x, size_t(a->n) * 4, cudaMemcpyDeviceToDevice, cuda::op_stream()), "membw copy"));
      return cuda::check_launch_and_sync("membw copy");
    case MemBwKind::kWrite:
      MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(a->x, 0, size_t(a->n) * 4, cuda::op_stream()), "membw write"));
      return cuda::check_launch_and_sync("membw write");
    case MemBwKind::kRmw:
      cuda::launch(MMPREF_KERNEL(membw_rmw_kernel), grid, block, 0, cuda::op_stream())(reinterpret_cast<float4*>(a->x), n4, tail);
      return cuda::check_launch_and_sync("membw rmw");
  }
  return Status::Ok();
}

}  // namespace mmpref
