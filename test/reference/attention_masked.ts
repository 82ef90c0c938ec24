/**
 * float64 reference for attention.masked (also the bench's naive TS baseline): for every
 * (b, h, i), scores s_j = scale * <q, k_j> over the kept keys j < kvLength (keep(b, j), and
 * j <= queryOffset + i when causal), softmax, weighted sum of v. kv head of query head h is
 * h / (Hq / Hkv). A row with no kept key gives zeros and lse -Infinity; a kept key with a NaN
 * score makes the row's output and lse NaN.
 */
export interface AttentionRefArgs {
  q: ArrayLike<number>; // [B, Hq, Tq, d]
  k: ArrayLike<number>; // [B, Hkv, T, d]
  v: ArrayLike<number>; // [B, Hkv, T, d]
  B: number;
  Hq: number;
  Hkv: number;
  Tq: number;
  T: number;
  d: number;
  kvLength?: number;
  scale?: number;
  causal?: boolean;
  queryOffset?: number;
  /** key j of batch row b may be attended */
  keep?: (b: number, j: number) => boolean;
}

export function attentionRef(a: AttentionRefArgs): { out: Float64Array; lse: Float64Array } {
  const { B, Hq, Hkv, Tq, T, d } = a;
  const Tk = a.kvLength ?? T;
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const offset = a.queryOffset ?? Tk - Tq;
  const G = Hq / Hkv;
  const out = new Float64Array(B * Hq * Tq * d);
  const lse = new Float64Array(B * Hq * Tq);
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / G);
      for (let i = 0; i < Tq; i++) {
        const row = (b * Hq + h) * Tq + i;
        let m = -Infinity;
        for (let j = 0; j < Tk; j++) {
          const kept = (!a.causal || j <= offset + i) && (!a.keep || a.keep(b, j));
          if (!kept) {
            s[j] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let t = 0; t < d; t++) dot += a.q[row * d + t]! * a.k[((b * Hkv + kvh) * T + j) * d + t]!;
          s[j] = scale * dot;
          if (s[j]! > m || Number.isNaN(s[j]!)) m = s[j]!; // a NaN score makes the row NaN
        }
        if (m === -Infinity) {
          lse[row] = -Infinity;
          continue; // out stays zero
        }
        let sum = 0;
        for (let j = 0; j < Tk; j++) sum += s[j] === -Infinity ? 0 : Math.exp(s[j]! - m);
        for (let j = 0; j < Tk; j++) {
          if (s[j] === -Infinity) continue;
          const p = Math.exp(s[j]! - m) / sum;
          for (let t = 0; t < d; t++) out[row * d + t] = out[row * d + t]! + p * a.v[((b * Hkv + kvh) * T + j) * d + t]!;
        }
        lse[row] = m + Math.log(sum);
      }
    }
  return { out, lse };
}

/**
 * Error bound for attention.masked's float32 arithmetic (test tolerances; not used by the bench).
 * Per output element (row i, column t), with u = 2^-24, A = max over kept keys of
 * scale * sum_t |q_t k_jt| (score magnitude), n = kept keys, M = sum_j p_j |v_jt|:
 *   scores: |ds_j| <= (d + 1) u A; exp(s_j - m): relative (2d + 4) u A + 4u (exp_nonpos ~1 ulp);
 *   sums over n keys (any order, split merges included, each rescale factor shared by numerator
 *   and denominator): relative n u each; division and fma roundings: a few u.
 * So |out_computed - out| <= E = u (4 (d + 2) A + 4 n + 16) M, the float32 result, and storing
 * it in a half type (round to nearest even, once) adds at most unit * |out_computed| plus half
 * the subnormal spacing `tiny`, where unit = 2^-11 (float16), 2^-8 (bfloat16), 0 (float32):
 *   bound = E + unit (|out| + E) + tiny.
 * The bound grows with the reduction lengths d and n and scales with M >= |out| (not with |out|
 * alone, which can cancel to ~0 while the error cannot).
 */
export function attentionBound(a: AttentionRefArgs, unit: number, tiny: number): Float64Array {
  const { B, Hq, Hkv, Tq, T, d } = a;
  const u = 2 ** -24;
  const Tk = a.kvLength ?? T;
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const offset = a.queryOffset ?? Tk - Tq;
  const G = Hq / Hkv;
  const { out } = attentionRef(a);
  const bound = new Float64Array(B * Hq * Tq * d);
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / G);
      for (let i = 0; i < Tq; i++) {
        const row = (b * Hq + h) * Tq + i;
        let m = -Infinity;
        let A = 0;
        let n = 0;
        for (let j = 0; j < Tk; j++) {
          s[j] = -Infinity;
          if ((a.causal && j > offset + i) || (a.keep && !a.keep(b, j))) continue;
          let dot = 0;
          let mag = 0;
          for (let t = 0; t < d; t++) {
            const x = a.q[row * d + t]! * a.k[((b * Hkv + kvh) * T + j) * d + t]!;
            dot += x;
            mag += Math.abs(x);
          }
          s[j] = scale * dot;
          m = Math.max(m, s[j]!);
          A = Math.max(A, Math.abs(scale) * mag);
          n++;
        }
        if (n === 0) continue; // zeros, exactly
        let sum = 0;
        for (let j = 0; j < Tk; j++) if (s[j] !== -Infinity) sum += Math.exp(s[j]! - m);
        const rel = u * (4 * (d + 2) * A + 4 * n + 16);
        for (let t = 0; t < d; t++) {
          let M = 0;
          for (let j = 0; j < Tk; j++)
            if (s[j] !== -Infinity) M += (Math.exp(s[j]! - m) / sum) * Math.abs(a.v[((b * Hkv + kvh) * T + j) * d + t]!);
          const E = rel * M;
          bound[row * d + t] = E + unit * (Math.abs(out[row * d + t]!) + E) + tiny;
        }
      }
    }
  return bound;
}
