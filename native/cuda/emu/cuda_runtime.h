// The CUDA programming model on the CPU, for the emulation build (CMake MMPREF_CUDA_EMULATE=ON):
// native/cuda/*.cu compile with g++ against this header instead of nvcc's. Blocks run as groups of
// cooperatively scheduled fibers (one per CUDA thread) on the launching host thread or a few
// worker threads; __syncthreads and every warp collective are real synchronisation points, and
// misuse (a barrier or collective some threads never reach, masks naming absent lanes, shared
// memory written out of bounds) fails the launch with the kernel name and thread coordinates.
// Between synchronisation points threads run one at a time in a seeded random order.
// Precise host functions stand in for the fast-math intrinsics (__expf -> expf, __logf -> logf,
// __fdividef -> /, rsqrtf -> 1/sqrtf); FMA contraction is not modelled (g++ -ffp-contract=off).
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#define MMPREF_CUDA_EMULATION 1

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// __shared__ is deliberately not defined: declare shared memory with MMPREF_SHARED /
// MMPREF_DYNAMIC_SHARED (native/cuda/launch.cuh), which bounds-check it here.

// ---- vector types ---------------------------------------------------------------------------------
struct uint3 { unsigned x, y, z; };
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(8) int2 { int x, y; };
struct alignas(8) float2 { float x, y; };
struct alignas(4) uchar4 { unsigned char x, y, z, w; };
struct alignas(4) char4 { signed char x, y, z, w; };
struct alignas(8) ushort4 { unsigned short x, y, z, w; };
struct alignas(8) short4 { short x, y, z, w; };
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }

// ---- runtime types --------------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorLaunchFailure = 719,
};
typedef cudaError_t cudaError;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct CUstream_st;
typedef CUstream_st* cudaStream_t;
struct CUevent_st;
typedef CUevent_st* cudaEvent_t;
#define cudaStreamPerThread (reinterpret_cast<cudaStream_t>(0x2))
#define cudaStreamLegacy (reinterpret_cast<cudaStream_t>(0x1))
#define cudaStreamNonBlocking 0x01

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major, minor;
  int multiProcessorCount;
};

// Runtime API (implemented in native/cuda/emu/emu.cc). Streams are synchronous: every call and
// launch completes before it returns, so stream order holds trivially. One device (index 0).
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaRuntimeGetVersion(int* v);
cudaError_t cudaDriverGetVersion(int* v);
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDevice(int* d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d);
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b);
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t s);
cudaError_t cudaFreeAsync(void* p, cudaStream_t s);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind k);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind k, cudaStream_t s = nullptr);
cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind k);
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind k, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* dst, int v, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int v, size_t bytes, cudaStream_t s = nullptr);
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b);
template <class T>
cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMalloc(reinterpret_cast<void**>(p), bytes); }
template <class T>
cudaError_t cudaMallocAsync(T** p, size_t bytes, cudaStream_t s) {
  return cudaMallocAsync(reinterpret_cast<void**>(p), bytes, s);
}

namespace mmpref::emu {

// ---- execution model ------------------------------------------------------------------------------
struct Thread {
  uint3 idx;       // threadIdx
  int flat;        // x + y * bx + z * bx * by
  int lane, warp;  // flat % 32, flat / 32
};
struct Block {
  uint3 idx;  // blockIdx
  dim3 dim, grid;
};
extern thread_local Thread* t_thread;
extern thread_local Block* t_block;

enum class Coll : int { kSyncwarp, kShflIdx, kShflXor, kShflUp, kShflDown, kBallot, kAny, kAll, kMatchAny,
                        kReduceAdd, kReduceMin, kReduceMax, kReduceMinS, kReduceMaxS, kActive };
// One warp collective by the calling thread; returns its 64-bit result (the call is a
// synchronisation point: the lanes of `mask` must all reach it).
uint64_t warp_collective(Coll op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line);
// __syncthreads and friends (op: 0 plain, 1 or, 2 and, 3 count); returns the reduced predicate.
int block_barrier(int op, int pred, const char* file, int line);
void* shared_var(const void* key, size_t bytes, size_t align, const char* name);
void* dynamic_shared();
void launch(const char* name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            void (*run)(const void*), const void* closure, const void* func);
void set_func_max_dynamic_smem(const void* func, int bytes);
[[noreturn]] void trap(const char* what, const char* file, int line);

template <class T>
inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp collectives move at most 8 bytes");
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
inline T from_bits(uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}
template <class A>
inline A& shared(const void* key, const char* name) {
  return *static_cast<A*>(shared_var(key, sizeof(A), alignof(A), name));
}

}  // namespace mmpref::emu

// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) is honoured:
// a launch asking for more than 48 KiB of dynamic shared memory without it fails, as on a GPU.
template <class... P>
inline cudaError_t cudaFuncSetAttribute(void (*f)(P...), cudaFuncAttribute a, int v) {
  if (a == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (v < 0 || v > 227 * 1024) return cudaErrorInvalidValue;
    ::mmpref::emu::set_func_max_dynamic_smem(reinterpret_cast<const void*>(f), v);
  }
  return cudaSuccess;
}

#define threadIdx (::mmpref::emu::t_thread->idx)
#define blockIdx (::mmpref::emu::t_block->idx)
#define blockDim (::mmpref::emu::t_block->dim)
#define gridDim (::mmpref::emu::t_block->grid)
constexpr int warpSize = 32;

// ---- synchronisation ------------------------------------------------------------------------------
inline void __syncthreads(const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  ::mmpref::emu::block_barrier(0, 0, f, l);
}
inline int __syncthreads_or(int p, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return ::mmpref::emu::block_barrier(1, p != 0, f, l);
}
inline int __syncthreads_and(int p, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return ::mmpref::emu::block_barrier(2, p != 0, f, l);
}
inline int __syncthreads_count(int p, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return ::mmpref::emu::block_barrier(3, p != 0, f, l);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  ::mmpref::emu::warp_collective(::mmpref::emu::Coll::kSyncwarp, mask, 0, 0, 32, f, l);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

#define MMPREF_EMU_SHFL(NAME, OP)                                                                        \
  template <class T>                                                                                   \
  inline T NAME(unsigned mask, T v, int arg, int width = 32, const char* f = __builtin_FILE(),          \
                int l = __builtin_LINE()) {                                                            \
    return ::mmpref::emu::from_bits<T>(                                                                \
        ::mmpref::emu::warp_collective(::mmpref::emu::Coll::OP, mask, ::mmpref::emu::to_bits(v), int(arg), \
                                       width, f, l));                                                  \
  }
MMPREF_EMU_SHFL(__shfl_sync, kShflIdx)
MMPREF_EMU_SHFL(__shfl_xor_sync, kShflXor)
MMPREF_EMU_SHFL(__shfl_up_sync, kShflUp)
MMPREF_EMU_SHFL(__shfl_down_sync, kShflDown)
#undef MMPREF_EMU_SHFL

inline unsigned __ballot_sync(unsigned mask, int p, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return unsigned(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kBallot, mask, p != 0, 0, 32, f, l));
}
inline int __any_sync(unsigned mask, int p, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return int(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kAny, mask, p != 0, 0, 32, f, l));
}
inline int __all_sync(unsigned mask, int p, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return int(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kAll, mask, p != 0, 0, 32, f, l));
}
template <class T>
inline unsigned __match_any_sync(unsigned mask, T v, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  static_assert(std::is_integral_v<T> || std::is_floating_point_v<T>, "__match_any_sync: scalar");
  return unsigned(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kMatchAny, mask,
                                                 ::mmpref::emu::to_bits(v), int(sizeof(T)), 32, f, l));
}
inline unsigned __reduce_add_sync(unsigned mask, unsigned v, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return unsigned(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kReduceAdd, mask, v, 0, 32, f, l));
}
inline int __reduce_add_sync(unsigned mask, int v, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return int(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kReduceAdd, mask, unsigned(v), 0, 32, f, l));
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return unsigned(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kReduceMin, mask, v, 0, 32, f, l));
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return unsigned(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kReduceMax, mask, v, 0, 32, f, l));
}
inline int __reduce_min_sync(unsigned mask, int v, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return int(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kReduceMinS, mask, uint32_t(v), 0, 32, f, l));
}
inline int __reduce_max_sync(unsigned mask, int v, const char* f = __builtin_FILE(), int l = __builtin_LINE()) {
  return int(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kReduceMaxS, mask, uint32_t(v), 0, 32, f, l));
}
// The lanes of the caller's warp that have not exited (the emulator keeps no divergence state).
inline unsigned __activemask() {
  return unsigned(::mmpref::emu::warp_collective(::mmpref::emu::Coll::kActive, 0, 0, 0, 32, nullptr, 0));
}
#define __trap() ::mmpref::emu::trap("__trap()", __FILE__, __LINE__)

// ---- intrinsics -------------------------------------------------------------------------------------
template <class T>
inline T __ldg(const T* p) { return *p; }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
// Round-to-nearest arithmetic: what g++ does anyway with -ffp-contract=off.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline float __int2float_rn(int v) { return float(v); }
inline float __uint2float_rn(unsigned v) { return float(v); }
inline float __ll2float_rn(long long v) { return float(v); }
inline double __ll2double_rn(long long v) { return double(v); }
inline int __float2int_rz(float v) { return int(v); }
inline int __float_as_int(float f) { return ::mmpref::emu::from_bits<int>(::mmpref::emu::to_bits(f)); }
inline unsigned __float_as_uint(float f) { return ::mmpref::emu::from_bits<unsigned>(::mmpref::emu::to_bits(f)); }
inline float __int_as_float(int i) { return ::mmpref::emu::from_bits<float>(::mmpref::emu::to_bits(i)); }
inline float __uint_as_float(unsigned i) { return ::mmpref::emu::from_bits<float>(::mmpref::emu::to_bits(i)); }
inline double __longlong_as_double(long long i) { return ::mmpref::emu::from_bits<double>(::mmpref::emu::to_bits(i)); }
inline long long __double_as_longlong(double d) { return ::mmpref::emu::from_bits<long long>(::mmpref::emu::to_bits(d)); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }
inline int __clz(int v) { return v ? __builtin_clz(unsigned(v)) : 32; }
inline int __clzll(long long v) { return v ? __builtin_clzll((unsigned long long)v) : 64; }
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((uint64_t(a) * b) >> 32); }
inline int __mulhi(int a, int b) { return int((int64_t(a) * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned s) {
  s &= 31;
  return s ? (hi << s) | (lo >> (32 - s)) : hi;
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned s) {
  s &= 31;
  return s ? (lo >> s) | (hi << (32 - s)) : lo;
}

// Device min / max (CUDA overloads them for every arithmetic type; mixed types promote).
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(a) < C(b) ? C(b) : C(a);
}

// ---- atomics (real atomics: blocks may run on several host threads) --------------------------------
#define MMPREF_EMU_ATOMIC_INT(T)                                                                         \
  inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }                    \
  inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }                  \
  inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }                \
  inline T atomicCAS(T* p, T cmp, T v) {                                                                \
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                  \
    return cmp;                                                                                         \
  }                                                                                                     \
  inline T atomicMax(T* p, T v) {                                                                       \
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                       \
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) { \
    }                                                                                                   \
    return old;                                                                                         \
  }                                                                                                     \
  inline T atomicMin(T* p, T v) {                                                                       \
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                       \
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) { \
    }                                                                                                   \
    return old;                                                                                         \
  }
MMPREF_EMU_ATOMIC_INT(int)
MMPREF_EMU_ATOMIC_INT(unsigned)
MMPREF_EMU_ATOMIC_INT(long long)
MMPREF_EMU_ATOMIC_INT(unsigned long long)
#undef MMPREF_EMU_ATOMIC_INT
#define MMPREF_EMU_ATOMIC_FLOAT(T, U)                                                                   \
  inline T atomicAdd(T* p, T v) {                                                                      \
    U* q = reinterpret_cast<U*>(p);                                                                    \
    U old = __atomic_load_n(q, __ATOMIC_SEQ_CST);                                                      \
    for (;;) {                                                                                         \
      const U nv = ::mmpref::emu::from_bits<U>(::mmpref::emu::to_bits(::mmpref::emu::from_bits<T>(old) + v)); \
      if (__atomic_compare_exchange_n(q, &old, nv, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))          \
        return ::mmpref::emu::from_bits<T>(old);                                                       \
    }                                                                                                  \
  }
MMPREF_EMU_ATOMIC_FLOAT(float, uint32_t)
MMPREF_EMU_ATOMIC_FLOAT(double, uint64_t)
#undef MMPREF_EMU_ATOMIC_FLOAT
