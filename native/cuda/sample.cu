// CUDA sampling.sample: a 512-thread block per row, no sort. The math (processing, integer masses,
// key thresholds, Philox words, logprob) is the MMPREF_HD code of cpp/ops/sample.h, so tokens are
// the same as on the CPU. Per row:
//   1. max of the processed logits (and the lowest argmax, for greedy), NaN/+inf check;
//   2. top-k / top-p cuts: exact radix search over the order-preserving key, 4 levels of 8 bits
//      (the CPU uses 11/11/10 bits; the cut is defined exactly, so both find the same key). A
//      level is one pass over the row: each warp takes 32 consecutive elements at a time, lanes
//      with the same digit are grouped (__match_any_sync) and their count or mass summed
//      (__popc / __reduce_add_sync over two 32-bit halves), and the group leader adds it to its
//      warp's private histogram. No atomics: hot bins do not serialise, and the integer sums are
//      reproducible. Then the 16 private histograms are combined and one warp picks the bin where
//      the count or mass, cumulated from the top, reaches the threshold;
//   3. the draw: every thread sums the masked integer masses of its contiguous segment, one block
//      exclusive scan, and the thread whose segment holds the target walks it.
// Logits are processed on the fly (l / temperature); with a history the processed row is first
// written to a float32 scratch [B, V] and the penalised tokens patched in by a second kernel.
#include "../cpp/ops/sample.h"
#include "block_reduce.cuh"
#include "common.cuh"

namespace mmpref {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kDigitBits = 8, kBins = 1 << kDigitBits, kLevels = 32 / kDigitBits;

struct SampleParams {
  int64_t rows, vocab;
  float temperature, min_p;
  int64_t top_k;
  double top_p;
  const uint64_t* seeds;  // device, or nullptr
  uint64_t seed, step;
  int32_t* tokens;
  float* logprobs;
  int* flag;
};

struct MaxArg {
  float v;
  int64_t i;
};
struct MaxArgOp {
  __device__ __forceinline__ MaxArg operator()(const MaxArg& a, const MaxArg& b) const {
    return (a.v > b.v || (a.v == b.v && a.i < b.i)) ? a : b;
  }
};

struct Shared {
  union {
    MaxArg max[kWarps];
    unsigned long long scan[kWarps];
  } tmp;
  unsigned long long priv[kWarps][kBins];  // per-warp histograms of one level
  unsigned long long hist[kBins];          // their sum
  float m;
  int64_t argmax;
  int sel_bin;
  unsigned long long sel_above, sel_thr, target;
};

// Warp 0: the first bin from the top with hist[b] > 0 and above + sum_{b' >= b} hist[b'] >= thr
// (thr = top-p threshold of the histogram total when top_p >= 0). Writes sh.sel_bin (-1: none),
// sh.sel_above and sh.sel_thr (the threshold used).
__device__ void select_bin(Shared& sh, int nbins, unsigned long long above, unsigned long long thr, double top_p) {
  const int lane = threadIdx.x;
  const int per = nbins / 32;
  const int top = nbins - 1 - lane * per;  // this lane's bins, top-down: top, top - 1, ...
  unsigned long long sum = 0;
  for (int i = 0; i < per; ++i) sum += sh.hist[top - i];
  unsigned long long incl = sum;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {
    const unsigned long long o = __shfl_up_sync(0xffffffffu, incl, off);
    if (lane >= off) incl += o;
  }
  if (top_p >= 0.0) thr = sample_top_p_threshold(top_p, __shfl_sync(0xffffffffu, incl, 31));
  if (lane == 0) sh.sel_thr = thr;
  const unsigned ok = __ballot_sync(0xffffffffu, sum > 0 && above + incl >= thr);
  if (lane == 0 && !ok) sh.sel_bin = -1;
  if (ok && lane == __ffs(ok) - 1) {
    unsigned long long cum = above + incl - sum;
    for (int i = 0; i < per; ++i) {
      const unsigned long long h = sh.hist[top - i];
      if (h > 0 && cum + h >= thr) {
        sh.sel_bin = top - i;
        sh.sel_above = cum;
        break;
      }
      cum += h;
    }
  }
}

// Largest element key kappa >= lo with sum_{key >= kappa} stat >= thr (stat: 1, or the integer
// mass when kMass). Top-p (top_p >= 0): thr is derived from the level-0 total. False if none.
template <bool kMass, class Load>
__device__ bool radix_search(Shared& sh, const Load& load, int64_t V, float m, uint32_t lo, unsigned long long thr,
                             double top_p, uint32_t* kappa) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  uint32_t prefix = 0;
  unsigned long long above = 0;
  for (int level = 0; level < kLevels; ++level) {
    const int shift = 32 - kDigitBits * (level + 1);
    for (int i = threadIdx.x; i < kWarps * kBins; i += kThreads) (&sh.priv[0][0])[i] = 0;
    __syncthreads();
    for (int64_t base = int64_t(warp) * 32; base < V; base += kThreads) {  // warp-uniform loop
      const int64_t j = base + lane;
      int bin = kBins;  // sentinel: not counted
      unsigned long long stat = 0;
      if (j < V) {
        const float x = load(j);
        const uint32_t key = sample_key(x);
        if (key >= lo && (level == 0 || (key >> (shift + kDigitBits)) == prefix)) {
          bin = int((key >> shift) & (kBins - 1));
          stat = kMass ? sample_mass(x - m) : 1ull;
        }
      }
      const unsigned peers = __match_any_sync(0xffffffffu, bin);
      unsigned long long sum;
      if (kMass) {  // stat < 2^41: 32 low parts of 27 bits and high parts of 14 bits fit 32-bit sums
        const unsigned lo27 = __reduce_add_sync(peers, unsigned(stat & 0x7ffffffull));
        const unsigned hi = __reduce_add_sync(peers, unsigned(stat >> 27));
        sum = (static_cast<unsigned long long>(hi) << 27) + lo27;
      } else {
        sum = __popc(peers);
      }
      if (bin < kBins && lane == __ffs(peers) - 1) sh.priv[warp][bin] += sum;
      __syncwarp();
    }
    __syncthreads();
    for (int b = threadIdx.x; b < kBins; b += kThreads) {
      unsigned long long total = 0;
      for (int w = 0; w < kWarps; ++w) total += sh.priv[w][b];
      sh.hist[b] = total;
    }
    __syncthreads();
    if (threadIdx.x < 32) select_bin(sh, kBins, above, thr, level == 0 ? top_p : -1.0);
    __syncthreads();
    const int b = sh.sel_bin;
    if (b < 0) return false;
    thr = sh.sel_thr;  // top-p: later levels compare with the same absolute threshold
    above = sh.sel_above;
    prefix = (prefix << kDigitBits) | uint32_t(b);
    __syncthreads();  // priv, hist and sel_* are reused by the next level
  }
  *kappa = prefix;
  return true;
}

template <class T, bool kScratch>
__global__ void __launch_bounds__(kThreads)
    sample_row_kernel(const T* __restrict__ logits, const float* __restrict__ scratch, SampleParams p) {
  MMPREF_SHARED(Shared, sh, );
  const int64_t V = p.vocab;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* lrow = logits + r * V;
    const float* srow = kScratch ? scratch + r * V : nullptr;
    const float temperature = p.temperature;
    auto load = [&](int64_t j) -> float {
      if constexpr (kScratch) return srow[j];
      else return sample_process(to_float(lrow[j]), false, 1.0f, temperature);
    };

    // 1. max, lowest argmax, NaN/+inf
    MaxArg best{-kInf, V};
    int bad = 0;
    for (int64_t j = threadIdx.x; j < V; j += kThreads) {
      const float x = load(j);
      bad |= (x != x) | (x == kInf);
      if (x > best.v) best = MaxArg{x, j};
    }
    bad = __syncthreads_or(bad);
    const MaxArg all = cuda::block_reduce<kThreads>(best, MaxArgOp(), sh.tmp.max);
    if (threadIdx.x == 0) sh.m = all.v, sh.argmax = all.i;
    __syncthreads();
    const float m = sh.m;
    if (bad || m == -kInf) {
      if (threadIdx.x == 0) atomicMax(p.flag, bad ? kSampleNonFinite : kSampleAllNegInf);
      continue;
    }
    if (temperature == 0.0f) {
      if (threadIdx.x == 0) p.tokens[r] = int32_t(sh.argmax), p.logprobs[r] = 0.0f;
      continue;
    }

    // 2. cuts
    uint32_t lo = sample_key(-kInf);
    bool ok = true;
    if (p.top_k > 0 && p.top_k < V) ok = radix_search<false>(sh, load, V, m, lo, (unsigned long long)p.top_k, -1.0, &lo);
    if (ok && p.top_p < 1.0) ok = radix_search<true>(sh, load, V, m, lo, 0ull, p.top_p, &lo);
    if (!ok) {
      if (threadIdx.x == 0) atomicMax(p.flag, kSampleNonFinite);
      continue;
    }
    const float tau = sample_key_to_float(lo);

    // 3. the draw over contiguous per-thread segments
    const int64_t seg = (V + kThreads - 1) / kThreads;
    const int64_t j0 = threadIdx.x * seg, j1 = j0 + seg < V ? j0 + seg : V;
    unsigned long long s = 0;
    for (int64_t j = j0; j < j1; ++j) s += sample_masked_mass(load(j), m, tau, p.min_p);
    unsigned long long z = 0;
    const unsigned long long before = cuda::block_exclusive_sum<kThreads>(s, &z, sh.tmp.scan);
    if (threadIdx.x == 0) {
      const uint64_t seed = p.seeds ? p.seeds[r] : p.seed;
      sh.target = sample_mulhi64(sample_random64(seed, p.step, uint64_t(r)), z);
    }
    __syncthreads();
    unsigned long long t = sh.target;
    if (s > 0 && before <= t && t < before + s) {
      t -= before;
      for (int64_t j = j0; j < j1; ++j) {
        const float x = load(j);
        const unsigned long long q = sample_masked_mass(x, m, tau, p.min_p);
        if (t < q) {
          p.tokens[r] = int32_t(j);
          p.logprobs[r] = sample_logprob(x - m, z);
          break;
        }
        t -= q;
      }
    }
    __syncthreads();  // shared memory is reused by the next row
  }
}

template <class T>
__global__ void sample_process_kernel(const T* __restrict__ logits, float* __restrict__ out, int64_t n,
                                      float temperature) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = sample_process(to_float(logits[i]), false, 1.0f, temperature);
}

// NB: duplicates in a history write the same value (computed from the original logit), so the
// penalty is applied once per distinct token, as HF's gather/scatter does.
template <class T>
__global__ void sample_penalty_kernel(const T* __restrict__ logits, float* __restrict__ out,
                                      const int32_t* __restrict__ history, int64_t rows, int64_t hist_len,
                                      int64_t V, float penalty, float temperature, int* flag) {
  const int64_t n = rows * hist_len;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int32_t tok = history[i];
    if (tok == -1) continue;
    if (tok < -1 || tok >= V) {
      atomicMax(flag, kSampleBadHistory);
      continue;
    }
    const int64_t k = (i / hist_len) * V + tok;
    out[k] = sample_process(to_float(logits[k]), true, penalty, temperature);
  }
}

template <class T>
Status launch(const SampleArgs& a) {
  cuda::DeviceFlag flag;
  MMPREF_RETURN_IF_ERROR(flag.init());
  cuda::DeviceScratch seeds, scratch;
  if (a.seeds) MMPREF_RETURN_IF_ERROR(seeds.upload(a.seeds, size_t(a.rows) * sizeof(uint64_t), "sample: seeds"));
  SampleParams p{a.rows,    a.vocab, a.temperature, a.min_p,       a.top_k,      a.top_p,  seeds.get<uint64_t>(),
                 a.seed,    a.step,  a.tokens,      a.logprobs,    flag.get()};
  const T* logits = static_cast<const T*>(a.logits);
  const int grid = cuda::grid_for(a.rows, 1);
  if (a.history && a.hist_len > 0) {
    MMPREF_RETURN_IF_ERROR(scratch.alloc(size_t(a.rows * a.vocab) * sizeof(float), "sample: scratch"));
    float* s = scratch.get<float>();
    cuda::launch(MMPREF_KERNEL(sample_process_kernel<T>), cuda::grid_for(a.rows * a.vocab, 256), 256, 0, cuda::op_stream())(
        logits, s, a.rows * a.vocab, a.temperature);
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), "sample"));
    cuda::launch(MMPREF_KERNEL(sample_penalty_kernel<T>), cuda::grid_for(a.rows * a.hist_len, 256), 256, 0, cuda::op_stream())(
        logits, s, a.history, a.rows, a.hist_len, a.vocab, a.penalty, a.temperature, flag.get());
    MMPREF_RETURN_IF_ERROR(cuda::status_from(cudaGetLastError(), "sample"));
    cuda::launch(MMPREF_KERNEL(sample_row_kernel<T, true>), grid, kThreads, 0, cuda::op_stream())(logits, s, p);
  } else {
    cuda::launch(MMPREF_KERNEL(sample_row_kernel<T, false>), grid, kThreads, 0, cuda::op_stream())(logits, nullptr, p);
  }
  MMPREF_RETURN_IF_ERROR(cuda::check_launch_and_sync("sample"));
  int code = 0;
  MMPREF_RETURN_IF_ERROR(flag.read(&code));
  switch (code) {
    case kSampleOk: return Status::Ok();
    case kSampleBadHistory:
      return make_status(Code::kRange, "sample: expected history tokens in [-1, " + std::to_string(a.vocab) +
                                           ") (-1 = padding) but received one outside");
    case kSampleNonFinite:
      return make_status(Code::kRange, "sample: expected finite logits (or -Infinity) but received NaN or +Infinity "
                                       "after repetition penalty and temperature");
    default:
      return make_status(Code::kRange, "sample: expected at least one logit above -Infinity in every row but a row "
                                       "is all -Infinity");
  }
}

}  // namespace

Status sample_cuda(const SampleArgs& a) {
  MMPREF_RETURN_IF_ERROR(cuda::set_device(a.device));
  if (a.rows == 0) return Status::Ok();
  return MMPREF_CUDA_DISPATCH_FLOAT(a.dtype, T, "sample", { return launch<T>(a); });
}

}  // namespace mmpref
