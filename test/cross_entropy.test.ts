import { describe, expect, it } from 'vitest';
import { empty, numThreads, ops, setNumThreads, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { crossEntropyGradRef, crossEntropyObjective, crossEntropyRef, type CeLayout, type CeRef } from './reference/cross_entropy';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';
import { assertRoundedOnce } from './rounding';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];
// The kernels compute in float32 from the values the tensor holds (the reference sees the same
// values). lse: float32 lanes of polynomial 2^y (relative error 1.6e-7 float32 / 2.9e-6 half
// inputs) summed per chunk, merged in double: within 1e-6 * (1 + |lse|) (sequence_logps' bound).
// A row loss lse - z[y] is formed in double and stored in float32 (+6e-8 relative).
const LOSS = { rtol: 2e-6, atol: 3e-6 };
// The reduced loss: a double sum of the row losses (each within LOSS), / n for the mean.
const TOTAL = { rtol: 2e-6, atol: 1e-5 };
// Gradient elements: s * 2^(x*L - c) with the polynomial (<= 2.9e-6), the lse error dl (it moves
// every p by the factor exp(dl); sequence_logps' bound |dl| <= 1e-6 (1 + |lse|)) and two float32
// roundings: within E = 1e-5 |ref| + 1e-30 in float32. The label's s * (p_y - 1) is formed in
// double from the same lse, so it is off by up to |s| p_y |dl| in absolute terms (all of its
// error when p_y is near 1). A half gradient must be that float32 value rounded once to nearest
// even (test/rounding.ts), so its interval is [rne(ref - E), rne(ref + E)].
function gradErr(ref: Float64Array, f: CeRef, L: CeLayout, gradOut: number | ArrayLike<number> = 1): Float64Array {
  const err = ref.map((v) => 1e-5 * Math.abs(v) + 1e-30);
  const mean = L.reduction === 'mean' || L.reduction === undefined;
  for (let r = 0; r < L.rows; r++) {
    const y = f.target[r]!;
    if (y < 0) continue;
    const s = (typeof gradOut === 'number' ? gradOut : gradOut[r]!) / (mean ? Math.max(f.count, 1) : 1);
    err[r * L.vocab + y]! += Math.abs(s) * 1e-6 * (1 + Math.abs(f.lse[r]!));
  }
  return err;
}

/** A logits tensor of `dtype` and the float64 values it holds. */
function logitsOf(values: ArrayLike<number>, shape: number[], dtype: FloatDType) {
  const t = tensor(Float32Array.from(values), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

function labelsOf(n: number, V: number, r: () => number, ignored = 0.2, ignoreIndex = -100): number[] {
  return Array.from({ length: n }, () => (r() < ignored ? ignoreIndex : Math.floor(r() * V)));
}

function checkGrad(g: Tensor, held: Float64Array, lab: number[], L: CeLayout, gradOut: number | ArrayLike<number>, dtype: FloatDType, name: string) {
  const ref = crossEntropyGradRef(held, lab, L, gradOut);
  assertRoundedOnce(g.toFloat32Array(), ref, gradErr(ref, crossEntropyRef(held, lab, L), L, gradOut), dtype, name);
}

describe('ops.crossEntropy', () => {
  // odd sizes; V > 4096 crosses the CPU's chunks (12289 = three chunks and a tail)
  const shapes: number[][] = [[1, 1, 1], [3, 47, 31], [2, 5, 5003], [2, 3, 12289], [37, 11], [5, 2, 2]];
  for (const dtype of DTYPES)
    for (const shape of shapes)
      for (const [shift, reduction] of [[false, 'mean'], [true, 'sum'], [true, 'mean'], [false, 'none']] as const)
        it(`matches the float64 reference: ${dtype} [${shape.join(', ')}] shift ${shift} ${reduction}`, () => {
          const V = shape[shape.length - 1]!;
          const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
          const r = rng(rows * 7 + V + (shift ? 1 : 0));
          const { t, held } = logitsOf(randomArray(rows * V, r, dtype === 'float16' ? 3 : 5), shape, dtype);
          const lab = labelsOf(rows, V, r);
          const L: CeLayout = { rows, vocab: V, seqLen: shape.length === 3 ? shape[1]! : rows, shift, reduction };
          const gradOut = reduction === 'none' ? Float32Array.from({ length: rows }, () => r() * 4 - 2) : 0.75;
          const res = ops.crossEntropy(t, tensor(Int32Array.from(lab), shape.slice(0, -1)), {
            shift,
            reduction,
            grad: true,
            gradOut: typeof gradOut === 'number' ? gradOut : tensor(gradOut, shape.slice(0, -1)),
          });
          const ref = crossEntropyRef(held, lab, L);
          expect(res.count).toBe(ref.count);
          if (reduction === 'none') {
            const l = res.loss as unknown as Tensor<'float32'>;
            expect(l.shape).toEqual(shape.slice(0, -1));
            assertClose(l.data, ref.losses, { ...LOSS, name: 'losses' });
          } else {
            assertClose([res.loss as number], [ref.loss], { ...TOTAL, name: 'loss' });
          }
          expect(res.grad!.dtype).toBe(dtype);
          expect(res.grad!.shape).toEqual(shape);
          checkGrad(res.grad!, held, lab, L, gradOut, dtype, `${dtype} grad`);
        });

  it('the gradient matches central finite differences of the float64 reference', () => {
    // small, odd shapes; every reduction, shift, ignored rows and a per-row gradOut
    for (const [B, T, V] of [[2, 3, 5], [1, 4, 7], [3, 2, 3]] as const)
      for (const [shift, reduction] of [[false, 'mean'], [true, 'mean'], [true, 'sum'], [false, 'none'], [true, 'none']] as const) {
        const r = rng(B * 100 + T * 10 + V + (shift ? 1 : 0));
        const rows = B * T;
        const x = Float64Array.from(Array.from(decodeToFloat32('float32', new Float32Array(randomArray(rows * V, r, 2)))));
        const lab = labelsOf(rows, V, r, 0.25);
        const L: CeLayout = { rows, vocab: V, seqLen: T, shift, reduction };
        const go = reduction === 'none' ? Float32Array.from({ length: rows }, () => r() * 2 - 1) : 1.5;
        const res = ops.crossEntropy(tensor(Float32Array.from(x), [B, T, V]), tensor(Int32Array.from(lab), [B, T]), { shift, reduction, grad: true, gradOut: typeof go === 'number' ? go : tensor(go, [B, T]) });
        const h = 1e-5;
        const fd = new Float64Array(rows * V);
        for (let i = 0; i < fd.length; i++) {
          const xp = x.slice();
          const xm = x.slice();
          xp[i]! += h;
          xm[i]! -= h;
          fd[i] = (crossEntropyObjective(xp, lab, L, go) - crossEntropyObjective(xm, lab, L, go)) / (2 * h);
        }
        // FD truncation ~h^2 and cancellation ~1e-16 / h: 1e-9; the op's float32 gradient: 1e-5 relative
        assertClose(res.grad!.toFloat32Array(), fd, { rtol: 1e-5, atol: 1e-8, name: `fd [${B}, ${T}, ${V}] shift ${shift} ${reduction}` });
      }
  });

  it('matches a hand-computed PyTorch value; defaults: mean, no shift, ignoreIndex -100, no grad', () => {
    // F.cross_entropy(tensor([[1., 2, 3], [0, 0, 0], [-1, 5, 2]]), tensor([2, -100, 1])) = 0.229275911...
    const x = tensor(Float32Array.from([1, 2, 3, 0, 0, 0, -1, 5, 2]), [3, 3]);
    const res = ops.crossEntropy(x, tensor(Int32Array.from([2, -100, 1]), [3]));
    const l0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3;
    const l2 = Math.log(Math.exp(-1) + Math.exp(5) + Math.exp(2)) - 5;
    expect(res.loss).toBeCloseTo((l0 + l2) / 2, 6);
    expect(res.count).toBe(2);
    expect(res.grad).toBeUndefined();
  });

  it('shift equals the unshifted loss over labels moved one left (last row of each sequence ignored)', () => {
    for (const dtype of DTYPES) {
      const B = 3, T = 9, V = 301;
      const r = rng(31);
      const { t } = logitsOf(randomArray(B * T * V, r, 3), [B, T, V], dtype);
      const lab = labelsOf(B * T, V, r);
      const moved = lab.map((_, i) => ((i + 1) % T === 0 ? -100 : lab[i + 1]!));
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const a = ops.crossEntropy(t, tensor(Int32Array.from(lab), [B, T]), { shift: true, reduction, grad: true });
        const b = ops.crossEntropy(t, tensor(Int32Array.from(moved), [B, T]), { reduction, grad: true });
        expect(a.count).toBe(b.count);
        if (reduction === 'none') assertBitEqual((a.loss as unknown as Tensor<'float32'>).data, (b.loss as unknown as Tensor<'float32'>).data);
        else expect(a.loss).toBe(b.loss);
        assertBitEqual(a.grad.data as Uint16Array, b.grad.data as Uint16Array, `${dtype} ${reduction} grad`);
      }
      // [N, V] with shift is one sequence
      const flat = ops.crossEntropy(t.reshape([B * T, V]), tensor(Int32Array.from(lab), [B * T]), { shift: true, reduction: 'none' });
      expect(flat.count).toBe(lab.slice(1).filter((v) => v !== -100).length);
    }
  });

  it('reductions agree: sum = mean * count = the float64 sum of the row losses', () => {
    const r = rng(32);
    const { t } = logitsOf(randomArray(4 * 13 * 777, r, 4), [4, 13, 777], 'float32');
    const labels = tensor(Int32Array.from(labelsOf(52, 777, r)), [4, 13]);
    const mean = ops.crossEntropy(t, labels);
    const sum = ops.crossEntropy(t, labels, { reduction: 'sum' });
    const none = ops.crossEntropy(t, labels, { reduction: 'none' });
    expect(mean.count).toBe(sum.count);
    expect(sum.loss).toBeCloseTo(mean.loss * mean.count, 2);
    let s = 0;
    for (const v of none.loss.data) s += v;
    expect(Math.abs(s - sum.loss)).toBeLessThan(1e-5 * Math.abs(s));
  });

  it('gives loss 0, count 0 and a zero gradient when nothing is scored (PyTorch gives NaN for the mean)', () => {
    for (const dtype of DTYPES) {
      const { t } = logitsOf(randomArray(2 * 3 * 7, rng(33)), [2, 3, 7], dtype);
      const lab = tensor(Int32Array.from([-100, -100, -100, 5, -100, -100]), [2, 3]);
      for (const reduction of ['mean', 'sum'] as const) {
        const res = ops.crossEntropy(t, lab, { reduction, grad: true, shift: true }); // labels[1, 0] is never scored with shift
        expect(res.loss).toBe(0);
        expect(res.count).toBe(0);
        expect(res.grad.toFloat32Array().every((v) => Object.is(v, 0))).toBe(true);
      }
    }
  });

  it('never scores ignoreIndex even when it is a real token id (42); unscored rows get exact zeros', () => {
    const V = 50;
    const r = rng(34);
    const { t, held } = logitsOf(randomArray(2 * 30 * V, r), [2, 30, V], 'float32');
    const lab = labelsOf(60, V, r, 0);
    for (let i = 0; i < 60; i += 3) lab[i] = 42;
    const res = ops.crossEntropy(t, tensor(Int32Array.from(lab), [2, 30]), { ignoreIndex: 42, reduction: 'none', grad: true });
    const L: CeLayout = { rows: 60, vocab: V, seqLen: 30, ignoreIndex: 42, reduction: 'none' };
    assertClose(res.loss.data, crossEntropyRef(held, lab, L).losses, LOSS);
    expect(res.count).toBe(lab.filter((v) => v !== 42).length);
    const g = res.grad.toFloat32Array();
    for (let i = 0; i < 60; i += 3) expect(g.subarray(i * V, (i + 1) * V).every((v) => Object.is(v, 0)), `row ${i}`).toBe(true);
    // -100 is then an ordinary (out of range) label
    expectError(() => ops.crossEntropy(t, tensor(Int32Array.from(lab.map((v, i) => (i === 7 ? -100 : v))), [2, 30]), { ignoreIndex: 42 }), 'ERR_RANGE', /received -100 at labels\[0, 7\]/);
  });

  it('accepts int64 labels', () => {
    const r = rng(35);
    const { t, held } = logitsOf(randomArray(2 * 7 * 13, r), [2, 7, 13], 'float16');
    const lab = labelsOf(14, 13, r);
    const res = ops.crossEntropy(t, tensor(BigInt64Array.from(lab.map(BigInt)), [2, 7]), { reduction: 'sum', grad: true });
    const L: CeLayout = { rows: 14, vocab: 13, seqLen: 7, reduction: 'sum' };
    assertClose([res.loss], [crossEntropyRef(held, lab, L).loss], TOTAL);
    checkGrad(res.grad, held, lab, L, 1, 'float16', 'int64 grad');
  });

  it('in place equals out of place; out= is used; inputs are not modified otherwise', () => {
    for (const dtype of DTYPES) {
      const r = rng(36);
      const { t } = logitsOf(randomArray(3 * 9 * 777, r, 3), [3, 9, 777], dtype);
      const labels = tensor(Int32Array.from(labelsOf(27, 777, r)), [3, 9]);
      const before = t.data.slice();
      const a = ops.crossEntropy(t, labels, { grad: true, shift: true });
      assertBitEqual(t.data as Uint16Array, before as Uint16Array, `${dtype} logits untouched`);
      const out = empty([3, 9, 777], dtype);
      const b = ops.crossEntropy(t, labels, { grad: true, shift: true, out });
      expect(b.grad).toBe(out);
      assertBitEqual(out.data as Uint16Array, a.grad.data as Uint16Array, `${dtype} out`);
      const copy = t.clone();
      const c = ops.crossEntropy(copy, labels, { grad: true, shift: true, inPlace: true });
      expect(c.grad).toBe(copy);
      expect(c.loss).toBe(a.loss);
      assertBitEqual(copy.data as Uint16Array, a.grad.data as Uint16Array, `${dtype} in place`);
      // an odd vocabulary and an out buffer at another alignment (the generic bf16 path)
      const odd = logitsOf(randomArray(2 * 3 * 7, r), [2, 3, 7], dtype).t;
      const ol = tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
      const ref = ops.crossEntropy(odd, ol, { grad: true });
      const backing = empty([43], dtype);
      const shifted = tensor((backing.data as Uint16Array).subarray(1, 43) as never, [2, 3, 7], { dtype });
      ops.crossEntropy(odd, ol, { grad: true, out: shifted });
      assertBitEqual(shifted.data as Uint16Array, ref.grad.data as Uint16Array, `${dtype} unaligned out`);
    }
  });

  it('handles extreme logits: +-1e4, -Infinity entries and label logits, rows of -Infinity, |x| beyond the fast path', () => {
    const V = 5000;
    const T = 6;
    for (const dtype of DTYPES) {
      const r = rng(37);
      const v = randomArray(T * V, r, 3);
      const big = dtype === 'float16' ? 6e4 : 1e4;
      for (let j = 0; j < V; j++) v[j] = (r() < 0.5 ? -1 : 1) * big * r(); // row 0: +-1e4
      for (let j = 0; j < V; j += 3) v[V + j] = -Infinity; // row 1: masked vocabulary
      v[2 * V + 4] = -Infinity; // row 2: -inf at its label: loss +inf
      for (let j = 0; j < V; j++) v[3 * V + j] = -Infinity; // row 3: all -inf: NaN (as PyTorch)
      for (let j = 0; j < V; j++) v[4 * V + j] = big + r(); // row 4: large and flat
      if (dtype !== 'float16') for (let j = 0; j < V; j++) v[5 * V + j] = 3e9 * r(); // row 5: exact path
      const lab = [7, 5, 4, 17, 3, 9];
      const { t, held } = logitsOf(v, [1, T, V], dtype);
      const L: CeLayout = { rows: T, vocab: V, seqLen: T, reduction: 'none' };
      const ref = crossEntropyRef(held, lab, L);
      const res = ops.crossEntropy(t, tensor(Int32Array.from(lab), [1, T]), { reduction: 'none', grad: true });
      assertClose(res.loss.data, ref.losses, { rtol: 2e-6, atol: 3e-5, name: `${dtype} extreme losses` });
      expect(res.loss.data[2]).toBe(Infinity);
      expect(Number.isNaN(res.loss.data[3])).toBe(true);
      const g = res.grad.toFloat32Array();
      const gref = crossEntropyGradRef(held, lab, L);
      const gerr = gradErr(gref, ref, L);
      // rows 0, 1, 4, 5 against the reference; masked logits get exact zeros
      for (const row of [0, 1, 4, 5]) {
        const [a, b] = [row * V, (row + 1) * V];
        assertRoundedOnce(g.subarray(a, b), gref.subarray(a, b), gerr.subarray(a, b), dtype, `${dtype} extreme grad row ${row}`);
      }
      expect(Object.is(g[V], 0)).toBe(true);
      const mean = ops.crossEntropy(t, tensor(Int32Array.from(lab), [1, T]));
      expect(Number.isNaN(mean.loss)).toBe(true); // the NaN row reaches the mean, as in PyTorch
    }
  });

  it('async gives bit-identical results; any thread count gives the same bits', async () => {
    const before = numThreads();
    try {
      for (const dtype of DTYPES) {
        const r = rng(38);
        const { t } = logitsOf(randomArray(3 * 11 * 9001, r, 3), [3, 11, 9001], dtype);
        const lab = tensor(Int32Array.from(labelsOf(33, 9001, r)), [3, 11]);
        setNumThreads(1);
        const ref = ops.crossEntropy(t, lab, { grad: true, shift: true });
        const none = ops.crossEntropy(t, lab, { reduction: 'none' });
        const a = await ops.crossEntropyAsync(t, lab, { grad: true, shift: true });
        expect(a.loss).toBe(ref.loss);
        assertBitEqual(a.grad.data as Uint16Array, ref.grad.data as Uint16Array, `${dtype} async`);
        for (const n of [2, 3, 7]) {
          setNumThreads(n);
          const b = ops.crossEntropy(t, lab, { grad: true, shift: true });
          expect(b.loss, `${dtype} ${n} threads`).toBe(ref.loss);
          assertBitEqual(b.grad.data as Uint16Array, ref.grad.data as Uint16Array, `${dtype} ${n} threads`);
          assertBitEqual(ops.crossEntropy(t, lab, { reduction: 'none' }).loss.data, none.loss.data, `${dtype} ${n} threads losses`);
        }
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('rejects bad input with typed errors; a bad label writes nothing', async () => {
    const x = tensor(new Float32Array(2 * 3 * 5), [2, 3, 5]);
    const lab = tensor(new Int32Array(6), [2, 3]);
    expectError(() => ops.crossEntropy(x, tensor(Int32Array.from([0, 1, 5, 0, 9, 0]), [2, 3])), 'ERR_RANGE', /expected labels in \[0, 5\) or equal to ignoreIndex \(-100\) but received 5 at labels\[0, 2\]/);
    expectError(() => ops.crossEntropy(x, tensor(BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 2n ** 40n]), [2, 3])), 'ERR_RANGE', /received 1099511627776 at labels\[1, 2\]/);
    await expectRejection(ops.crossEntropyAsync(x, tensor(Int32Array.from([0, -7, 0, 0, 0, 0]), [2, 3])), 'ERR_RANGE', /received -7 at labels\[0, 1\]/);
    // with shift, labels[b, 0] is never read, so it is not checked
    expect(ops.crossEntropy(x, tensor(Int32Array.from([99, 1, 2, 99, 1, 2]), [2, 3]), { shift: true }).count).toBe(4);
    const y = tensor(Float32Array.from({ length: 30 }, (_, i) => i), [2, 3, 5]);
    expectError(() => ops.crossEntropy(y, tensor(Int32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]), { grad: true, inPlace: true }), 'ERR_RANGE', /received 5 at labels\[1, 2\]/);
    expect(Array.from(y.data)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // shapes and dtypes
    expectError(() => ops.crossEntropy(x, tensor(new Int32Array(4), [2, 2])), 'ERR_SHAPE', /expected labels of shape \[2, 3\] \(from logits \[2, 3, 5\]\) but received \[2, 2\]/);
    expectError(() => ops.crossEntropy(tensor(new Float32Array(5), [5]), tensor(new Int32Array(1), [1])), 'ERR_SHAPE', /expected logits of shape \[B, T, V\] or \[N, V\]/);
    expectError(() => ops.crossEntropy(tensor(new Int32Array(30), [2, 3, 5]), lab), 'ERR_DTYPE', /expected logits of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => ops.crossEntropy(x, tensor(new Float32Array(6), [2, 3])), 'ERR_DTYPE', /expected labels of dtype int32 or int64 but received float32/);
    // options
    expectError(() => ops.crossEntropy(x, lab, { bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    expectError(() => ops.crossEntropy(x, lab, { reduction: 'avg' as never }), 'ERR_ARGUMENT', /reduction/);
    expectError(() => ops.crossEntropy(x, lab, { labelSmoothing: 0.1 }), 'ERR_RANGE', /labelSmoothing 0 \(label smoothing is not implemented\) but received 0.1/);
    expectError(() => ops.crossEntropy(x, lab, { inPlace: true }), 'ERR_ARGUMENT', /expected grad: true with inPlace/);
    expectError(() => ops.crossEntropy(x, lab, { gradOut: 2 }), 'ERR_ARGUMENT', /expected grad: true with gradOut/);
    expectError(() => ops.crossEntropy(x, lab, { grad: true, inPlace: true, out: empty([2, 3, 5]) }), 'ERR_ARGUMENT', /either inPlace or out but received both/);
    expectError(() => ops.crossEntropy(x, lab, { grad: true, out: empty([2, 3, 4]) }), 'ERR_SHAPE', /expected out of shape \[2, 3, 5\]/);
    expectError(() => ops.crossEntropy(x, lab, { grad: true, out: empty([2, 3, 5], 'bfloat16') }), 'ERR_DTYPE', /expected out of dtype float32/);
    expectError(() => ops.crossEntropy(x, lab, { grad: true, gradOut: Infinity }), 'ERR_RANGE', /gradOut a finite number/);
    expectError(() => ops.crossEntropy(x, lab, { grad: true, gradOut: tensor(new Float32Array(6), [2, 3]) }), 'ERR_ARGUMENT', /a number for gradOut/);
    expectError(() => ops.crossEntropy(x, lab, { grad: true, reduction: 'none', gradOut: tensor(new Float32Array(6), [6]) }), 'ERR_SHAPE', /expected gradOut of shape \[2, 3\]/);
    expectError(() => ops.crossEntropy(x, lab, { grad: true, reduction: 'none', gradOut: tensor(new Int32Array(6), [2, 3]) }), 'ERR_DTYPE', /gradOut of dtype float32/);
    expectError(() => ops.crossEntropy(x, lab, { ignoreIndex: 1.5 }), 'ERR_RANGE', /ignoreIndex an integer/);
    expectError(() => ops.crossEntropy(x, lab, { shift: 1 as never }), 'ERR_ARGUMENT', /a boolean for shift/);
    const buf = new Float32Array(40);
    const a = tensor(buf.subarray(0, 30), [2, 3, 5]);
    const b = tensor(buf.subarray(5, 35), [2, 3, 5]);
    expectError(() => ops.crossEntropy(a, lab, { grad: true, out: b }), 'ERR_ARGUMENT', /out overlaps logits|grad overlaps logits/);
    const gone = tensor(new Float32Array(30), [2, 3, 5]);
    gone.dispose();
    expectError(() => ops.crossEntropy(gone, lab), 'ERR_DETACHED', /disposed/);
  });
});
