// CPU sampling.sample: rows in parallel, one row per work item (so results do not depend on the
// thread count). Per row: (1) processed logits l' into a float buffer, history penalties patched
// in, row max and NaN/+inf check; (2) e_j = exp(l'_j - max) in one vectorised pass; (3) the top-k
// and top-p cuts by an exact radix search (a count or mass histogram of the top 11 key bits over
// the row, then the candidates of the selected bin only, 11 and 10 bits more); (4) the masked
// integer masses in blocks of 1024 and the inverse-CDF walk. No sort anywhere.
#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "../core/dispatch.h"
#include "../core/half.h"
#include "../core/thread_pool.h"
#include "sample.h"

namespace mmpref {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kScanBlock = 1024;

// Radix search levels over the 32-bit key: bits 31..21, 20..10, 9..0.
constexpr int kRadixLevels = 3;
constexpr int kRadixBins = 2048;
int radix_shift(int level) { return level == 0 ? 21 : (level == 1 ? 10 : 0); }
int radix_bits(int level) { return level == 2 ? 10 : 11; }
// True when `key` lies under `prefix` (the bits above this level's digit).
bool radix_match(uint32_t key, int level, uint32_t prefix) {
  return (uint64_t(key) >> (radix_shift(level) + radix_bits(level))) == prefix;
}
int radix_digit(uint32_t key, int level) {
  return int((key >> radix_shift(level)) & ((1u << radix_bits(level)) - 1u));
}

// 1a. l'_j = l_j / temperature (history patched afterwards).
template <class T>
MMPREF_CPU_CLONES void process_row(const T* l, int64_t n, float temperature, float* out) {
  if (temperature > 0.0f) {
    for (int64_t j = 0; j < n; ++j) out[j] = to_float(l[j]) / temperature;
  } else {
    for (int64_t j = 0; j < n; ++j) out[j] = to_float(l[j]);
  }
}

// 1b. Row max; *bad = true when a NaN or +inf is present. (Float flags: the loop vectorises.)
MMPREF_CPU_CLONES float row_max(const float* v, int64_t n, bool* bad) {
  float mx[kLanes], flag[kLanes];
  for (int j = 0; j < kLanes; ++j) mx[j] = -kInf, flag[j] = 0.0f;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float x = v[i + j];
      mx[j] = x > mx[j] ? x : mx[j];
      flag[j] = (x != x || x == kInf) ? 1.0f : flag[j];
    }
  float m = mx[0], any = 0.0f;
  for (int j = 0; j < kLanes; ++j) m = mx[j] > m ? mx[j] : m, any += flag[j];
  for (; i < n; ++i) {
    m = v[i] > m ? v[i] : m;
    any += (v[i] != v[i] || v[i] == kInf) ? 1.0f : 0.0f;
  }
  *bad = any != 0.0f;
  return m;
}

// 2. e_j = exp(l'_j - max), every argument <= 0 (or -inf).
MMPREF_CPU_CLONES void row_exp(const float* v, int64_t n, float m, float* e) {
  for (int64_t j = 0; j < n; ++j) e[j] = exp_nonpos(v[j] - m);
}

// 4a. Masked masses q_j (0 outside S) and their sums per kScanBlock block.
MMPREF_CPU_CLONES void masked_mass(const float* v, const float* e, int64_t n, float tau, float min_p, uint64_t* q,
                                   uint64_t* block_sums) {
  for (int64_t b0 = 0; b0 < n; b0 += kScanBlock) {
    const int64_t len = std::min(kScanBlock, n - b0);
    const float* vb = v + b0;
    const float* eb = e + b0;
    uint64_t* qb = q + b0;
    uint64_t acc[kLanes] = {0};
    int64_t i = 0;
    for (; i + kLanes <= len; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const uint64_t m = sample_masked_q(vb[i + j], eb[i + j], tau, min_p);
        qb[i + j] = m;
        acc[j] += m;
      }
    uint64_t s = 0;
    for (int j = 0; j < kLanes; ++j) s += acc[j];
    for (; i < len; ++i) s += qb[i] = sample_masked_q(vb[i], eb[i], tau, min_p);
    block_sums[b0 / kScanBlock] = s;
  }
}

// First bin from the top with hist[b] > 0 and above + sum_{b' >= b} hist[b'] >= thr; *above
// becomes the sum over the bins above it. -1 if there is none (not reachable for valid input).
int select_bin(const uint64_t* hist, int nbins, uint64_t thr, uint64_t* above) {
  uint64_t cum = *above;
  for (int b = nbins - 1; b >= 0; --b) {
    if (hist[b] > 0 && cum + hist[b] >= thr) {
      *above = cum;
      return b;
    }
    cum += hist[b];
  }
  return -1;
}

// 3a. Order-preserving keys of the row.
MMPREF_CPU_CLONES void row_keys(const float* v, int64_t n, uint32_t* keys) {
  for (int64_t j = 0; j < n; ++j) keys[j] = sample_key(v[j]);
}

// The largest element key kappa >= lo with sum_{key >= kappa} stat >= thr, where stat is 1
// (count, top-k) or q_j (mass, top-p; then thr = the top-p threshold of the mass over keys >= lo,
// computed from top_p). Level 0 histograms the whole row (4 interleaved sub-histograms: a hot
// bin does not serialise on one counter), levels 1 and 2 only the candidates of the chosen bin.
template <bool kMass>
bool radix_search(const uint32_t* keys, const float* e, int64_t n, uint32_t lo, uint64_t thr, double top_p,
                  uint32_t* cand, uint32_t* kappa) {
  constexpr int kSub = 4;
  std::vector<uint64_t> sub(size_t(kSub) * kRadixBins, 0);
  uint64_t* h = sub.data();
  const auto stat = [&](int64_t j) -> uint64_t { return kMass ? sample_q(e[j]) : 1u; };
  int64_t j = 0;
  for (; j + kSub <= n; j += kSub)
    for (int s = 0; s < kSub; ++s)
      if (keys[j + s] >= lo) h[s * kRadixBins + radix_digit(keys[j + s], 0)] += stat(j + s);
  for (; j < n; ++j)
    if (keys[j] >= lo) h[radix_digit(keys[j], 0)] += stat(j);
  std::array<uint64_t, kRadixBins> hist;
  for (int b = 0; b < kRadixBins; ++b) hist[size_t(b)] = h[b] + h[kRadixBins + b] + h[2 * kRadixBins + b] + h[3 * kRadixBins + b];
  if (kMass) {  // top-p: the threshold is a fraction of the mass over keys >= lo (Z_k)
    uint64_t z = 0;
    for (uint64_t x : hist) z += x;
    thr = sample_top_p_threshold(top_p, z);
  }
  uint64_t above = 0;
  int b = select_bin(hist.data(), 1 << radix_bits(0), thr, &above);
  if (b < 0) return false;
  uint32_t prefix = uint32_t(b);
  int64_t nc = 0;  // candidates: indices in the selected bin (branchless compaction)
  for (j = 0; j < n; ++j) {
    cand[nc] = uint32_t(j);
    nc += keys[j] >= lo && radix_match(keys[j], 1, prefix);
  }
  // levels 1, 2 over the candidates of the selected bin
  for (int level = 1; level < kRadixLevels; ++level) {
    hist.fill(0);
    for (int64_t c = 0; c < nc; ++c) {
      const uint32_t key = keys[cand[c]];
      if (radix_match(key, level, prefix)) hist[size_t(radix_digit(key, level))] += stat(cand[c]);
    }
    b = select_bin(hist.data(), 1 << radix_bits(level), thr, &above);
    if (b < 0) return false;
    prefix = (prefix << radix_bits(level)) | uint32_t(b);
  }
  *kappa = prefix;
  return true;
}

struct Scratch {
  std::vector<float> v, e;
  std::vector<uint32_t> keys, cand;
  std::vector<uint64_t> q, block_sums;
};

template <class T>
int sample_row(const SampleArgs& a, int64_t r, Scratch& s) {
  const int64_t V = a.vocab;
  const T* l = static_cast<const T*>(a.logits) + r * V;
  float* v = s.v.data();
  // 1. processed logits, penalties, max
  process_row(l, V, a.temperature, v);
  if (a.history) {
    const int32_t* h = a.history + r * a.hist_len;
    for (int64_t i = 0; i < a.hist_len; ++i) {
      const int32_t tok = h[i];
      if (tok == -1) continue;
      if (tok < -1 || tok >= V) return kSampleBadHistory;
      v[tok] = sample_process(to_float(l[tok]), true, a.penalty, a.temperature);
    }
  }
  bool bad = false;
  const float m = row_max(v, V, &bad);
  if (bad) return kSampleNonFinite;
  if (m == -kInf) return kSampleAllNegInf;
  if (a.temperature == 0.0f) {  // greedy: lowest index of the max
    int64_t j = 0;
    while (v[j] != m) ++j;
    a.tokens[r] = int32_t(j);
    a.logprobs[r] = 0.0f;
    return kSampleOk;
  }
  // 2. relative probabilities
  float* e = s.e.data();
  row_exp(v, V, m, e);
  // 3. top-k then top-p cuts, as keys
  uint32_t lo = sample_key(-kInf);
  const bool top_k = a.top_k > 0 && a.top_k < V, top_p = a.top_p < 1.0;
  if (top_k || top_p) {
    if (s.keys.size() < size_t(V)) s.keys.resize(size_t(V)), s.cand.resize(size_t(V));
    row_keys(v, V, s.keys.data());
  }
  if (top_k && !radix_search<false>(s.keys.data(), e, V, lo, uint64_t(a.top_k), 0.0, s.cand.data(), &lo))
    return kSampleNonFinite;
  if (top_p && !radix_search<true>(s.keys.data(), e, V, lo, 0, a.top_p, s.cand.data(), &lo)) return kSampleNonFinite;
  const float tau = sample_key_to_float(lo);
  // 4. masked masses, the draw, the walk
  masked_mass(v, e, V, tau, a.min_p, s.q.data(), s.block_sums.data());
  const int64_t nblocks = (V + kScanBlock - 1) / kScanBlock;
  uint64_t z = 0;
  for (int64_t b = 0; b < nblocks; ++b) z += s.block_sums[size_t(b)];
  const uint64_t seed = a.seeds ? a.seeds[r] : a.seed;
  uint64_t t = sample_mulhi64(sample_random64(seed, a.step, uint64_t(r)), z);
  int64_t b = 0;
  while (t >= s.block_sums[size_t(b)]) t -= s.block_sums[size_t(b++)];
  int64_t j = b * kScanBlock;
  while (t >= s.q[size_t(j)]) t -= s.q[size_t(j++)];
  a.tokens[r] = int32_t(j);
  a.logprobs[r] = sample_logprob(v[j] - m, z);
  return kSampleOk;
}

template <class T>
Status run(const SampleArgs& a) {
  std::vector<int> err(size_t(a.rows), kSampleOk);
  parallel_for(a.rows, 1, [&](int64_t r0, int64_t r1) {
    Scratch s;
    s.v.resize(size_t(a.vocab));
    if (a.temperature > 0.0f) {
      s.e.resize(size_t(a.vocab));
      s.q.resize(size_t(a.vocab));
      s.block_sums.resize(size_t((a.vocab + kScanBlock - 1) / kScanBlock));
    }
    for (int64_t r = r0; r < r1; ++r) err[size_t(r)] = sample_row<T>(a, r, s);
  });
  for (int64_t r = 0; r < a.rows; ++r) {
    if (err[size_t(r)] == kSampleOk) continue;
    const std::string row = "sample: row " + std::to_string(r);
    switch (err[size_t(r)]) {
      case kSampleBadHistory:
        return make_status(Code::kRange, row + ": expected history tokens in [-1, " + std::to_string(a.vocab) +
                                             ") (-1 = padding) but received one outside");
      case kSampleNonFinite:
        return make_status(Code::kRange, row + ": expected finite logits (or -Infinity) but received NaN or +Infinity "
                                             "after repetition penalty and temperature");
      default:
        return make_status(Code::kRange, row + ": expected at least one logit above -Infinity but all are -Infinity");
    }
  }
  return Status::Ok();
}

}  // namespace

Status sample_cpu(const SampleArgs& a) {
  return dispatch_float(a.dtype, "sample", [&](auto t) { return run<decltype(t)>(a); });
}

}  // namespace mmpref
