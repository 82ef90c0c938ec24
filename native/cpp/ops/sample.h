// sampling.sample: one token per row from logits [B, V], Hugging Face processor order.
//
//   1. repetition penalty (HF RepetitionPenaltyLogitsProcessor): for every distinct token h in the
//      row's history (-1 = padding): l_h <- l_h < 0 ? l_h * penalty : l_h / penalty
//   2. temperature: l'_j = l_j / temperature          (temperature = 0: greedy, see below)
//   3. top-k:  keep l'_j >= the k-th largest l'        (ties at the cut are kept)
//   4. top-p:  on the distribution renormalised over the top-k set, keep j iff the mass of tokens
//              strictly larger than j is < topP        (ties at the cut are kept; the top token(s)
//              always survive, as HF's min_tokens_to_keep = 1)
//   5. min-p:  keep exp(l'_j - max) >= minP           (HF MinPLogitsWarper: p_j >= minP * p_max)
//   6. draw j with probability proportional to exp(l'_j - max) over the kept set S;
//      logprob = l'_j - max - log(sum_S exp(l'_i - max))
//
// Exactness and reproducibility. Steps 3-6 are done on integers: every token gets the mass
// q_j = floor(exp(l'_j - max) * 2^40) (exp_nonpos, bit-identical on CPU and CUDA), the cuts are
// exact thresholds in the order-preserving uint32 key of l'_j (found by a radix search on count
// or mass histograms, never a sort: 11/11/10-bit digits on the CPU, 4 x 8 bits on CUDA; the cut
// is defined exactly, so both find the same key), and the draw is an inverse-CDF walk in index order over S:
// token = min j with sum_{i <= j, i in S} q_i > floor(r * Z_S / 2^64), r a 64-bit Philox word
// pair. Integer sums do not depend on summation order, so CPU (any thread count) and CUDA return
// the same token for the same inputs, and the draw follows q_j / Z_S exactly. The quantisation
// drops tokens whose probability is below 2^-40 of the top token's (at most V * 2^-40 of mass).
//
// Randomness (core/philox.h stream convention): row r draws block r of the stream
// (seed = the row's seed, offset = step), i.e. philox4x32_10(counter = {r_lo, r_hi, step_lo,
// step_hi}, key = {seed_lo, seed_hi}), and uses words 0 and 1 as r = w0 | w1 << 32.
//
// Greedy (temperature = 0): the lowest index of the maximal penalised logit; logprob = 0 (the
// final distribution is a point mass). top-k/top-p/min-p do not change the argmax.
// Errors (data-dependent): a history token outside [-1, V), NaN or +Infinity after steps 1-2,
// and a row whose logits are all -Infinity are ERR_RANGE.
#pragma once

#include <cmath>
#include <cstdint>

#include "../core/dtype.h"
#include "../core/math.h"
#include "../core/philox.h"
#include "../core/status.h"

namespace mmpref {

struct SampleArgs {
  const void* logits = nullptr;  // [rows, vocab]
  DType dtype = DType::kFloat32;
  int64_t rows = 0, vocab = 0;
  const int32_t* history = nullptr;  // [rows, hist_len] token ids, -1 = padding; nullptr = none
  int64_t hist_len = 0;
  float penalty = 1.0f;      // > 0; 1 = off
  float temperature = 1.0f;  // >= 0; 0 = greedy
  int64_t top_k = 0;         // 0 or >= vocab = off
  double top_p = 1.0;        // in [0, 1]; 1 = off
  float min_p = 0.0f;        // in [0, 1]; 0 = off
  const uint64_t* seeds = nullptr;  // per-row seeds in host memory, or nullptr: `seed` for all
  uint64_t seed = 0, step = 0;
  int32_t* tokens = nullptr;  // [rows] int32
  float* logprobs = nullptr;  // [rows] float32
  int device = -1;
};

// Vocabulary limit: vocab * 2^40 must fit in uint64.
constexpr int64_t kSampleMaxVocab = int64_t(1) << 23;
constexpr int kMassBits = 40;

// Error codes shared by the CPU status and the CUDA device flag.
enum SampleError : int { kSampleOk = 0, kSampleNonFinite = 1, kSampleAllNegInf = 2, kSampleBadHistory = 3 };

// Steps 1-2 for one logit. NB: plain IEEE multiply/divide (no contraction possible), so CPU and
// CUDA produce the same bits.
MMPREF_HD float sample_process(float v, bool penalised, float penalty, float temperature) {
  if (penalised) v = v < 0.0f ? v * penalty : v / penalty;
  return temperature > 0.0f ? v / temperature : v;
}

// Order-preserving uint32 key of a float (NaN excluded by the caller); -0 and +0 share a key
// (v + 0 turns -0 into +0). Branchless: flips all bits of negatives, the sign bit of positives.
MMPREF_HD uint32_t sample_key(float v) {
  const uint32_t u = float_as_bits(v + 0.0f);
  return u ^ (uint32_t(int32_t(u) >> 31) | 0x80000000u);
}

// Integer mass of a token whose processed logit is `d` below the row max (d <= 0 or -inf).
// NB: e * 2^40 is exact and at most 2^40, so the (vectorisable) int64 truncation is the floor.
MMPREF_HD uint64_t sample_q(float e) { return uint64_t(int64_t(e * 1099511627776.0f)); }
MMPREF_HD uint64_t sample_mass(float d) { return sample_q(exp_nonpos(d)); }

MMPREF_HD uint64_t sample_mulhi64(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __umul64hi(a, b);
#else
  return uint64_t((unsigned __int128)a * b >> 64);
#endif
}

// The row's 64-bit random word (see the header comment for the exact Philox words).
MMPREF_HD uint64_t sample_random64(uint64_t seed, uint64_t step, uint64_t row) {
  const Philox4 b = philox_block(seed, step, row);
  return uint64_t(b.v[0]) | (uint64_t(b.v[1]) << 32);
}

// Top-p mass threshold: keep j iff mass(strictly above j) < top_p * z, i.e. < ceil(top_p * z)
// (at most z: double rounding must not push it past the total).
MMPREF_HD uint64_t sample_top_p_threshold(double top_p, uint64_t z) {
  const uint64_t t = uint64_t(ceil(top_p * double(z)));
  return t < z ? t : z;
}

// Mass of token j in the final set S = {l'_j >= tau, e_j >= min_p}, else 0; e_j = exp(l'_j - max).
MMPREF_HD uint64_t sample_masked_q(float x, float e, float tau, float min_p) {
  return sample_q((x >= tau && e >= min_p) ? e : 0.0f);
}
MMPREF_HD uint64_t sample_masked_mass(float x, float m, float tau, float min_p) {
  return sample_masked_q(x, exp_nonpos(x - m), tau, min_p);
}

// Inverse of sample_key.
MMPREF_HD float sample_key_to_float(uint32_t k) {
  return bits_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// log q_j / Z_S in float: (l'_j - max) - log(Z_S * 2^-40).
MMPREF_HD float sample_logprob(float d, uint64_t z) {
  return float(double(d) - (log(double(z)) - double(kMassBits) * 0.69314718055994530942));
}

Status sample_cpu(const SampleArgs& a);
Status sample_cuda(const SampleArgs& a);

}  // namespace mmpref
