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

/** Kept scores of row (b, h, i) as in attentionRef: s[j] = scale <q_i, k_j>, -Infinity where not kept. */
function rowScores(a: AttentionRefArgs, b: number, h: number, i: number, s: Float64Array): void {
  const { Hq, Hkv, Tq, T, d } = a;
  const Tk = a.kvLength ?? T;
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const offset = a.queryOffset ?? Tk - Tq;
  const kvh = Math.floor(h / (Hq / Hkv));
  const row = (b * Hq + h) * Tq + i;
  for (let j = 0; j < Tk; j++) {
    s[j] = -Infinity;
    if ((a.causal && j > offset + i) || (a.keep && !a.keep(b, j))) continue;
    let dot = 0;
    for (let t = 0; t < d; t++) dot += a.q[row * d + t]! * a.k[((b * Hkv + kvh) * T + j) * d + t]!;
    s[j] = scale * dot;
  }
}

/**
 * float64 gradient of attentionRef's out with respect to q, k and v for an incoming gradient dOut
 * (the chain rule through the softmax, written from the definition, not from the kernels' D
 * trick): P_ij = softmax_j(s_i), dV_j = sum_i P_ij dO_i, dP_ij = <dO_i, v_j>,
 * dS_ij = P_ij (dP_ij - sum_l P_il dP_il), dQ_i = scale sum_j dS_ij k_j, dK_j = scale sum_i dS_ij q_i
 * (dK/dV summed over the query heads of a kv head). Keys >= kvLength and rows with no kept key
 * get zeros.
 */
export function attentionBackwardRef(a: AttentionRefArgs, dOut: ArrayLike<number>): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, Hq, Hkv, Tq, T, d } = a;
  const Tk = a.kvLength ?? T;
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const G = Hq / Hkv;
  const dq = new Float64Array(B * Hq * Tq * d);
  const dk = new Float64Array(B * Hkv * T * d);
  const dv = new Float64Array(B * Hkv * T * d);
  const s = new Float64Array(Tk);
  const p = new Float64Array(Tk);
  const dp = new Float64Array(Tk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / G);
      for (let i = 0; i < Tq; i++) {
        const row = (b * Hq + h) * Tq + i;
        rowScores(a, b, h, i, s);
        let m = -Infinity;
        for (let j = 0; j < Tk; j++) m = Math.max(m, s[j]!);
        if (m === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < Tk; j++) sum += (p[j] = s[j] === -Infinity ? 0 : Math.exp(s[j]! - m));
        let pdp = 0;
        for (let j = 0; j < Tk; j++) {
          p[j] = p[j]! / sum;
          let x = 0;
          for (let t = 0; t < d; t++) x += dOut[row * d + t]! * a.v[((b * Hkv + kvh) * T + j) * d + t]!;
          dp[j] = x;
          pdp += p[j]! * x;
        }
        for (let j = 0; j < Tk; j++) {
          if (p[j] === 0) continue;
          const ds = p[j]! * (dp[j]! - pdp);
          const kv = ((b * Hkv + kvh) * T + j) * d;
          for (let t = 0; t < d; t++) {
            dv[kv + t] = dv[kv + t]! + p[j]! * dOut[row * d + t]!;
            dq[row * d + t] = dq[row * d + t]! + scale * ds * a.k[kv + t]!;
            dk[kv + t] = dk[kv + t]! + scale * ds * a.q[row * d + t]!;
          }
        }
      }
    }
  return { dq, dk, dv };
}

/**
 * Error bounds for attention.maskedBackward's float32 arithmetic, per element of dq, dk and dv,
 * given the forward output O the kernel was handed, which may differ from the exact one by
 * outErr (attentionBound of the forward, including its rounding to the dtype). u = 2^-24; per row i
 * A_i = scale sum_t |q_t k_jt| maxed over kept keys (score magnitude), n_i kept keys, and
 *   P error (relative): eP_i = u (4 (d + 2) A_i + 4 |lse_i| + 4 n_i + 16)   (scaled q, the dot, lse as
 *     float32 from the forward, s - lse, exp_approx ~1 ulp: each a few u times the magnitude),
 *   dP error: (d + 2) u sum_t |dO_it v_jt|,
 *   D error:  (d + 2) u sum_t |dO_it O_it| + sum_t |dO_it| outErr_it,
 *   dS error: eS_ij = P_ij (eP_i |dP_ij - D_i| + dP error + D error) (+ rounding of the product, u),
 * then every output is a sum of `terms` products (rows G Tq for dk/dv, keys for dq) in float32:
 *   dv_jt: sum_i P_ij |dO_it| (eP_i + (terms + 2) u),
 *   dk_jt: |scale| sum_i (eS_ij |q_it| + |dS_ij q_it| (terms + 3) u),
 *   dq_it: |scale| sum_j (eS_ij |k_jt| + |dS_ij k_jt| (terms + 3) u),
 * and storing in the dtype adds unit (|x| + E) + tiny. Exact values come from the float64 forward.
 */
export function attentionBackwardBound(a: AttentionRefArgs, dOut: ArrayLike<number>, outErr: ArrayLike<number>, unit: number, tiny: number): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, Hq, Hkv, Tq, T, d } = a;
  const u = 2 ** -24;
  const Tk = a.kvLength ?? T;
  const scale = a.scale ?? 1 / Math.sqrt(d);
  const G = Hq / Hkv;
  const { out, lse } = attentionRef(a);
  const { dq: gq, dk: gk, dv: gv } = attentionBackwardRef(a, dOut);
  const eq = new Float64Array(gq.length);
  const ek = new Float64Array(gk.length);
  const ev = new Float64Array(gv.length);
  const s = new Float64Array(Tk);
  const rowsPerKv = G * Tq;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / G);
      for (let i = 0; i < Tq; i++) {
        const row = (b * Hq + h) * Tq + i;
        rowScores(a, b, h, i, s);
        if (lse[row] === -Infinity) continue;
        let A = 0;
        let n = 0;
        for (let j = 0; j < Tk; j++) {
          if (s[j] === -Infinity) continue;
          n++;
          let mag = 0;
          for (let t = 0; t < d; t++) mag += Math.abs(a.q[row * d + t]! * a.k[((b * Hkv + kvh) * T + j) * d + t]!);
          A = Math.max(A, Math.abs(scale) * mag);
        }
        const eP = u * (4 * (d + 2) * A + 4 * Math.abs(lse[row]!) + 4 * n + 16);
        let D = 0;
        let eD = 0;
        for (let t = 0; t < d; t++) {
          const g = dOut[row * d + t]!;
          D += g * out[row * d + t]!;
          eD += (d + 2) * u * Math.abs(g * out[row * d + t]!) + Math.abs(g) * outErr[row * d + t]!;
        }
        for (let j = 0; j < Tk; j++) {
          if (s[j] === -Infinity) continue;
          const kv = ((b * Hkv + kvh) * T + j) * d;
          const P = Math.exp(s[j]! - lse[row]!);
          let dP = 0;
          let dPmag = 0;
          for (let t = 0; t < d; t++) {
            const x = dOut[row * d + t]! * a.v[kv + t]!;
            dP += x;
            dPmag += Math.abs(x);
          }
          const dS = P * (dP - D);
          const eS = P * (eP * Math.abs(dP - D) + (d + 2) * u * dPmag + eD) + u * Math.abs(dS);
          for (let t = 0; t < d; t++) {
            ev[kv + t] = ev[kv + t]! + P * Math.abs(dOut[row * d + t]!) * (eP + (rowsPerKv + 2) * u);
            ek[kv + t] = ek[kv + t]! + Math.abs(scale) * (eS * Math.abs(a.q[row * d + t]!) + Math.abs(dS * a.q[row * d + t]!) * (rowsPerKv + 3) * u);
            eq[row * d + t] = eq[row * d + t]! + Math.abs(scale) * (eS * Math.abs(a.k[kv + t]!) + Math.abs(dS * a.k[kv + t]!) * (n + 3) * u);
          }
        }
      }
    }
  const finish = (e: Float64Array, x: Float64Array) => {
    for (let i = 0; i < e.length; i++) e[i] = e[i]! + unit * (Math.abs(x[i]!) + e[i]!) + tiny;
    return e;
  };
  return { dq: finish(eq, gq), dk: finish(ek, gk), dv: finish(ev, gv) };
}
