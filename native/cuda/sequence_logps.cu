// CUDA sequenceLogps / logpsBackward (math in ../cpp/ops/sequence_logps.h).
//
// Forward: one 256-thread block per logits row (grid-stride over rows). Thread 0 finds what the
// row scores (and flags a bad label); unscored rows are skipped without reading the logits. Each
// thread folds its share of the row, loaded as 16-byte vectors, into (c, s): c = a float near
// its running max * L, s = sum of exp2f(x*L - c); states merge with warp shuffles and shared
// memory in a fixed order, and lse = c/L + log(s) in double. A second small kernel (one block per
// sequence) sums the per-token values in double. Rows holding NaN, +inf or |x| > 1.8e8 take an
// exact two-pass path inside the same block.
// Backward: the same row blocks write g * (onehot - exp(x - lse)) with 16-byte loads and stores,
// lse given (one pass) or recomputed per row first. float32 accumulation throughout.
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

template <class T>
__global__ void __launch_bounds__(kBlock, 4) sequence_logps_row_kernel(LogpsRows m, const T* __restrict__ logits,
                                          float* __restrict__ per_token, float* __restrict__ lse_out) {
  for (int64_t r = blockIdx.x; r < m.rows; r += gridDim.x) {
    int64_t li;
    const int64_t y = block_target(m, r, &li);
    if (y < 0) continue;  // block-uniform
    const T* x = logits + r * m.vocab;
    const double lse = row_lse(x, m.vocab);
    if (threadIdx.x == 0) {
      per_token[li] = float(token_logp(to_float(x[y]), lse));
      if (lse_out) lse_out[r] = float(lse);
    }
  }
}

// One block per sequence: counts (and, with per_token, the log-prob sums) in a fixed order; the
// smallest index of a label outside [0, V) that is not ignore_index goes to *err.
__global__ void sequence_reduce_kernel(LogpsRows m, const float* __restrict__ per_token,
                                       float* __restrict__ logps, int32_t* __restrict__ counts,
                                       unsigned long long* err) {
  MMPREF_SHARED(double, sh_s, [kWarps]);
  MMPREF_SHARED(int, sh_n, [kWarps]);
  for (int64_t b = blockIdx.x; b < m.seqs; b += gridDim.x) {
    const int64_t s0 = m.cu_seqlens ? int64_t(m.cu_seqlens[b]) : b * m.seq_len;
    const int64_t s1 = m.cu_seqlens ? int64_t(m.cu_seqlens[b + 1]) : s0 + m.seq_len;
    double sum = 0.0;
    int n = 0;
    for (int64_t r = s0 + threadIdx.x; r < s1; r += kBlock) {
      const int64_t li = label_index(r, s1, m.shift);
      if (li < 0) continue;
      const int64_t y = load_label(m.labels, m.label_dtype, li);
      if (y == m.ignore_index) continue;
      if (y < 0 || y >= m.vocab) {
        atomicMin(err, static_cast<unsigned long long>(li));
        continue;
      }
      ++n;
      if (per_token) sum += double(per_token[li]);
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      sum += __shfl_xor_sync(0xffffffffu, sum, off);
      n += __shfl_xor_sync(0xffffffffu, n, off);
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) {
      sh_s[threadIdx.x / 32] = sum;
      sh_n[threadIdx.x / 32] = n;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      sum = 0.0;
      n = 0;
      for (int w = 0; w < kWarps; ++w) {
        sum += sh_s[w];
        n += sh_n[w];
      }
      counts[b] = n;
      if (logps) logps[b] = float(m.average ? (n ? sum / n : 0.0) : sum);
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock, 4) logps_backward_row_kernel(LogpsRows m, const T* logits, T* grad,
                                          const float* __restrict__ grad_logps,
                                          const float* __restrict__ lse_in,
                                          const int32_t* __restrict__ counts) {
  constexpr int kVec = 16 / sizeof(T);
  const int64_t V = m.vocab;
  for (int64_t r = blockIdx.x; r < m.rows; r += gridDim.x) {
    int64_t li;
    const int64_t y = block_target(m, r, &li);
    const T* x = logits + r * V;
    T* g = grad + r * V;
    if (y < 0) {  // block-uniform: zeros, without reading the logits
      const int64_t gmis = (reinterpret_cast<uintptr_t>(g) / sizeof(T)) % kVec;
      const int64_t ghead = gmis ? (kVec - gmis < V ? kVec - gmis : V) : 0;
      for (int64_t j = threadIdx.x; j < ghead; j += kBlock) g[j] = from_float<T>(0.0f);
      const int64_t gvec = (V - ghead) / kVec;
      uint4* gz = reinterpret_cast<uint4*>(g + ghead);
      for (int64_t i = threadIdx.x; i < gvec; i += kBlock) gz[i] = make_uint4(0u, 0u, 0u, 0u);
      for (int64_t j = ghead + gvec * kVec + threadIdx.x; j < V; j += kBlock) g[j] = from_float<T>(0.0f);
      continue;
    }
    // lse as hi + lo floats: exp((x - hi) - lo) keeps a recomputed (double) lse's precision
    const SeqSpan sp = seq_of_row(m, r);
    const int n = counts[sp.seq];
    const float gb = grad_logps[sp.seq] / float(m.average ? (n > 1 ? n : 1) : 1);
    float lse_hi = 0.0f, lse_lo = 0.0f;
    if (lse_in) {
      lse_hi = lse_in[r];
    } else {
      const double lse = row_lse(x, V);
      lse_hi = float(lse);
      lse_lo = (lse_hi == lse) ? 0.0f : float(lse - double(lse_hi));  // 0 for +-inf, NaN kept in hi
    }
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
}

// ---- launch helpers ---------------------------------------------------------------------------

// Stream-ordered scratch memory, freed when it goes out of scope.
// cuSeqlens is read back (B + 1 ints) and checked on the host before any kernel uses it.
Status check_rows(const char* op, const LogpsRows& m) {
  if (!m.cu_seqlens) return Status::Ok();
  std::string host(size_t(m.seqs + 1) * sizeof(int32_t), '\0');
  MMPREF_RETURN_IF_ERROR(cuda::status_from(
      cudaMemcpyAsync(host.data(), m.cu_seqlens, host.size(), cudaMemcpyDeviceToHost, cuda::op_stream()), op));
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaStreamSynchronize(cuda::op_stream()), op));
  return check_cu_seqlens(op, reinterpret_cast<const int32_t*>(host.data()), m.seqs, m.rows);
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


template <class T>
Status launch_forward(const SequenceLogpsArgs& a) {
  const char* op = "sequenceLogps";
  const LogpsRows& m = a.map;
  cudaStream_t st = cuda::op_stream();
  MMPREF_RETURN_IF_ERROR(check_rows(op, m));
  cuda::DeviceScratch err;
  MMPREF_RETURN_IF_ERROR(err.alloc(sizeof(unsigned long long), op));
  auto* e = err.get<unsigned long long>();
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(e, 0xff, sizeof(*e), st), op));
  if (m.rows)
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(a.per_token, 0, size_t(m.rows) * 4, st), op));
  if (a.lse && m.rows)
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(a.lse, 0, size_t(m.rows) * 4, st), op));
  if (m.rows)
    cuda::launch(MMPREF_KERNEL(sequence_logps_row_kernel<T>), cuda::grid_for(m.rows, 1), kBlock, 0, st)(m, static_cast<const T*>(a.logits),
                                                                      a.per_token, a.lse);
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), op));
  if (m.seqs)
    cuda::launch(MMPREF_KERNEL(sequence_reduce_kernel), cuda::grid_for(m.seqs, 1), kBlock, 0, st)(m, a.per_token, a.logps, a.counts, e);
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync(op));
  return read_label_error(op, m, e);
}

// Labels are checked (with the counts) before any gradient is written, so a bad label leaves
// in-place logits untouched.
template <class T>
Status launch_backward(const LogpsBackwardArgs& a) {
  const char* op = "logpsBackward";
  const LogpsRows& m = a.map;
  cudaStream_t st = cuda::op_stream();
  MMPREF_RETURN_IF_ERROR(check_rows(op, m));
  cuda::DeviceScratch err, counts;
  MMPREF_RETURN_IF_ERROR(err.alloc(sizeof(unsigned long long), op));
  MMPREF_RETURN_IF_ERROR(counts.alloc_n<int32_t>(m.seqs, op));
  auto* e = err.get<unsigned long long>();
  auto* cnt = counts.get<int32_t>();
  MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaMemsetAsync(e, 0xff, sizeof(*e), st), op));
  if (m.seqs) cuda::launch(MMPREF_KERNEL(sequence_reduce_kernel), cuda::grid_for(m.seqs, 1), kBlock, 0, st)(m, nullptr, nullptr, cnt, e);
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync(op));
  MMPREF_RETURN_IF_ERROR(read_label_error(op, m, e));
  if (m.rows)
    cuda::launch(MMPREF_KERNEL(logps_backward_row_kernel<T>), cuda::grid_for(m.rows, 1), kBlock, 0, st)(
        m, static_cast<const T*>(a.logits), static_cast<T*>(a.grad), a.grad_logps, a.lse, cnt);
  return cuda::check_launch_and_sync(op);
}

}  // namespace

Status sequence_logps_cuda(const SequenceLogpsArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "sequenceLogps", { return launch_forward<T>(a); });
}

Status logps_backward_cuda(const LogpsBackwardArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "logpsBackward", { return launch_backward<T>(a); });
}

}  // namespace mmpref
