// Block-per-row device code over logits rows, shared by sequence_logps.cu and cross_entropy.cu
// (math in ../cpp/ops/sequence_logps.h): the online exp2-domain (c, s) state and its block merge,
// a block's row log-sum-exp (row_lse, with the exact two-pass path), what a row scores
// (block_target), the gradient row gb * (onehot - softmax) (block_grad_row), zero rows, and the
// host-side ERR_RANGE for a recorded bad label. Internal linkage: each .cu gets its own copy.
#pragma once

#include <cstdint>
#include <string>

#include "../cpp/ops/sequence_logps.h"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;

// ---- per-thread online state in the exp2 domain -------------------------------------------------

struct Ref {
  float c;    // reference (-inf until the first finite value)
  float s;    // sum of exp2f(x*L - c)
  bool nan;   // a NaN was seen
};

__device__ __forceinline__ Ref ref_empty() { return Ref{-kInf, 0.0f, false}; }

// Adds K values whose max is vm.
template <int K>
__device__ __forceinline__ void ref_push(Ref& st, const float (&v)[K]) {
  float vm = v[0];
  bool nan = v[0] != v[0];
#pragma unroll
  for (int k = 1; k < K; ++k) {
    vm = fmaxf(vm, v[k]);
    nan |= v[k] != v[k];
  }
  st.nan |= nan;
  float cn = vm * kLog2eF;
  // NB: a finite |vm| > 2.4e38 (float32 / bfloat16) overflows vm * L; keep c finite (and >= the
  // 2^28 bound) so the row takes the exact path instead of reading as all -inf or containing +inf.
  if (fabsf(cn) == kInf && fabsf(vm) != kInf) cn = copysignf(3.40282347e38f, vm);
  if (cn > st.c) {  // new running max: rescale (s is 0 while c is -inf)
    st.s = st.c == -kInf ? 0.0f : st.s * exp2f(st.c - cn);
    st.c = cn;
  }
  if (st.c == -kInf) return;  // every value so far is -inf (or NaN, flagged above)
#pragma unroll
  for (int k = 0; k < K; ++k) st.s += exp2f(fmaf(v[k], kLog2eF, -st.c));
}

__device__ __forceinline__ Ref ref_merge(Ref a, Ref b) {
  const float c = fmaxf(a.c, b.c);
  Ref r{c, 0.0f, a.nan || b.nan};
  if (c == -kInf) return r;
  if (a.c != -kInf) r.s += a.s * exp2f(a.c - c);
  if (b.c != -kInf) r.s += b.s * exp2f(b.c - c);
  return r;
}

__device__ __forceinline__ Ref warp_merge(Ref st) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    Ref o{__shfl_xor_sync(0xffffffffu, st.c, off), __shfl_xor_sync(0xffffffffu, st.s, off),
          __shfl_xor_sync(0xffffffffu, int(st.nan), off) != 0};
    st = ref_merge(st, o);
  }
  return st;
}

// Calls f(index, value) for this thread's share of row p[0, n): scalar head up to 16-byte
// alignment, 16-byte vectors, scalar tail.
template <class T, class F>
__device__ __forceinline__ void for_row(const T* p, int64_t n, F&& f) {
  constexpr int kVec = 16 / sizeof(T);
  const int64_t mis = (reinterpret_cast<uintptr_t>(p) / sizeof(T)) % kVec;
  int64_t head = mis ? kVec - mis : 0;
  if (head > n) head = n;
  for (int64_t i = threadIdx.x; i < head; i += kBlock) {
    float v[1] = {to_float(p[i])};
    f(v);
  }
  const int64_t nvec = (n - head) / kVec;
  const uint4* pv = reinterpret_cast<const uint4*>(p + head);
  const auto use = [&](const uint4& raw) {
    const T* e = reinterpret_cast<const T*>(&raw);
    float v[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[k] = to_float(e[k]);
    f(v);
  };
  // NB: two 16-byte loads in flight per thread before either is used (memory-level parallelism).
  // Plain loads, not __ldg: the backward recomputes lse on logits it then overwrites in place, and
  // the read-only path is only defined for data no thread writes during the kernel (the forward's
  // `const __restrict__` logits still let the compiler pick it there).
  int64_t i = threadIdx.x;
  for (; i + kBlock < nvec; i += 2 * kBlock) {
    const uint4 a = pv[i], b = pv[i + kBlock];
    use(a);
    use(b);
  }
  if (i < nvec) use(pv[i]);
  for (int64_t i = head + nvec * kVec + threadIdx.x; i < n; i += kBlock) {
    float v[1] = {to_float(p[i])};
    f(v);
  }
}

// Block-wide reductions (every thread gets the result). `sh` holds kWarps entries.
__device__ __forceinline__ Ref block_merge(Ref st, Ref* sh) {
  st = warp_merge(st);
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) sh[warp] = st;
  __syncthreads();
  st = lane < kWarps ? sh[lane] : ref_empty();
  return warp_merge(st);
}

__device__ __forceinline__ float block_max(float v, float* sh) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  v = (threadIdx.x & 31) < kWarps ? sh[threadIdx.x & 31] : -kInf;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

__device__ __forceinline__ float block_sum(float v, float* sh) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  v = (threadIdx.x & 31) < kWarps ? sh[threadIdx.x & 31] : 0.0f;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// lse of row p[0, n), returned to every thread of the block (same special cases as the CPU).
template <class T>
__device__ double row_lse(const T* p, int64_t n) {
  MMPREF_SHARED(Ref, sh_ref, [kWarps]);
  MMPREF_SHARED(float, sh_f, [kWarps]);
  // 1. fast path: online (c, s)
  Ref st = ref_empty();
  for_row(p, n, [&](const auto& v) { ref_push(st, v); });
  st = block_merge(st, sh_ref);
  if (st.nan) return __longlong_as_double(0x7ff8000000000000LL);
  if (st.c == -kInf) return -double(kInf);  // all -inf (or n = 0)
  if (st.c == kInf) return double(kInf);    // a +inf (its s is NaN: inf - inf)
  if (fabsf(st.c) < kRefLimit && st.s > 0.0f && st.s < kInf) return lse_from_ref(st.c, double(st.s));
  // 2. exact two-pass path for |max| > 1.8e8 (rare; st.s is meaningless here)
  float m = -kInf;
  for_row(p, n, [&](const auto& v) {
    for (float e : v) m = fmaxf(m, e);
  });
  m = block_max(m, sh_f);
  float s = 0.0f;
  for_row(p, n, [&](const auto& v) {
    for (float e : v) s += expf(e - m);
  });
  s = block_sum(s, sh_f);
  return double(m) + log(double(s));
}

// What the block's row scores (computed by thread 0, broadcast); bad labels score nothing here
// and are reported by sequence_reduce_kernel.
__device__ __forceinline__ int64_t block_target(const LogpsRows& m, int64_t r, int64_t* li) {
  MMPREF_SHARED(int64_t, sh_y, );
  MMPREF_SHARED(int64_t, sh_li, );
  __syncthreads();
  if (threadIdx.x == 0) {
    int64_t l = -1;
    const int64_t y = row_target(m, r, &l);
    sh_y = y < 0 ? -1 : y;
    sh_li = l;
  }
  __syncthreads();
  *li = sh_li;
  return sh_y;
}

// Writes +0 over g[0, V) with 16-byte stores (block-wide), without reading anything.
template <class T>
__device__ __forceinline__ void block_zero_row(T* g, int64_t V) {
  constexpr int kVec = 16 / sizeof(T);
  const int64_t gmis = (reinterpret_cast<uintptr_t>(g) / sizeof(T)) % kVec;
  const int64_t ghead = gmis ? (kVec - gmis < V ? kVec - gmis : V) : 0;
  for (int64_t j = threadIdx.x; j < ghead; j += kBlock) g[j] = from_float<T>(0.0f);
  const int64_t gvec = (V - ghead) / kVec;
  uint4* gz = reinterpret_cast<uint4*>(g + ghead);
  for (int64_t i = threadIdx.x; i < gvec; i += kBlock) gz[i] = make_uint4(0u, 0u, 0u, 0u);
  for (int64_t j = ghead + gvec * kVec + threadIdx.x; j < V; j += kBlock) g[j] = from_float<T>(0.0f);
}

// Writes g[0, V) = gb * (onehot(y) - exp(x - lse)) (block-wide) with lse = lse_hi + lse_lo (two
// floats: exp((x - hi) - lo) keeps a double lse's precision). x may equal g (in place).
template <class T>
__device__ __forceinline__ void block_grad_row(const T* x, T* g, int64_t V, int64_t y, float gb, float lse_hi,
                                               float lse_lo) {
  constexpr int kVec = 16 / sizeof(T);
  const auto value = [&](int64_t j, float v) -> float {
    const float z = (v - lse_hi) - lse_lo;
    // NB: the label's g * (1 - p) as -g * expm1(z): 1.0f - expf(z) cancels when p is close to 1
    // (a confident token), where the CPU computes it in double
    if (j == y) return -gb * expm1f(z);
    return -gb * expf(z);
  };
  // NB: each element is read and written by the same thread, so logits == grad is safe.
  const int64_t mis = (reinterpret_cast<uintptr_t>(x) / sizeof(T)) % kVec;
  const bool vec_ok = (reinterpret_cast<uintptr_t>(x) % 16) == (reinterpret_cast<uintptr_t>(g) % 16);
  int64_t head = vec_ok ? (mis ? kVec - mis : 0) : V;
  if (head > V) head = V;
  for (int64_t j = threadIdx.x; j < head; j += kBlock) g[j] = from_float<T>(value(j, to_float(x[j])));
  const int64_t nvec = (V - head) / kVec;
  const uint4* xv = reinterpret_cast<const uint4*>(x + head);
  uint4* gv = reinterpret_cast<uint4*>(g + head);
  const auto grad_vec = [&](int64_t i, const uint4& raw) {
    const T* e = reinterpret_cast<const T*>(&raw);
    uint4 o;
    T* oe = reinterpret_cast<T*>(&o);
#pragma unroll
    for (int k = 0; k < kVec; ++k) oe[k] = from_float<T>(value(head + i * kVec + k, to_float(e[k])));
    gv[i] = o;
  };
  // two loads in flight per thread (both read before either is written: safe in place)
  int64_t i = threadIdx.x;
  for (; i + kBlock < nvec; i += 2 * kBlock) {
    const uint4 a = xv[i], b = xv[i + kBlock];
    grad_vec(i, a);
    grad_vec(i + kBlock, b);
  }
  if (i < nvec) grad_vec(i, xv[i]);
  for (int64_t j = head + nvec * kVec + threadIdx.x; j < V; j += kBlock)
    g[j] = from_float<T>(value(j, to_float(x[j])));
}

// Turns the recorded smallest bad label index into ERR_RANGE (after the kernels synchronised).
Status read_label_error(const char* op, const LogpsRows& m, const unsigned long long* err) {
  // NB: copies on op_stream() (cudaMemcpy's legacy default stream would wait for other threads' work)
  const auto d2h = [&](void* dst, const void* src, size_t n) {
    MMPREF_RETURN_IF_ERROR(
        cuda::status_from(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, cuda::op_stream()), op));
    return cuda::status_from(cudaStreamSynchronize(cuda::op_stream()), op);
  };
  unsigned long long li = 0;
  MMPREF_RETURN_IF_ERROR(d2h(&li, err, sizeof(li)));
  if (li == ~0ull) return Status::Ok();
  int64_t y = 0;
  const size_t isz = m.label_dtype == DType::kInt64 ? 8 : 4;
  int32_t y32 = 0;
  const char* src = static_cast<const char*>(m.labels) + li * isz;
  MMPREF_RETURN_IF_ERROR(d2h(isz == 8 ? static_cast<void*>(&y) : static_cast<void*>(&y32), src, isz));
  return label_range_error(op, m, int64_t(li), isz == 8 ? y : int64_t(y32));
}

}  // namespace
}  // namespace mmpref
