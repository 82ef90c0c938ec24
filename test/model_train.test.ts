/**
 * The training forward and backward of the decoder (lib/models/train.ts) against the float64
 * reference forward (test/reference/llama.ts): logits equal, and every parameter's gradient equal
 * to central finite differences of the reference loss L = Σ R ⊙ logits (so dLogits = R).
 *
 * Tolerance: mmpref computes in float32 (u = 2^-24). Each gradient entry is a sum of products
 * through ~10 ops per layer with inner dimensions K <= 16, so its error is below
 * (ops x K x u) x (the sum of |terms|), which is bounded by the largest gradient entry of the same
 * tensor times the fan-in: 2 layers x 10 ops x 16 x 6e-8 x 16 ~ 3e-4 of max|g|. The finite
 * difference (h = 1e-4, float64) adds O(h^2 f''') ~ 1e-8. A missing or wrong term (e.g. dropping
 * the rotary inverse, a wrong norm gradient) gives errors of the order of the gradient itself.
 */
import { describe, expect, it } from 'vitest';
import { models, noise as noiseApi, tensor, type Tensor } from '../lib';
import { backward, forwardTrain, trainableNames as parameterNames } from '../lib/models/train';
import { llamaForwardRef, loraMergedRef, type RefConfig, type RefLayer, type RefWeights } from './reference/llama';
import { expectError, rng as mulberry32 } from './helpers';

const TINY = { vocabSize: 13, hiddenSize: 8, intermediateSize: 12, numLayers: 2, numHeads: 2, numKvHeads: 1, ropeTheta: 100, rmsNormEps: 1e-5 };
const B = 2;
const T = 5;
const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());

function makeModel(tie = false, bias = false) {
  const m = models.LlamaModel.random({ ...TINY, tieWordEmbeddings: tie, ...(bias ? { qkvBias: true, oBias: true } : {}) }, { seed: 7, initStd: 0.4 });
  const r = mulberry32(11);
  for (const n of [m.finalNorm, ...m.layers.flatMap((l) => [l.attnNorm, l.mlpNorm])]) {
    const d = n.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = 0.5 + r();
  }
  return m;
}

function refOf(m: models.LlamaModel): { cfg: RefConfig; w: RefWeights } {
  const c = m.config;
  const embed = f64(m.embed);
  return {
    cfg: { vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeTheta: c.ropeTheta, rmsNormEps: c.rmsNormEps },
    w: {
      embed,
      finalNorm: f64(m.finalNorm),
      lmHead: m.lmHead === m.embed ? embed : f64(m.lmHead),
      layers: m.layers.map((l) => ({
        attnNorm: f64(l.attnNorm), wq: f64(l.wq), wk: f64(l.wk), wv: f64(l.wv), wo: f64(l.wo), mlpNorm: f64(l.mlpNorm), wGate: f64(l.wGate), wUp: f64(l.wUp), wDown: f64(l.wDown),
        ...(l.bq ? { bq: f64(l.bq), bk: f64(l.bk!), bv: f64(l.bv!) } : {}),
        ...(l.bo ? { bo: f64(l.bo) } : {}),
      })),
    },
  };
}

/** The float64 array of a HF-named parameter inside RefWeights (shared with lmHead when tied). */
function refParam(w: RefWeights, name: string): Float64Array {
  if (name === 'model.embed_tokens.weight') return w.embed;
  if (name === 'lm_head.weight') return w.lmHead;
  if (name === 'model.norm.weight') return w.finalNorm;
  const m = /^model\.layers\.(\d+)\.(.*)$/.exec(name)!;
  const L = w.layers[Number(m[1])]!;
  const key = ({ 'self_attn.q_proj.bias': 'bq', 'self_attn.k_proj.bias': 'bk', 'self_attn.v_proj.bias': 'bv', 'self_attn.o_proj.bias': 'bo', 'input_layernorm.weight': 'attnNorm', 'self_attn.q_proj.weight': 'wq', 'self_attn.k_proj.weight': 'wk', 'self_attn.v_proj.weight': 'wv', 'self_attn.o_proj.weight': 'wo', 'post_attention_layernorm.weight': 'mlpNorm', 'mlp.gate_proj.weight': 'wGate', 'mlp.up_proj.weight': 'wUp', 'mlp.down_proj.weight': 'wDown' } as const)[m[2]!]!;
  return L[key]!;
}

const tokens = [[3, 7, 1, 12, 5], [0, 0, 9, 4, 11]]; // row 1 left-padded by two
const mask = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];
const positions = mask.map((row) => {
  let n = 0;
  return row.map((m) => (m ? n++ : 1));
});
const R = (() => {
  const r = mulberry32(5);
  return Float32Array.from({ length: B * T * TINY.vocabSize }, () => r() * 2 - 1);
})();

/** L = Σ R ⊙ logits of the float64 reference; embeddings from w.embed (or given rows). */
function refLoss(cfg: RefConfig, w: RefWeights, inputs?: Float64Array[][]): number {
  const D = cfg.hiddenSize;
  const V = cfg.vocabSize;
  let L = 0;
  for (let b = 0; b < B; b++) {
    const x = inputs ? inputs[b]! : tokens[b]!.map((t) => w.embed.slice(t * D, (t + 1) * D));
    const logits = llamaForwardRef(cfg, w, x, positions[b]!, (_l, _q, k) => mask[b]![k] === 1);
    for (let t = 0; t < T; t++) for (let v = 0; v < V; v++) L += R[(b * T + t) * V + v]! * logits[t]![v]!;
  }
  return L;
}

function checkGrad(name: string, got: Float32Array, fd: (i: number) => number) {
  let maxG = 0;
  for (const g of got) maxG = Math.max(maxG, Math.abs(g));
  const tol = 3e-4 * maxG + 1e-6;
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - fd(i));
    if (e > worst) [worst, at] = [e, i];
  }
  if (worst > tol) throw new Error(`${name}[${at}]: got ${got[at]}, finite difference ${fd(at)}, |error| ${worst} > ${tol}`);
  expect(maxG).toBeGreaterThan(0);
}

const fdOf = (cfg: RefConfig, w: RefWeights, arr: Float64Array, inputs?: Float64Array[][]) => (i: number) => {
  const h = 1e-4;
  const keep = arr[i]!;
  arr[i] = keep + h;
  const lp = refLoss(cfg, w, inputs);
  arr[i] = keep - h;
  const lm = refLoss(cfg, w, inputs);
  arr[i] = keep;
  return (lp - lm) / (2 * h);
};

const batch = () => ({
  tokens: tensor(Int32Array.from(tokens.flat()), [B, T]),
  attentionMask: tensor(Uint8Array.from(mask.flat()), [B, T], { dtype: 'bool' }),
});

describe('training forward + backward (lib/models/train.ts)', () => {
  it('forwardTrain gives the reference logits (left padding, default HF positions)', () => {
    const m = makeModel();
    const { cfg, w } = refOf(m);
    const { logits, saved } = forwardTrain(m, batch());
    const got = logits!.toFloat32Array();
    const V = cfg.vocabSize;
    for (let b = 0; b < B; b++) {
      const ref = llamaForwardRef(cfg, w, tokens[b]!.map((t) => w.embed.slice(t * 8, t * 8 + 8)), positions[b]!, (_l, _q, k) => mask[b]![k] === 1);
      for (let t = 0; t < T; t++)
        for (let v = 0; v < V; v++) {
          const r = ref[t]![v]!;
          expect(Math.abs(got[(b * T + t) * V + v]! - r)).toBeLessThan(1e-5 * (1 + Math.abs(r)));
        }
    }
    expect(saved.bytes).toBeGreaterThan(0);
    saved.dispose();
  });

  for (const tie of [false, true])
    it(`every parameter's gradient equals central finite differences of the float64 reference${tie ? ' (tied embeddings)' : ''}`, () => {
      const m = makeModel(tie);
      const { cfg, w } = refOf(m);
      const { saved } = forwardTrain(m, batch());
      const { grads } = backward(m, saved, { dLogits: tensor(R, [B, T, cfg.vocabSize]) });
      const names = parameterNames(m);
      expect([...grads.keys()].sort()).toEqual([...names].sort());
      for (const n of names) checkGrad(n, grads.get(n)!.toFloat32Array(), fdOf(cfg, w, refParam(w, n)));
    });

  it('activation checkpointing gives the same gradient bits and keeps less', () => {
    const m = makeModel();
    const a = forwardTrain(m, batch());
    const c = forwardTrain(m, batch(), { checkpoint: true });
    expect(c.saved.bytes).toBeLessThan(a.saved.bytes);
    const dl = tensor(R, [B, T, TINY.vocabSize]);
    const ga = backward(m, a.saved, { dLogits: dl }).grads;
    const gc = backward(m, c.saved, { dLogits: dl }).grads;
    for (const [n, g] of ga) expect(Array.from(gc.get(n)!.toFloat32Array()), n).toEqual(Array.from(g.toFloat32Array()));
  });

  it('inputsEmbeds: dInputsEmbeds equals finite differences; params restricts what is computed', () => {
    const m = makeModel();
    const { cfg, w } = refOf(m);
    const r = mulberry32(3);
    const emb = Float32Array.from({ length: B * T * 8 }, () => r() * 2 - 1);
    const rows = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => Float64Array.from(emb.subarray((b * T + t) * 8, (b * T + t + 1) * 8))));
    const { saved } = forwardTrain(m, { inputsEmbeds: tensor(emb, [B, T, 8]), attentionMask: batch().attentionMask });
    const res = backward(m, saved, { dLogits: tensor(R, [B, T, cfg.vocabSize]) }, { params: ['model.layers.1.self_attn.q_proj.weight'] });
    expect([...res.grads.keys()]).toEqual(['model.layers.1.self_attn.q_proj.weight']);
    const flat = (i: number) => {
      const b = Math.floor(i / (T * 8)), t = Math.floor(i / 8) % T;
      return rows[b]![t]!;
    };
    checkGrad('dInputsEmbeds', res.dInputsEmbeds!.toFloat32Array(), (i) => {
      const arr = flat(i);
      const j = i % 8;
      const keep = arr[j]!;
      const h = 1e-4;
      arr[j] = keep + h;
      const lp = refLoss(cfg, w, rows);
      arr[j] = keep - h;
      const lm = refLoss(cfg, w, rows);
      arr[j] = keep;
      return (lp - lm) / (2 * h);
    });
  });

  it('accumulates into given gradients (micro-batches)', () => {
    const m = makeModel();
    const dl = tensor(R, [B, T, TINY.vocabSize]);
    const once = backward(m, forwardTrain(m, batch()).saved, { dLogits: dl }).grads;
    const acc = backward(m, forwardTrain(m, batch()).saved, { dLogits: dl }).grads;
    backward(m, forwardTrain(m, batch()).saved, { dLogits: dl }, { grads: acc });
    for (const [n, g] of once) {
      const a = g.toFloat32Array();
      const b = acc.get(n)!.toFloat32Array();
      // accumulate adds inside the GEMM's K blocks, so the sum is rounded differently from 2 * once:
      // a few float32 roundings of terms no larger than max|a|
      const maxA = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < a.length; i++) expect(Math.abs(b[i]! - 2 * a[i]!), n).toBeLessThanOrEqual(maxA * 2 ** -20);
    }
  });

  it('LoRA (all seven targets) + q/k/v/o biases: adapter and bias gradients equal finite differences; base weights frozen by default', () => {
    const m = makeModel(false, true);
    const r0 = mulberry32(21);
    for (const l of m.layers) for (const b of [l.bq!, l.bk!, l.bv!, l.bo!]) (b.data as Float32Array).forEach((_, i, a) => (a[i] = r0() - 0.5));
    m.addLora({ rank: 2, alpha: 6, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 4 });
    const named = new Map(m.loraParameters());
    for (const [n, t] of named) if (n.endsWith('lora_B.weight')) (t.data as Float32Array).forEach((_, i, a) => (a[i] = r0() - 0.5)); // a trained adapter
    const { cfg, w } = refOf(m); // base weights
    const scale = 6 / 2;
    const WEIGHT = { q_proj: 'wq', k_proj: 'wk', v_proj: 'wv', o_proj: 'wo', gate_proj: 'wGate', up_proj: 'wUp', down_proj: 'wDown' } as const;
    const base = w.layers.map((L) => ({ ...L }));
    const loraF64 = new Map([...named].map(([n, t]) => [n, f64(t)]));
    /** the reference weights with every adapter merged in float64 */
    const merge = () => {
      w.layers.forEach((L, l) => {
        for (const [t, k] of Object.entries(WEIGHT)) {
          const pre = `base_model.model.model.layers.${l}.${t.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(t) ? 'mlp' : 'self_attn'}.${t}`;
          const A = loraF64.get(`${pre}.lora_A.weight`)!, Bm = loraF64.get(`${pre}.lora_B.weight`)!;
          const out = Bm.length / 2, inp = A.length / 2;
          (L as unknown as Record<string, Float64Array>)[k] = loraMergedRef((base[l] as unknown as Record<string, Float64Array>)[k]!, A, Bm, out, inp, 2, scale);
        }
      });
    };
    merge();
    const { saved } = forwardTrain(m, batch());
    const names = parameterNames(m);
    expect(names.length).toBe(2 * 7 * 2);
    const biasNames = m.parameters().map(([n]) => n).filter((n) => n.endsWith('.bias'));
    expect(biasNames.length).toBe(8);
    const { grads } = backward(m, saved, { dLogits: tensor(R, [B, T, cfg.vocabSize]) }, { params: [...names, ...biasNames] });
    for (const n of names) {
      const arr = loraF64.get(n)!;
      checkGrad(n, grads.get(n)!.toFloat32Array(), (i) => {
        const h = 1e-4;
        const keep = arr[i]!;
        arr[i] = keep + h;
        merge();
        const lp = refLoss(cfg, w);
        arr[i] = keep - h;
        merge();
        const lm = refLoss(cfg, w);
        arr[i] = keep;
        merge();
        return (lp - lm) / (2 * h);
      });
    }
    for (const n of biasNames) checkGrad(n, grads.get(n)!.toFloat32Array(), fdOf(cfg, w, refParam(w, n)));
    // default: only the adapters
    const g2 = backward(m, forwardTrain(m, batch()).saved, { dLogits: tensor(R, [B, T, cfg.vocabSize]) }).grads;
    expect([...g2.keys()].sort()).toEqual([...names].sort());
  });

  for (const withNoise of [false, true])
    it(`visual features through the projector${withNoise ? ' with NoiseBoost on them' : ''}: projector and embedding gradients equal finite differences`, () => {
      const m = models.LlamaModel.random(TINY, { seed: 9, initStd: 0.4, visionHiddenSize: 3 });
      const { cfg, w } = refOf(m);
      const pr = m.projector!;
      const P = { w1: f64(pr.w1), b1: f64(pr.b1!), w2: f64(pr.w2), b2: f64(pr.b2!) };
      const Nv = 2, Dv = 3, D = 8;
      const starts = [1, 2];
      const r = mulberry32(8);
      const vf = Float32Array.from({ length: B * Nv * Dv }, () => r() * 2 - 1);
      const noise = { sigma: 0.3, seed: 5, rows: [1, 0] };
      // the noise is additive (absolute scale): read it off a zero input
      const n = withNoise ? noiseApi.visualTokens(tensor(new Float32Array(B * T * D), [B, T, D]), { ...noise, spans: starts.map((st) => [[st, Nv] as const]) }).out.toFloat32Array() : new Float32Array(B * T * D);
      const erf = (x: number) => { // Abramowitz-Stegun 7.1.26 is not enough for a 1e-8 FD: use the series / continued fraction
        const t = Math.abs(x);
        let sum = 0, term = t;
        for (let k = 0; k < 200; k++) { sum += term / (2 * k + 1); term *= -t * t / (k + 1); }
        return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
      };
      const inputs = () => Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => {
        const k = t - starts[b]!;
        let row: Float64Array;
        if (k >= 0 && k < Nv) {
          const f = vf.subarray((b * Nv + k) * Dv, (b * Nv + k + 1) * Dv);
          const hdn = Array.from({ length: D }, (_, o) => { let z = P.b1[o]!; for (let i = 0; i < Dv; i++) z += P.w1[o * Dv + i]! * f[i]!; return 0.5 * z * (1 + erf(z / Math.SQRT2)); });
          row = Float64Array.from({ length: D }, (_, o) => { let z = P.b2[o]!; for (let i = 0; i < D; i++) z += P.w2[o * D + i]! * hdn[i]!; return z; });
        } else row = w.embed.slice(tokens[b]![t]! * D, tokens[b]![t]! * D + D);
        return row.map((v, i) => v + n[(b * T + t) * D + i]!);
      }));
      const loss = () => refLoss(cfg, w, inputs());
      const { saved } = forwardTrain(m, { ...batch(), visualFeatures: tensor(vf, [B, Nv, Dv]), imageStarts: starts }, withNoise ? { noise } : {});
      const { grads } = backward(m, saved, { dLogits: tensor(R, [B, T, cfg.vocabSize]) });
      const fd = (arr: Float64Array) => (i: number) => {
        const h = 1e-4, keep = arr[i]!;
        arr[i] = keep + h;
        const lp = loss();
        arr[i] = keep - h;
        const lm = loss();
        arr[i] = keep;
        return (lp - lm) / (2 * h);
      };
      checkGrad('linear_1.weight', grads.get('model.multi_modal_projector.linear_1.weight')!.toFloat32Array(), fd(P.w1));
      checkGrad('linear_1.bias', grads.get('model.multi_modal_projector.linear_1.bias')!.toFloat32Array(), fd(P.b1));
      checkGrad('linear_2.weight', grads.get('model.multi_modal_projector.linear_2.weight')!.toFloat32Array(), fd(P.w2));
      checkGrad('linear_2.bias', grads.get('model.multi_modal_projector.linear_2.bias')!.toFloat32Array(), fd(P.b2));
      checkGrad('embed_tokens', grads.get('model.language_model.embed_tokens.weight')!.toFloat32Array(), fd(w.embed));
      checkGrad('q_proj', grads.get('model.language_model.layers.0.self_attn.q_proj.weight')!.toFloat32Array(), fd(w.layers[0]!.wq));
    });

  it('bad use is typed', () => {
    const m = makeModel();
    const { saved } = forwardTrain(m, batch());
    expectError(() => backward(m, saved, { dLogits: tensor(R, [B, T, 12]) }), 'ERR_SHAPE');
    expectError(() => backward(m, saved, { dLogits: tensor(R, [B, T, 13]) }, { params: ['nope'] }), 'ERR_ARGUMENT');
    backward(m, saved, { dLogits: tensor(R, [B, T, 13]) });
    expectError(() => backward(m, saved, { dLogits: tensor(R, [B, T, 13]) }), 'ERR_DETACHED');
    expectError(() => forwardTrain(m, {}), 'ERR_ARGUMENT');
    expectError(() => backward(makeModel(), forwardTrain(m, batch()).saved, { dLogits: tensor(R, [B, T, 13]) }), 'ERR_ARGUMENT');
  });
});

describe('a random model with a projector is a LLaVA model', () => {
  it('saves and loads back bit-identically (LlavaForConditionalGeneration config, model.language_model. names)', () => {
    const fs = require('node:fs') as typeof import('node:fs');
    const os = require('node:os') as typeof import('node:os');
    const path = require('node:path') as typeof import('node:path');
    const m = models.LlamaModel.random(TINY, { seed: 2, visionHiddenSize: 3 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmpref-llava-'));
    try {
      m.save(dir);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).architectures).toEqual(['LlavaForConditionalGeneration']);
      const back = models.LlamaModel.load(dir);
      const a = m.parameters(), b = back.parameters();
      expect(b.map(([n]) => n)).toEqual(a.map(([n]) => n));
      expect(a.map(([n]) => n)).toContain('model.multi_modal_projector.linear_1.weight');
      for (let i = 0; i < a.length; i++) expect(Array.from(b[i]![1].toFloat32Array()), a[i]![0]).toEqual(Array.from(a[i]![1].toFloat32Array()));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
