/**
 * float64 reference of the LLaMA-style decoder forward pass (lib/models/llama.ts), written from the
 * formulas with plain loops: embeddings -> N x [RMSNorm, q/k/v projections, rotary (rotate_half),
 * causal GQA attention with a key mask, output projection, residual, RMSNorm, SwiGLU MLP, residual]
 * -> RMSNorm -> lm_head. Weights are plain float64 arrays in PyTorch layout ([out, in]).
 */
export interface RefLayer {
  attnNorm: Float64Array;
  wq: Float64Array;
  wk: Float64Array;
  wv: Float64Array;
  wo: Float64Array;
  mlpNorm: Float64Array;
  wGate: Float64Array;
  wUp: Float64Array;
  wDown: Float64Array;
  /** Optional biases of q/k/v/o (Qwen2: q/k/v; LLaMA attention_bias: all four). */
  bq?: Float64Array;
  bk?: Float64Array;
  bv?: Float64Array;
  bo?: Float64Array;
}
export interface RefWeights {
  embed: Float64Array; // [V, D]
  layers: RefLayer[];
  finalNorm: Float64Array;
  lmHead: Float64Array; // [V, D]
}
export interface RefConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ropeTheta: number;
  rmsNormEps: number;
}

function matvec(w: Float64Array, x: Float64Array, out: number, inp: number, bias?: Float64Array): Float64Array {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = bias ? bias[o]! : 0;
    for (let i = 0; i < inp; i++) s += w[o * inp + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function rms(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

function rope(v: Float64Array, pos: number, theta: number): void {
  const d = v.length;
  const half = d / 2;
  for (let i = 0; i < half; i++) {
    const a = pos * theta ** (-2 * i / d);
    const x1 = v[i]!;
    const x2 = v[i + half]!;
    v[i] = x1 * Math.cos(a) - x2 * Math.sin(a);
    v[i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
  }
}

/**
 * Logits [T, V] of one sequence of input embeddings x [T, D]. `allowed(layer, q, k)` says whether
 * query position q may attend key position k (on top of causality), e.g. image-key masking.
 */
export function llamaForwardRef(
  cfg: RefConfig,
  w: RefWeights,
  x: Float64Array[],
  positions: number[],
  allowed: (layer: number, q: number, k: number) => boolean = () => true,
): Float64Array[] {
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: d, intermediateSize: I, vocabSize: V } = cfg;
  const T = x.length;
  let h: Float64Array[] = x.map((r) => Float64Array.from(r));
  w.layers.forEach((L, layer) => {
    const qs: Float64Array[][] = [];
    const ks: Float64Array[][] = [];
    const vs: Float64Array[][] = [];
    for (let t = 0; t < T; t++) {
      const n = rms(h[t]!, L.attnNorm, cfg.rmsNormEps);
      const q = matvec(L.wq, n, H * d, D, L.bq);
      const k = matvec(L.wk, n, Hkv * d, D, L.bk);
      const v = matvec(L.wv, n, Hkv * d, D, L.bv);
      qs.push(Array.from({ length: H }, (_, hh) => q.slice(hh * d, hh * d + d)));
      ks.push(Array.from({ length: Hkv }, (_, hh) => k.slice(hh * d, hh * d + d)));
      vs.push(Array.from({ length: Hkv }, (_, hh) => v.slice(hh * d, hh * d + d)));
      for (const e of qs[t]!) rope(e, positions[t]!, cfg.ropeTheta);
      for (const e of ks[t]!) rope(e, positions[t]!, cfg.ropeTheta);
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const o = new Float64Array(H * d);
      for (let hh = 0; hh < H; hh++) {
        const g = Math.floor(hh / (H / Hkv));
        const scores: number[] = [];
        const keys: number[] = [];
        for (let s = 0; s <= t; s++) {
          if (!allowed(layer, t, s)) continue;
          let dot = 0;
          for (let i = 0; i < d; i++) dot += qs[t]![hh]![i]! * ks[s]![g]![i]!;
          scores.push(dot / Math.sqrt(d));
          keys.push(s);
        }
        if (!keys.length) continue; // every key masked: zeros
        const m = Math.max(...scores);
        const e = scores.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        keys.forEach((s, j) => {
          for (let i = 0; i < d; i++) o[hh * d + i] = o[hh * d + i]! + (e[j]! / z) * vs[s]![g]![i]!;
        });
      }
      const a = matvec(L.wo, o, D, H * d, L.bo);
      const r = h[t]!.map((v, i) => v + a[i]!);
      const n2 = rms(r, L.mlpNorm, cfg.rmsNormEps);
      const gate = matvec(L.wGate, n2, I, D);
      const up = matvec(L.wUp, n2, I, D);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]!);
      const down = matvec(L.wDown, act, D, I);
      next.push(r.map((v, i) => v + down[i]!));
    }
    h = next;
  });
  return h.map((r) => matvec(w.lmHead, rms(r, w.finalNorm, cfg.rmsNormEps), V, D));
}

/** W + scale * B A in float64 (LoRA merged by hand): W [out, inp], A [r, inp], B [out, r]. */
export function loraMergedRef(w: Float64Array, a: Float64Array, b: Float64Array, out: number, inp: number, r: number, scale: number): Float64Array {
  const m = Float64Array.from(w);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inp; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b[o * r + k]! * a[k * inp + i]!;
      m[o * inp + i] = m[o * inp + i]! + scale * s;
    }
  return m;
}
