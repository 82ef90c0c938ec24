import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ops, tensor, type FloatDType, type Tensor } from '../../lib';
import { assertClose, expectError, randomArray, rng } from '../helpers';
import { scaled, skip } from './gpu';
import { rmsNormBackwardRef } from '../reference/rms_norm';
import { rotaryBackwardRef } from '../reference/rotary';
import { swigluBackwardRef } from '../reference/swiglu';
import { rmsNormBackwardBound, rotaryBackwardBound, swigluBackwardBound } from '../decoder_backward_bounds';
import { assertRoundedOnce } from '../rounding';

const TOL: Record<FloatDType, number> = { float32: 2e-6, float16: 1e-3, bfloat16: 8e-3 };

describe('decoder layer ops CUDA vs CPU', { skip }, () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[]) {
    it(`rmsNorm ${dtype}`, () => {
      const x = tensor(Float32Array.from(randomArray(37 * 4099, rng(1), 3)), [37, 4099], { dtype });
      const w = tensor(Float32Array.from(randomArray(4099, rng(2))), [4099]);
      const a = ops.rmsNorm(x, w).toFloat32Array();
      const b = ops.rmsNorm(x.to('cuda'), w.to('cuda')).toFloat32Array();
      assertClose(b, a, { rtol: TOL[dtype], atol: TOL[dtype] });
    });
    it(`rotary ${dtype}`, () => {
      const x = tensor(Float32Array.from(randomArray(2 * 4 * 9 * 128, rng(3))), [2, 4, 9, 128], { dtype });
      const pos = tensor(Int32Array.from({ length: 18 }, (_, i) => i * 301), [2, 9]);
      const a = ops.rotary(x, { positions: pos, theta: 500000 }).toFloat32Array();
      const b = ops.rotary(x.to('cuda'), { positions: pos.to('cuda'), theta: 500000 }).toFloat32Array();
      assertClose(b, a, { rtol: TOL[dtype], atol: TOL[dtype] * 4 });
      const g = x.to('cuda');
      ops.rotary(g, { offset: 5, inPlace: true });
      assertClose(g.toFloat32Array(), ops.rotary(x, { offset: 5 }).toFloat32Array(), { rtol: TOL[dtype], atol: TOL[dtype] * 4 });
    });
    it(`swiglu / add ${dtype}`, () => {
      const g = tensor(Float32Array.from(randomArray(10007, rng(4), 4)), [10007], { dtype });
      const u = tensor(Float32Array.from(randomArray(10007, rng(5))), [10007], { dtype });
      assertClose(ops.swiglu(g.to('cuda'), u.to('cuda')).toFloat32Array(), ops.swiglu(g, u).toFloat32Array(), { rtol: TOL[dtype], atol: 1e-6 });
      assertClose(ops.add(g.to('cuda'), u.to('cuda'), { alpha: 0.25 }).toFloat32Array(), ops.add(g, u, { alpha: 0.25 }).toFloat32Array(), { rtol: 0, atol: 0 });
      // alpha * b is inexact here: an fma on the GPU would round once where the CPU rounds twice
      assertClose(ops.add(g.to('cuda'), u.to('cuda'), { alpha: 0.1 }).toFloat32Array(), ops.add(g, u, { alpha: 0.1 }).toFloat32Array(), { rtol: 0, atol: 0 });
    });
  }
  it('embedding gathers on the GPU and flags bad tokens', () => {
    const table = tensor(Float32Array.from(randomArray(100 * 64, rng(6))), [100, 64], { dtype: 'bfloat16' });
    const tok = tensor(Int32Array.from({ length: 33 }, (_, i) => (i * 7) % 100), [3, 11]);
    assert.deepEqual(ops.embedding(table.to('cuda'), tok.to('cuda')).toArray(), ops.embedding(table, tok).toArray());
    expectError(() => ops.embedding(table.to('cuda'), tensor([100], undefined, { dtype: 'int32' }).to('cuda')), 'ERR_RANGE');
    // as on the CPU: the first bad token is named and `out` is left untouched
    const out = ops.embedding(table.to('cuda'), tok.to('cuda'));
    const before = out.toArray();
    const bad = tensor(Int32Array.from({ length: 33 }, (_, i) => (i === 20 ? -4 : i === 30 ? 100 : i)), [3, 11]);
    expectError(() => ops.embedding(table, bad, { out: ops.embedding(table, tok) }), 'ERR_RANGE', /token -4 at index 20/);
    expectError(() => ops.embedding(table.to('cuda'), bad.to('cuda'), { out }), 'ERR_RANGE', /token -4 at index 20/);
    assert.deepEqual(out.toArray(), before);
  });
});

// rmsNormBackward, rotaryBackward, swigluBackward: the CUDA result within the derived float32 bound
// of the float64 reference (as the CPU's, test/<stem>.test.ts), and close to the CPU's.
describe('decoder layer backward ops CUDA vs CPU', { skip }, () => {
  const held = (t: Tensor): Float64Array => Float64Array.from(t.toFloat32Array());
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[]) {
    it(`rmsNormBackward ${dtype} (deterministic dWeight, accumulate, in place)`, () => {
      const [rows, cols] = [scaled(300), 1031];
      const x = tensor(Float32Array.from(randomArray(rows * cols, rng(11), 3)), [rows, cols], { dtype });
      const dy = tensor(Float32Array.from(randomArray(rows * cols, rng(12))), [rows, cols], { dtype });
      for (const w of [tensor(Float32Array.from(randomArray(cols, rng(13))), [cols]), tensor(Float32Array.from(randomArray(cols, rng(13))), [cols], { dtype })]) {
        const init = Float32Array.from(randomArray(cols, rng(14)));
        const acc = tensor(init.slice(), [cols]).to('cuda');
        const g = ops.rmsNormBackward(dy.to('cuda'), x.to('cuda'), w.to('cuda'), { eps: 1e-5, dWeightOut: acc, accumulate: true });
        const ref = rmsNormBackwardRef(held(dy), held(x), held(w), rows, cols, 1e-5);
        const err = rmsNormBackwardBound(held(dy), held(x), held(w), rows, cols, 1e-5, init);
        assertRoundedOnce(g.dx.toFloat32Array(), ref.dx, err.dx, dtype, `cuda dx ${dtype}`);
        assertRoundedOnce(acc.toFloat32Array(), ref.dw.map((v, j) => v + init[j]!), err.dw, 'float32', `cuda dWeight ${dtype}`);
        const c = ops.rmsNormBackward(dy, x, w, { eps: 1e-5 });
        assertClose(g.dx.toFloat32Array(), c.dx.toFloat32Array(), { rtol: TOL[dtype], atol: TOL[dtype] * 8 });
        // the same bits on every run (per-block partials added in block order, no atomics)
        const again = ops.rmsNormBackward(dy.to('cuda'), x.to('cuda'), w.to('cuda'), { eps: 1e-5 });
        const once = ops.rmsNormBackward(dy.to('cuda'), x.to('cuda'), w.to('cuda'), { eps: 1e-5 });
        assert.deepEqual(Array.from(again.dWeight.toFloat32Array()), Array.from(once.dWeight.toFloat32Array()));
        const d = dy.to('cuda');
        ops.rmsNormBackward(d, x.to('cuda'), w.to('cuda'), { eps: 1e-5, out: d });
        assert.deepEqual(Array.from(d.toFloat32Array()), Array.from(once.dx.toFloat32Array()));
      }
    });
    it(`rotaryBackward ${dtype}`, () => {
      const [B, H, T, d] = [2, scaled(4), 9, 128];
      const dy = tensor(Float32Array.from(randomArray(B * H * T * d, rng(15))), [B, H, T, d], { dtype });
      const pos = tensor(Int32Array.from({ length: B * T }, (_, i) => i * 301), [B, T]);
      const at = (b: number, t: number) => (b * T + t) * 301;
      const g = ops.rotaryBackward(dy.to('cuda'), { positions: pos.to('cuda'), theta: 500000 });
      assertRoundedOnce(g.toFloat32Array(), rotaryBackwardRef(held(dy), B, H, T, d, at, 500000), rotaryBackwardBound(held(dy), B, H, T, d, at, 500000), dtype, `cuda rotaryBackward ${dtype}`);
      assertClose(g.toFloat32Array(), ops.rotaryBackward(dy, { positions: pos, theta: 500000 }).toFloat32Array(), { rtol: TOL[dtype], atol: TOL[dtype] * 4 });
      const c = dy.to('cuda');
      ops.rotaryBackward(c, { offset: 5, inPlace: true });
      assertClose(c.toFloat32Array(), ops.rotaryBackward(dy, { offset: 5 }).toFloat32Array(), { rtol: TOL[dtype], atol: TOL[dtype] * 4 });
    });
    it(`swigluBackward ${dtype}`, () => {
      const n = 10007;
      const g = tensor(Float32Array.from(randomArray(n, rng(16), 4)), [n], { dtype });
      const u = tensor(Float32Array.from(randomArray(n, rng(17))), [n], { dtype });
      const dy = tensor(Float32Array.from(randomArray(n, rng(18))), [n], { dtype });
      const r = ops.swigluBackward(dy.to('cuda'), g.to('cuda'), u.to('cuda'));
      const ref = swigluBackwardRef(held(dy), held(g), held(u));
      const err = swigluBackwardBound(held(dy), held(g), held(u));
      assertRoundedOnce(r.dGate.toFloat32Array(), ref.dg, err.dg, dtype, `cuda dGate ${dtype}`);
      assertRoundedOnce(r.dUp.toFloat32Array(), ref.du, err.du, dtype, `cuda dUp ${dtype}`);
      const c = ops.swigluBackward(dy, g, u);
      assertClose(r.dGate.toFloat32Array(), c.dGate.toFloat32Array(), { rtol: TOL[dtype], atol: 1e-6 });
      const gc = g.to('cuda');
      const uc = u.to('cuda');
      ops.swigluBackward(dy.to('cuda'), gc, uc, { dGateOut: gc, dUpOut: uc });
      assert.deepEqual(Array.from(gc.toFloat32Array()), Array.from(r.dGate.toFloat32Array()));
      assert.deepEqual(Array.from(uc.toFloat32Array()), Array.from(r.dUp.toFloat32Array()));
    });
  }
});

// embeddingBackward: the same bits as the CPU (one thread per element, rows in index order), with a
// heavy token (a third of the rows), int32 and int64 tokens, accumulate, and a bad token.
describe('embeddingBackward CUDA vs CPU', { skip }, () => {
  it('embeddingBackward: identical bits, accumulate, bad tokens name their index and write nothing', () => {
    const N = scaled(1200), V = 61, D = 300;
    const r = rng(31);
    const tok = Int32Array.from({ length: N }, () => (r() < 0.35 ? 7 : Math.floor(r() * V)));
    for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[]) {
      const dy = tensor(Float32Array.from(randomArray(N * D, rng(32), 2)), [N, D], { dtype });
      const a = ops.embeddingBackward(dy, tensor(tok), { vocabSize: V });
      const b = ops.embeddingBackward(dy.to('cuda'), tensor(BigInt64Array.from(tok, BigInt)).to('cuda'), { vocabSize: V });
      assert.deepEqual(b.toArray(), a.toArray(), `${dtype}`);
      const init = tensor(Float32Array.from(randomArray(V * D, rng(33))), [V, D]);
      const acc = ops.embeddingBackward(dy, tensor(tok), { out: init.clone(), accumulate: true });
      const accG = ops.embeddingBackward(dy.to('cuda'), tensor(tok).to('cuda'), { out: init.to('cuda'), accumulate: true });
      assert.deepEqual(accG.toArray(), acc.toArray(), `${dtype} accumulate`);
    }
    const out = tensor(Float32Array.from(randomArray(V * D, rng(34))), [V, D]).to('cuda');
    const before = out.toArray();
    const bad = Int32Array.from(tok);
    bad[5] = V;
    expectError(() => ops.embeddingBackward(tensor(new Float32Array(N * D), [N, D]).to('cuda'), tensor(bad).to('cuda'), { out }), 'ERR_RANGE', new RegExp(`token ${V} at index 5`));
    assert.deepEqual(out.toArray(), before);
  });
});
