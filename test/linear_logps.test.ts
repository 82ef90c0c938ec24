import { describe, expect, it } from 'vitest';
import { dpo, empty, numThreads, ops, setNumThreads, tensor, zeros, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { DPO_LOSS_TYPES, type DpoLossType } from '../lib/api/dpo';
import { refLossMean, type RefLossOptions } from './reference/dpo_loss';
import { linearBackwardRef, linearGradsRef, linearLogpsRef, logitsRef } from './reference/linear_logps';
import { sequenceLogpsRef, type RowLayout } from './reference/sequence_logps';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

// Tolerances, from the arithmetic. Logits are float32 FMA chains over H products of the values the
// tensors hold (exact in float32 for half inputs): |dz| <= H 2^-24 sum_k |x_k w_k| =: dz. A token
// log-prob moves by at most 2 dz, plus the row math of sequenceLogps (2e-6 relative, 3e-6
// absolute, test/sequence_logps.test.ts). Gradients: G = g (onehot - p) with |dG_ij| <=
// e_G A_ij, A_ij = |g| (onehot + p_ij), e_G = 2 dz (softmax) + u_G (G rounded to the inputs'
// dtype for the GEMMs) + 1e-5 (g from float32 log-probs, float32 lse); the float32 GEMM sums add
// K 2^-24 of the same |.|-products (K = V for dHidden, rows for dLmHead), and dHidden is rounded
// once to its dtype (u_out relative).
const U: Record<FloatDType, number> = { float32: 2 ** -24, float16: 2 ** -11, bfloat16: 2 ** -8 }; // unit roundoff
const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];

function values(t: Tensor): Float64Array {
  return Float64Array.from(decodeToFloat32(t.dtype, t.data));
}

function setup(seqs: number, T: number, H: number, V: number, seed: number, dtype: FloatDType = 'float32', packed?: number[]) {
  const r = rng(seed);
  const N = packed ? packed[packed.length - 1]! : seqs * T;
  const hidden = tensor(Float32Array.from(randomArray(N * H, r, 1)), packed ? [N, H] : [seqs, T, H], { dtype });
  const lmHead = tensor(Float32Array.from(randomArray(V * H, r, 0.5)), [V, H], { dtype });
  const lab = Array.from({ length: N }, (_, i) => (i % T < 2 || r() < 0.15 ? -100 : Math.floor(r() * V)));
  const labels = tensor(Int32Array.from(lab), packed ? [N] : [seqs, T]);
  const layout: RowLayout = { rows: N, vocab: V, offsets: packed ?? Array.from({ length: seqs + 1 }, (_, b) => b * T) };
  const x = values(hidden);
  const w = values(lmHead);
  const zAbs = logitsRef(x.map(Math.abs), w.map(Math.abs), N, H, V);
  const dz = H * 2 ** -24 * Math.max(...zAbs);
  return { hidden, lmHead, labels, lab, layout, x, w, N, H, V, dz, cu: packed ? tensor(Int32Array.from(packed)) : undefined };
}
type Setup = ReturnType<typeof setup>;

/** Checks got against want with |got - want| <= bound elementwise (bounds from the arithmetic). */
function assertWithin(got: ArrayLike<number>, want: ArrayLike<number>, bound: ArrayLike<number>, name: string): void {
  expect(got.length).toBe(want.length);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= bound[i]!)) {
      count++;
      if (bad.length < 6) bad.push(`[${i}] got ${got[i]} expected ${want[i]} (bound ${bound[i]})`);
    }
  }
  if (count) throw new Error(`${name}: ${count}/${want.length} outside the bound\n  ${bad.join('\n  ')}`);
}

/** Gradient checks of dHidden (hidden's dtype) and dLmHead (float32) for per-sequence gradient g. */
function checkGrads(s: Setup, layout: RowLayout, g: ArrayLike<number>, dHidden: Tensor, dLmHead: Tensor | undefined, name: string) {
  const ref = linearBackwardRef(s.x, s.w, s.lab, g, s.H, layout);
  const f = sequenceLogpsRef(logitsRefCached(s), s.lab, layout);
  // A = |g_b| (onehot + p)
  const A = new Float64Array(s.N * s.V);
  const z = logitsRefCached(s);
  for (let t = 0; t < s.N; t++) {
    const y = f.target[t]!;
    if (y < 0) continue;
    const b = f.seq[t]!;
    const gb = Math.abs(g[b]! / (layout.average ? Math.max(f.counts[b]!, 1) : 1));
    for (let j = 0; j < s.V; j++) A[t * s.V + j] = gb * ((j === y ? 1 : 0) + Math.exp(z[t * s.V + j]! - f.lse[t]!));
  }
  const abs = linearGradsRef(A, s.x.map(Math.abs), s.w.map(Math.abs), s.N, s.H, s.V, true);
  const dt = dHidden.dtype as FloatDType;
  const eG = 2 * s.dz + U[dt] + 1e-5;
  expect(dHidden.shape).toEqual(s.hidden.shape);
  expect(dHidden.dtype).toBe(s.hidden.dtype);
  const bx = abs.dx.map((a, i) => (eG + s.V * 2 ** -24) * a + U[dt] * Math.abs(ref.dx[i]!) + 1e-12);
  assertWithin(values(dHidden), ref.dx, bx, `${name} dHidden`);
  if (dLmHead) {
    expect(dLmHead.dtype).toBe('float32');
    const bw = abs.dw.map((a) => (eG + s.N * 2 ** -24) * a + 1e-12);
    assertWithin(dLmHead.data as Float32Array, ref.dw, bw, `${name} dLmHead`);
  }
}
const zCache = new WeakMap<Setup, Float64Array>();
function logitsRefCached(s: Setup): Float64Array {
  let z = zCache.get(s);
  if (!z) zCache.set(s, (z = logitsRef(s.x, s.w, s.N, s.H, s.V)));
  return z;
}

/** The loss types with options the lib and the reference share; counted types use averaged log-probs. */
function lossCase(type: DpoLossType): [Record<string, number | boolean>, RefLossOptions, boolean] {
  switch (type) {
    case 'ipo':
    case 'sigmoid_norm':
      return [{ beta: 0.5, average: true }, { beta: 0.5 }, true];
    case 'simpo':
      return [{ beta: 2, gamma: 0.5 }, { beta: 2, gamma: 0.5 }, true];
    case 'exo_pair':
    case 'robust':
      return [{ beta: 0.3, labelSmoothing: 0.2 }, { beta: 0.3, eps: 0.2 }, false];
    case 'discopop':
      return [{ beta: 0.3, tau: 0.05 }, { beta: 0.3, tau: 0.05 }, false];
    default:
      return [{ beta: 0.3 }, { beta: 0.3 }, false];
  }
}

/** dLoss/dlogps_b by central differences of the float64 reference loss. */
function lossGrad(type: string, lp: Float64Array, rc: number[], rr: number[], ro: RefLossOptions): Float64Array {
  const B = lp.length / 2;
  const L = (v: Float64Array) => refLossMean(type, Array.from(v.subarray(0, B)), Array.from(v.subarray(B)), rc, rr, ro);
  const g = new Float64Array(lp.length);
  for (let i = 0; i < lp.length; i++) {
    const h = 1e-6 * Math.max(1, Math.abs(lp[i]!));
    const v = Float64Array.from(lp);
    v[i] = lp[i]! + h;
    const up = L(v);
    v[i] = lp[i]! - h;
    g[i] = (up - L(v)) / (2 * h);
  }
  return g;
}

describe('dpo.linearLogps', () => {
  for (const dtype of DTYPES)
    for (const packed of [false, true])
      it(`${dtype} ${packed ? 'packed' : 'padded'}: equals the float64 reference (logits hidden lmHead^T, then sequenceLogps)`, () => {
        const offsets = [0, 7, 7, 19, 30];
        const s = setup(4, 9, 37, 131, 3 + Number(packed), dtype, packed ? offsets : undefined);
        for (const o of [{}, { shift: false, average: true }, { ignoreIndex: 5 }] as const) {
          const layout = { ...s.layout, ...o };
          // ignoreIndex 5 is also a real token id: the ignored positions say 5, and 5 is never scored
          const lab = 'ignoreIndex' in o ? s.lab.map((v) => (v === -100 ? 5 : v)) : s.lab;
          const labels = tensor(Int32Array.from(lab), s.labels.shape);
          const ref = linearLogpsRef(s.x, s.w, lab, s.H, layout);
          const res = dpo.linearLogps(s.hidden, s.lmHead, labels, { ...o, cuSeqlens: s.cu, perToken: true, returnLse: true, chunkSize: 5 });
          const tok = 2 * s.dz + 3e-6;
          assertClose(res.perToken.data, ref.perToken, { rtol: 2e-6, atol: tok, name: 'perToken' });
          assertClose(res.lse.data, ref.lse, { rtol: 1e-6, atol: s.dz + 1e-6, name: 'lse' });
          assertClose(res.logps.data, ref.logps, { rtol: 2e-6, atol: 30 * tok, name: 'logps' });
          expect(Array.from(res.counts.data)).toEqual(Array.from(ref.counts));
        }
      });

  it('float32: bit-identical to ops.linear followed by dpo.sequenceLogps, for any chunk size', () => {
    const s = setup(3, 11, 29, 257, 9);
    const logits = ops.linear(s.hidden, s.lmHead);
    const want = dpo.sequenceLogps(logits, s.labels, { perToken: true, returnLse: true });
    for (const chunkSize of [1, 4, 33, 1000]) {
      const got = dpo.linearLogps(s.hidden, s.lmHead, s.labels, { perToken: true, returnLse: true, chunkSize });
      assertBitEqual(got.logps.data, want.logps.data, `logps chunk ${chunkSize}`);
      assertBitEqual(got.perToken.data, want.perToken.data, `perToken chunk ${chunkSize}`);
      assertBitEqual(got.lse.data, want.lse.data, `lse chunk ${chunkSize}`);
    }
  });

  it('bfloat16: within the bfloat16 logits rounding of the unfused ops.linear -> sequenceLogps', () => {
    const s = setup(2, 8, 24, 97, 13, 'bfloat16');
    const want = dpo.sequenceLogps(ops.linear(s.hidden, s.lmHead), s.labels, { perToken: true });
    const got = dpo.linearLogps(s.hidden, s.lmHead, s.labels, { perToken: true });
    // the unfused logits are rounded to bfloat16 (2^-9 relative of |z| <= max |z|): lp moves by 2x that
    const zmax = Math.max(...logitsRef(s.x, s.w, s.N, s.H, s.V).map(Math.abs));
    assertClose(got.perToken.data, want.perToken!.data, { rtol: 0, atol: 2 * 2 ** -9 * zmax + 2 * s.dz + 1e-5, name: 'perToken' });
  });
});

describe('dpo.linearStep', () => {
  for (const type of DPO_LOSS_TYPES)
    it(`${type}: loss, log-probs, dHidden and dLmHead match the float64 pipeline`, () => {
      const [opts, ro, average] = lossCase(type);
      const B = 2;
      const s = setup(2 * B, 7, 19, 53, 21 + type.length);
      const r = rng(type.length);
      const rc = Array.from(Float32Array.from({ length: B }, () => -10 * r()));
      const rr = Array.from(Float32Array.from({ length: B }, () => -10 * r()));
      const layout = { ...s.layout, average };
      const inputs = { hidden: s.hidden, lmHead: s.lmHead, labels: s.labels, refChosen: tensor(Float32Array.from(rc)), refRejected: tensor(Float32Array.from(rr)) };
      const res = dpo.linearStep(inputs, { type, ...opts, chunkSize: 6 });
      const lp = linearLogpsRef(s.x, s.w, s.lab, s.H, layout).logps;
      const tol = { rtol: 2e-6, atol: 30 * (2 * s.dz + 3e-6) };
      assertClose(res.policyChosen.data, lp.subarray(0, B), { ...tol, name: 'policyChosen' });
      assertClose(res.policyRejected.data, lp.subarray(B), { ...tol, name: 'policyRejected' });
      const loss = refLossMean(type, Array.from(lp.subarray(0, B)), Array.from(lp.subarray(B)), rc, rr, ro);
      assertClose([res.loss], [loss], { rtol: 1e-5, atol: 1e-6, name: 'loss' });
      const g = lossGrad(type, lp, rc, rr, ro);
      checkGrads(s, layout, g, res.dHidden, res.dLmHead, type);
      // frozen head: one pass, the same dHidden within the same bounds, no dLmHead
      const frozen = dpo.linearStep(inputs, { type, ...opts, lmHeadGrad: false, chunkSize: 4 });
      expect(frozen.dLmHead).toBeUndefined();
      expect(frozen.loss).toBe(res.loss);
      checkGrads(s, layout, g, frozen.dHidden, undefined, `${type} frozen`);
    });

  for (const dtype of ['float16', 'bfloat16'] as const)
    it(`${dtype}: dHidden (${dtype}) and dLmHead (float32) within the half-precision bounds; packed rows`, () => {
      const offsets = [0, 6, 15, 15, 26];
      const s = setup(4, 6, 33, 71, 40, dtype, offsets);
      const rc = [-4, -6];
      const rr = [-5, -3];
      const inputs = { hidden: s.hidden, lmHead: s.lmHead, labels: s.labels, refChosen: tensor(Float32Array.from(rc)), refRejected: tensor(Float32Array.from(rr)) };
      for (const lmHeadGrad of [true, false]) {
        const res = dpo.linearStep(inputs, { cuSeqlens: s.cu, beta: 0.4, lmHeadGrad, chunkSize: 7 });
        const lp = linearLogpsRef(s.x, s.w, s.lab, s.H, s.layout).logps;
        checkGrads(s, s.layout, lossGrad('sigmoid', lp, rc, rr, { beta: 0.4 }), res.dHidden, res.dLmHead, `${dtype} lmHeadGrad ${lmHeadGrad}`);
      }
    });

  it('sftWeight adds the chosen rows token-mean NLL to the loss and its gradient', () => {
    const B = 2;
    const s = setup(2 * B, 8, 15, 41, 55);
    const rc = [-7, -9];
    const rr = [-8, -6];
    const inputs = { hidden: s.hidden, lmHead: s.lmHead, labels: s.labels, refChosen: tensor(Float32Array.from(rc)), refRejected: tensor(Float32Array.from(rr)) };
    const w = 0.7;
    const res = dpo.linearStep(inputs, { beta: 0.2, sftWeight: w });
    const f = linearLogpsRef(s.x, s.w, s.lab, s.H, s.layout);
    const n = f.counts[0]! + f.counts[1]!;
    const nll = -(f.logps[0]! + f.logps[1]!) / n;
    assertClose([res.sftLoss], [nll], { rtol: 1e-5, atol: 1e-6, name: 'sftLoss' });
    const dpoLoss = refLossMean('sigmoid', Array.from(f.logps.subarray(0, B)), Array.from(f.logps.subarray(B)), rc, rr, { beta: 0.2 });
    assertClose([res.loss], [dpoLoss + w * nll], { rtol: 1e-5, atol: 1e-6, name: 'loss' });
    const g = lossGrad('sigmoid', f.logps, rc, rr, { beta: 0.2 });
    g[0]! -= w / n;
    g[1]! -= w / n;
    checkGrads(s, s.layout, g, res.dHidden, res.dLmHead, 'sft');
  });

  it('the gradient matches central finite differences of the float64 loss in hidden and lmHead', () => {
    const B = 1;
    const [T, H, V] = [4, 5, 7];
    const s = setup(2 * B, T, H, V, 61);
    const rc = [-3];
    const rr = [-4];
    const ro = { beta: 0.8 };
    const L = (x: Float64Array, w: Float64Array) => {
      const lp = linearLogpsRef(x, w, s.lab, H, s.layout).logps;
      return refLossMean('sigmoid', [lp[0]!], [lp[1]!], rc, rr, ro);
    };
    const fd = (v: Float64Array, f: () => number) =>
      v.map((vi, i) => {
        const h = 1e-5;
        v[i] = vi + h;
        const up = f();
        v[i] = vi - h;
        const down = f();
        v[i] = vi;
        return (up - down) / (2 * h);
      });
    const x = Float64Array.from(s.x);
    const w = Float64Array.from(s.w);
    const fdx = fd(x, () => L(x, w));
    const fdw = fd(w, () => L(x, w));
    const res = dpo.linearStep({ hidden: s.hidden, lmHead: s.lmHead, labels: s.labels, refChosen: tensor(Float32Array.from(rc)), refRejected: tensor(Float32Array.from(rr)) }, { ...ro, chunkSize: 3 });
    assertClose(res.dHidden.data as Float32Array, fdx, { rtol: 1e-4, atol: 1e-7, name: 'dHidden vs finite differences' });
    assertClose(res.dLmHead!.data, fdw, { rtol: 1e-4, atol: 1e-7, name: 'dLmHead vs finite differences' });
  });

  it('chunk size and thread count: log-probs and dHidden bit-identical, dLmHead within the float32 sum bound; async identical', async () => {
    const s = setup(4, 10, 23, 67, 71, 'bfloat16');
    const inputs = { hidden: s.hidden, lmHead: s.lmHead, labels: s.labels, refChosen: tensor([-5, -6]), refRejected: tensor([-7, -4]) };
    const before = numThreads();
    try {
      setNumThreads(1);
      const base = dpo.linearStep(inputs, { chunkSize: 40 });
      for (const chunkSize of [1, 3, 16]) {
        const res = dpo.linearStep(inputs, { chunkSize });
        assertBitEqual(res.dHidden.data as Uint16Array, base.dHidden.data as Uint16Array, `dHidden chunk ${chunkSize}`);
        assertBitEqual(res.policyChosen.data, base.policyChosen.data, `policyChosen chunk ${chunkSize}`);
        // dLmHead: the float32 sum over 40 rows is split at chunk boundaries (40 2^-24 of |G|^T |X|)
        assertClose(res.dLmHead!.data, base.dLmHead!.data, { rtol: 0, atol: 40 * 2 ** -24 * Math.max(...base.dLmHead!.data.map(Math.abs)) * 4, name: `dLmHead chunk ${chunkSize}` });
      }
      for (const n of [2, 3]) {
        setNumThreads(n);
        const res = dpo.linearStep(inputs, { chunkSize: 40 });
        assertBitEqual(res.dHidden.data as Uint16Array, base.dHidden.data as Uint16Array, `dHidden ${n} threads`);
        assertBitEqual(res.dLmHead!.data, base.dLmHead!.data, `dLmHead ${n} threads`);
      }
      const viaAsync = await dpo.linearStepAsync(inputs, { chunkSize: 40 });
      assertBitEqual(viaAsync.dLmHead!.data, base.dLmHead!.data, 'async dLmHead');
      assertBitEqual(viaAsync.dHidden.data as Uint16Array, base.dHidden.data as Uint16Array, 'async dHidden');
      const frozen = dpo.linearStep(inputs, { lmHeadGrad: false });
      const frozenAsync = await dpo.linearStepAsync(inputs, { lmHeadGrad: false });
      assertBitEqual(frozenAsync.dHidden.data as Uint16Array, frozen.dHidden.data as Uint16Array, 'async frozen dHidden');
    } finally {
      setNumThreads(before);
    }
  });

  it('accumulates dLmHead into a given buffer and leaves its inputs unchanged', () => {
    const s = setup(2, 6, 9, 13, 81);
    const inputs = { hidden: s.hidden, lmHead: s.lmHead, labels: s.labels, refChosen: tensor([-5]), refRejected: tensor([-7]) };
    const copies = [s.hidden.clone(), s.lmHead.clone(), s.labels.clone()];
    const fresh = dpo.linearStep(inputs);
    const acc = tensor(new Float32Array(13 * 9).fill(1), [13, 9]);
    const res = dpo.linearStep(inputs, { dLmHead: acc });
    expect(res.dLmHead).toBe(acc);
    assertClose(acc.data, fresh.dLmHead!.data.map((v) => v + 1), { rtol: 1e-6, atol: 1e-7, name: 'accumulated' });
    assertBitEqual(s.hidden.data as Float32Array, copies[0]!.data as Float32Array, 'hidden');
    assertBitEqual(s.lmHead.data as Float32Array, copies[1]!.data as Float32Array, 'lmHead');
    assertBitEqual(s.labels.data as Int32Array, copies[2]!.data as Int32Array, 'labels');
  });

  it('rejects bad input with typed errors', async () => {
    const s = setup(2, 6, 9, 13, 91);
    const inputs = { hidden: s.hidden, lmHead: s.lmHead, labels: s.labels, refChosen: tensor([-5]), refRejected: tensor([-7]) };
    expectError(() => dpo.linearStep({ ...inputs, lmHead: zeros([13, 8]) }, {}), 'ERR_SHAPE', /expected lmHead of shape \[13, 9\] \(from hidden \[2, 6, 9\]\) but received \[13, 8\]/);
    expectError(() => dpo.linearStep({ ...inputs, lmHead: zeros([13, 9], 'bfloat16') }), 'ERR_DTYPE', /expected lmHead of dtype float32 but received bfloat16/);
    expectError(() => dpo.linearStep({ ...inputs, labels: tensor(Int32Array.from({ length: 12 }, () => 13), [2, 6]) }), 'ERR_RANGE', /expected labels in \[0, 13\)/);
    expectError(() => dpo.linearStep(inputs, { lmHeadGrad: false, dLmHead: zeros([13, 9]) }), 'ERR_ARGUMENT', /dLmHead only with lmHeadGrad: true/);
    expectError(() => dpo.linearStep(inputs, { dLmHead: zeros([13, 8]) }), 'ERR_SHAPE', /expected dLmHead of shape \[13, 9\]/);
    expectError(() => dpo.linearStep({ ...inputs, hidden: zeros([3, 6, 9]), labels: zeros([3, 6], 'int32') }), 'ERR_SHAPE', /even number/);
    expectError(() => dpo.linearLogps(s.hidden, s.lmHead, s.labels, { chunkSize: 0 }), 'ERR_RANGE', /chunkSize/);
    expectError(() => dpo.linearLogps(s.hidden, s.lmHead, s.labels, { bogus: 1 } as never), 'ERR_ARGUMENT', /bogus/);
    expectError(() => ops.linearCrossEntropy(s.hidden, s.lmHead, s.labels, { reduction: 'none' as never }), 'ERR_ARGUMENT', /reduction/);
    await expectRejection(dpo.linearLogpsAsync(s.hidden, s.lmHead, tensor(Int32Array.from({ length: 12 }, () => -3), [2, 6])), 'ERR_RANGE', /received -3/);
  });
});

describe('ops.linearCrossEntropy', () => {
  for (const dtype of ['float32', 'bfloat16'] as const)
    for (const reduction of ['mean', 'sum'] as const)
      it(`${dtype} ${reduction}: loss, dHidden and dLmHead match the float64 reference`, () => {
        const s = setup(3, 9, 27, 89, 101, dtype);
        const res = ops.linearCrossEntropy(s.hidden, s.lmHead, s.labels, { reduction, chunkSize: 4 });
        const f = linearLogpsRef(s.x, s.w, s.lab, s.H, s.layout);
        const n = f.counts.reduce((a, b) => a + b, 0);
        const sum = f.logps.reduce((a, b) => a + b, 0);
        expect(res.count).toBe(n);
        const tok = 2 * s.dz + 3e-6;
        assertClose([res.loss], [reduction === 'mean' ? -sum / n : -sum], { rtol: 2e-6, atol: (reduction === 'mean' ? 1 : n) * tok, name: 'loss' });
        const g = new Float64Array(3).fill(reduction === 'mean' ? -1 / n : -1);
        checkGrads(s, s.layout, g, res.dHidden, res.dLmHead, `${dtype} ${reduction}`);
        const frozen = ops.linearCrossEntropy(s.hidden, s.lmHead, s.labels, { reduction, lmHeadGrad: false });
        expect(frozen.dLmHead).toBeUndefined();
        assertBitEqual(frozen.dHidden.data as Uint16Array, res.dHidden.data as Uint16Array, 'frozen dHidden');
      });

  it('packed input, no scored token: loss 0 and zero gradients', () => {
    const s = setup(2, 5, 6, 10, 111, 'float32', [0, 4, 10]);
    const none = tensor(new Int32Array(10).fill(-100));
    const res = ops.linearCrossEntropy(s.hidden, s.lmHead, none, { cuSeqlens: s.cu });
    expect(res.loss).toBe(0);
    expect(res.count).toBe(0);
    expect(Array.from(res.dHidden.data as Float32Array).every((v) => v === 0)).toBe(true);
    expect(Array.from(res.dLmHead!.data).every((v) => v === 0)).toBe(true);
    const d = empty([10, 6], 'float32');
    expect(d.shape).toEqual([10, 6]);
  });
});
