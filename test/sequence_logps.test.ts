import { describe, expect, it } from 'vitest';
import { MmprefError, dpo, empty, numThreads, setNumThreads, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { native } from '../lib/native';
import { logpsBackwardRef, padded, sequenceLogpsRef, type RowLayout } from './reference/sequence_logps';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];
// The kernels compute in float32 from the values the tensor holds (the reference sees the same
// rounded values), so one tolerance fits every input dtype. Gradients are rounded to the logits'
// dtype on output: 2^-9 (bf16) / 2^-12 (f16) relative, plus a small absolute term.
const TOL = { perToken: { rtol: 2e-6, atol: 3e-6 }, logps: { rtol: 2e-6, atol: 2e-5 }, lse: { rtol: 1e-6, atol: 1e-6 } };
const GRAD_TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 1e-5, atol: 1e-7 },
  float16: { rtol: 2 ** -11, atol: 1e-7 },
  bfloat16: { rtol: 2 ** -8, atol: 1e-7 },
};

/** A logits tensor of `dtype` and the float64 values it holds. */
function logitsOf(values: ArrayLike<number>, shape: number[], dtype: FloatDType) {
  const t = tensor(Float32Array.from(values), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

/** Random labels in [0, V), a fraction `ignored` set to ignoreIndex. */
function labelsOf(n: number, V: number, r: () => number, ignored = 0.2, ignoreIndex = -100): number[] {
  return Array.from({ length: n }, () => (r() < ignored ? ignoreIndex : Math.floor(r() * V)));
}

function check(res: ReturnType<typeof dpo.sequenceLogps>, ref: ReturnType<typeof sequenceLogpsRef>, name: string) {
  assertClose(res.perToken!.data, ref.perToken, { ...TOL.perToken, name: `${name} perToken` });
  assertClose(res.logps.data, ref.logps, { ...TOL.logps, name: `${name} logps` });
  expect(Array.from(res.counts.data), `${name} counts`).toEqual(Array.from(ref.counts));
  if (res.lse) assertClose(res.lse.data, ref.lse, { ...TOL.lse, name: `${name} lse` });
}

describe('dpo.sequenceLogps', () => {
  // odd sizes; V > 4096 crosses the CPU's chunks (12289 = three chunks and a tail)
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 47, 31], [2, 5, 5003], [4, 9, 4097], [2, 3, 12289], [5, 2, 2]];
  for (const dtype of DTYPES)
    for (const [B, T, V] of shapes)
      for (const [shift, average] of [[true, false], [false, true], [true, true]] as const)
        it(`matches the float64 reference: ${dtype} [${B}, ${T}, ${V}] shift ${shift} average ${average}`, () => {
          const r = rng(B * 7 + T * 131 + V);
          const { t, held } = logitsOf(randomArray(B * T * V, r, dtype === 'float16' ? 3 : 5), [B, T, V], dtype);
          const lab = labelsOf(B * T, V, r);
          const res = dpo.sequenceLogps(t, tensor(Int32Array.from(lab), [B, T]), { shift, average, perToken: true, returnLse: true });
          expect(res.logps.shape).toEqual([B]);
          expect(res.counts.dtype).toBe('int32');
          expect(res.perToken!.shape).toEqual([B, T]);
          expect(res.lse!.shape).toEqual([B, T]);
          check(res, sequenceLogpsRef(held, lab, padded(B, T, V, { shift, average })), `${dtype} [${B}, ${T}, ${V}]`);
        });

  it('logps is the float64 sum of perToken, rounded once', () => {
    const r = rng(11);
    const { t } = logitsOf(randomArray(3 * 40 * 300, r, 4), [3, 40, 300], 'float32');
    const res = dpo.sequenceLogps(t, tensor(Int32Array.from(labelsOf(120, 300, r)), [3, 40]), { perToken: true });
    for (let b = 0; b < 3; b++) {
      let s = 0;
      for (let i = 0; i < 40; i++) s += res.perToken!.data[b * 40 + i]!;
      expect(res.logps.data[b]).toBe(Math.fround(s));
    }
  });

  it('defaults: ignoreIndex -100, shift, sum; perToken and lse only on request', () => {
    const { t, held } = logitsOf(randomArray(2 * 6 * 11, rng(2)), [2, 6, 11], 'float32');
    const lab = [-100, 3, 4, -100, 10, 0, 1, 2, -100, -100, 7, 7];
    const res = dpo.sequenceLogps(t, tensor(Int32Array.from(lab), [2, 6]));
    expect(res.perToken).toBeUndefined();
    expect(res.lse).toBeUndefined();
    const ref = sequenceLogpsRef(held, lab, padded(2, 6, 11));
    assertClose(res.logps.data, ref.logps, TOL.logps);
    expect(Array.from(res.counts.data)).toEqual([4, 3]); // labels[b, 0] is never scored with shift
  });

  it('aligns perToken with labels: perToken[b, t] scores labels[b, t]', () => {
    const V = 4;
    const logits = tensor(Float32Array.from([0, 0, 0, 0, 1, 2, 3, 4, 5, 5, 5, 5]), [1, 3, V]);
    const lab = tensor(Int32Array.from([1, 3, 2]), [1, 3]);
    const shifted = dpo.sequenceLogps(logits, lab, { perToken: true }).perToken!.data;
    expect(shifted[0]).toBe(0); // nothing predicts the first label
    expect(shifted[1]).toBeCloseTo(-Math.log(4), 6); // row 0 (uniform) scores label 3
    expect(shifted[2]).toBeCloseTo(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(4)), 6); // row 1 scores token 2 (logit 3)
    const plain = dpo.sequenceLogps(logits, lab, { perToken: true, shift: false }).perToken!.data;
    expect(plain[0]).toBeCloseTo(-Math.log(4), 6);
    expect(plain[2]).toBeCloseTo(-Math.log(4), 6); // row 2: all 5
  });

  it('gives 0 (not NaN) for sequences with no scored token, summed or averaged', () => {
    const { t } = logitsOf(randomArray(3 * 4 * 9, rng(3)), [3, 4, 9], 'bfloat16');
    const lab = tensor(Int32Array.from([-100, -100, -100, -100, 1, 2, 3, 4, 5, -100, -100, -100]), [3, 4]);
    for (const average of [false, true]) {
      const res = dpo.sequenceLogps(t, lab, { average, perToken: true });
      expect(res.logps.data[0]).toBe(0);
      expect(res.counts.data[0]).toBe(0);
      expect(res.logps.data[2]).toBe(0); // only labels[2, 0] is set, and with shift nothing scores it
      expect(Array.from(res.counts.data)).toEqual([0, 3, 0]);
      expect(Number.isFinite(res.logps.data[1])).toBe(true);
    }
  });

  it('never scores ignoreIndex even when it is a real token id (42)', () => {
    const V = 50;
    const r = rng(4);
    const { t, held } = logitsOf(randomArray(2 * 30 * V, r), [2, 30, V], 'float32');
    const lab = labelsOf(60, V, r, 0);
    for (let i = 0; i < 60; i += 3) lab[i] = 42;
    const res = dpo.sequenceLogps(t, tensor(Int32Array.from(lab), [2, 30]), { ignoreIndex: 42, perToken: true });
    const ref = sequenceLogpsRef(held, lab, padded(2, 30, V, { ignoreIndex: 42 }));
    check(res, ref, 'ignoreIndex 42');
    for (let i = 0; i < 60; i += 3) expect(res.perToken!.data[i]).toBe(0);
    // -100 is then an ordinary (out of range) label
    expectError(() => dpo.sequenceLogps(t, tensor(Int32Array.from(lab.map((v, i) => (i === 7 ? -100 : v))), [2, 30]), { ignoreIndex: 42 }), 'ERR_RANGE', /received -100 at labels\[0, 7\]/);
  });

  it('accepts int64 labels', () => {
    const r = rng(5);
    const { t, held } = logitsOf(randomArray(2 * 7 * 13, r), [2, 7, 13], 'float16');
    const lab = labelsOf(14, 13, r);
    const res = dpo.sequenceLogps(t, tensor(BigInt64Array.from(lab.map(BigInt)), [2, 7]), { perToken: true, returnLse: true });
    check(res, sequenceLogpsRef(held, lab, padded(2, 7, 13)), 'int64');
  });

  it('handles packed (padding-free) input; the shift never crosses a sequence boundary', () => {
    const V = 37;
    const offsets = [0, 5, 5, 6, 14, 21]; // an empty sequence and a one-token sequence
    const N = 21;
    for (const dtype of DTYPES)
      for (const shift of [true, false]) {
        const r = rng(6 + (shift ? 1 : 0));
        const { t, held } = logitsOf(randomArray(N * V, r, 3), [N, V], dtype);
        const lab = labelsOf(N, V, r, 0.1);
        const layout: RowLayout = { rows: N, vocab: V, offsets, shift };
        const res = dpo.sequenceLogps(t, tensor(Int32Array.from(lab), [N]), { cuSeqlens: tensor(Int32Array.from(offsets)), shift, perToken: true, returnLse: true });
        expect(res.logps.shape).toEqual([5]);
        const ref = sequenceLogpsRef(held, lab, layout);
        check(res, ref, `packed ${dtype} shift ${shift}`);
        if (shift) for (const s of offsets.slice(0, -1)) expect(res.perToken!.data[s] ?? 0).toBe(0); // first label of each sequence
        expect(res.counts.data[1]).toBe(0);
      }
  });

  it('packed input equals the same sequences padded', () => {
    const V = 19;
    const T = 8;
    const r = rng(8);
    const { t, held } = logitsOf(randomArray(3 * T * V, r), [3, T, V], 'float32');
    const lab = labelsOf(3 * T, V, r, 0);
    const a = dpo.sequenceLogps(t, tensor(Int32Array.from(lab), [3, T]), { perToken: true });
    const b = dpo.sequenceLogps(t.reshape([3 * T, V]), tensor(Int32Array.from(lab), [3 * T]), { cuSeqlens: tensor(Int32Array.from([0, T, 2 * T, 3 * T])), perToken: true });
    assertBitEqual(a.logps.data, b.logps.data);
    assertBitEqual(a.perToken!.data, b.perToken!.data);
    assertClose(a.logps.data, sequenceLogpsRef(held, lab, padded(3, T, V)).logps, TOL.logps);
  });

  it('handles extreme logits: +-1e4, -Infinity entries, a -Infinity label logit, rows of -Infinity', () => {
    const V = 5000;
    const T = 6;
    for (const dtype of DTYPES) {
      const r = rng(9);
      const v = randomArray(T * V, r, 3);
      const big = dtype === 'float16' ? 6e4 : 1e4;
      for (let j = 0; j < V; j++) v[j] = (r() < 0.5 ? -1 : 1) * big * r(); // row 0: +-1e4
      for (let j = 0; j < V; j += 3) v[V + j] = -Infinity; // row 1: masked vocabulary
      v[2 * V + 17] = -Infinity; // row 2: -inf at its label
      for (let j = 0; j < V; j++) v[3 * V + j] = -Infinity; // row 3: all -inf
      for (let j = 0; j < V; j++) v[4 * V + j] = big + r(); // row 4: large and flat
      const lab = [0, 5, 4, 17, 3, 9]; // row r scores lab[r + 1]; row 1's label 4 is not masked (4 % 3 != 0)
      const { t, held } = logitsOf(v, [1, T, V], dtype);
      const res = dpo.sequenceLogps(t, tensor(Int32Array.from(lab), [1, T]), { perToken: true, returnLse: true });
      const ref = sequenceLogpsRef(held, lab, padded(1, T, V));
      assertClose(res.perToken!.data, ref.perToken, { rtol: 1e-6, atol: 3e-5, name: `${dtype} extreme perToken` });
      assertClose(res.lse!.data, ref.lse, { rtol: 1e-6, atol: 1e-6, name: `${dtype} extreme lse` });
      expect(res.perToken!.data[3]).toBe(-Infinity); // -inf label logit
      expect(res.perToken!.data[4]).toBe(-Infinity); // row of -inf
      expect(res.lse!.data[3]).toBe(-Infinity);
      expect(res.logps.data[0]).toBe(-Infinity);
    }
  });

  it('propagates NaN and +Infinity; rows beyond the fast path (|x| > 1.8e8) are exact', () => {
    const V = 9000;
    const r = rng(10);
    const v = randomArray(5 * V, r, 2);
    v[0 * V + 8000] = NaN; // row 0: NaN in the second chunk
    v[1 * V + 3] = Infinity; // row 1: +inf
    for (let j = 0; j < V; j++) v[2 * V + j] = 3e9 + 1e8 * r(); // row 2: huge
    v[3 * V + 5] = 1e30; // row 3: one huge value
    const lab = [0, 1, 2, 3, 5];
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const { t, held } = logitsOf(v, [1, 5, V], dtype);
      const res = dpo.sequenceLogps(t, tensor(Int32Array.from(lab), [1, 5]), { perToken: true, returnLse: true, shift: false });
      const ref = sequenceLogpsRef(held, lab, padded(1, 5, V, { shift: false }));
      expect(Number.isNaN(res.perToken!.data[0])).toBe(true);
      expect(res.lse!.data[1]).toBe(Infinity);
      expect(res.perToken!.data[1]).toBe(-Infinity);
      assertClose(res.lse!.data, ref.lse, { rtol: 1e-6, name: `${dtype} lse` });
      assertClose(res.perToken!.data.subarray(2), ref.perToken.subarray(2), { rtol: 1e-6, atol: 1e-5, name: `${dtype} perToken` });
      expect(Number.isNaN(res.logps.data[0])).toBe(true);
    }
  });

  it('does not modify its inputs', () => {
    const { t } = logitsOf(randomArray(2 * 8 * 300, rng(12)), [2, 8, 300], 'bfloat16');
    const lab = tensor(Int32Array.from(labelsOf(16, 300, rng(13))), [2, 8]);
    const before = [t.data.slice(), lab.data.slice()] as const;
    dpo.sequenceLogps(t, lab, { perToken: true, returnLse: true });
    assertBitEqual(t.data, before[0]);
    assertBitEqual(lab.data, before[1]);
  });

  it('async gives bit-identical results', async () => {
    for (const dtype of DTYPES) {
      const r = rng(14);
      const { t } = logitsOf(randomArray(4 * 16 * 1500, r, 4), [4, 16, 1500], dtype);
      const lab = tensor(Int32Array.from(labelsOf(64, 1500, r)), [4, 16]);
      const a = dpo.sequenceLogps(t, lab, { perToken: true, returnLse: true, average: true });
      const b = await dpo.sequenceLogpsAsync(t, lab, { perToken: true, returnLse: true, average: true });
      assertBitEqual(a.logps.data, b.logps.data, dtype);
      assertBitEqual(a.perToken!.data, b.perToken!.data, dtype);
      assertBitEqual(a.lse!.data, b.lse!.data, dtype);
      assertBitEqual(a.counts.data, b.counts.data, dtype);
    }
  });

  it('is bit-identical for any thread count', () => {
    const before = numThreads();
    try {
      for (const dtype of DTYPES) {
        const r = rng(15);
        const { t } = logitsOf(randomArray(3 * 21 * 9001, r, 4), [3, 21, 9001], dtype);
        const lab = tensor(Int32Array.from(labelsOf(63, 9001, r)), [3, 21]);
        setNumThreads(1);
        const ref = dpo.sequenceLogps(t, lab, { perToken: true, returnLse: true });
        for (const n of [2, 3, 7]) {
          setNumThreads(n);
          const res = dpo.sequenceLogps(t, lab, { perToken: true, returnLse: true });
          assertBitEqual(res.perToken!.data, ref.perToken!.data, `${dtype} ${n} threads`);
          assertBitEqual(res.logps.data, ref.logps.data, `${dtype} ${n} threads`);
          assertBitEqual(res.lse!.data, ref.lse!.data, `${dtype} ${n} threads`);
        }
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('accepts onnxruntime-style tensors', () => {
    const res = dpo.sequenceLogps({ type: 'float32', data: new Float32Array([0, 0, 0, 0, 0, 0]), dims: [1, 2, 3] }, { type: 'int32', data: new Int32Array([0, 2]), dims: [1, 2] });
    expect(res.logps.data[0]).toBeCloseTo(-Math.log(3), 6);
  });

  it('rejects bad input with typed errors', async () => {
    const x = tensor(new Float32Array(2 * 3 * 5), [2, 3, 5]);
    const lab = tensor(new Int32Array(6), [2, 3]);
    // labels out of range: the first bad position is reported
    expectError(() => dpo.sequenceLogps(x, tensor(Int32Array.from([0, 1, 5, 0, 9, 0]), [2, 3])), 'ERR_RANGE', /expected labels in \[0, 5\) or equal to ignoreIndex \(-100\) but received 5 at labels\[0, 2\]/);
    expectError(() => dpo.sequenceLogps(x, tensor(Int32Array.from([0, 1, 2, 0, -1, 0]), [2, 3])), 'ERR_RANGE', /received -1 at labels\[1, 1\]/);
    expectError(() => dpo.sequenceLogps(x, tensor(BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 2n ** 40n]), [2, 3])), 'ERR_RANGE', /received 1099511627776 at labels\[1, 2\]/);
    await expectRejection(dpo.sequenceLogpsAsync(x, tensor(Int32Array.from([0, 7, 0, 0, 0, 0]), [2, 3])), 'ERR_RANGE', /received 7 at labels\[0, 1\]/);
    // with shift, labels[b, 0] is never read, so it is not checked
    expect(dpo.sequenceLogps(x, tensor(Int32Array.from([99, 1, 2, 99, 1, 2]), [2, 3])).counts.data[0]).toBe(2);
    // shapes and dtypes
    expectError(() => dpo.sequenceLogps(x, tensor(new Int32Array(4), [2, 2])), 'ERR_SHAPE', /expected labels of shape \[2, 3\] \(from logits \[2, 3, 5\]\) but received \[2, 2\]/);
    expectError(() => dpo.sequenceLogps(x.reshape([6, 5]), tensor(new Int32Array(6), [6])), 'ERR_SHAPE', /expected logits of shape \[B, T, V\]/);
    expectError(() => dpo.sequenceLogps(tensor(new Int32Array(30), [2, 3, 5]), lab), 'ERR_DTYPE', /expected logits of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => dpo.sequenceLogps(x, tensor(new Float32Array(6), [2, 3])), 'ERR_DTYPE', /expected labels of dtype int32 or int64 but received float32/);
    // packed
    const p = x.reshape([6, 5]);
    const pl = tensor(new Int32Array(6), [6]);
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(Int32Array.from([1, 3, 6])) }), 'ERR_RANGE', /expected cuSeqlens to start at 0 but received 1/);
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(Int32Array.from([0, 4, 3, 6])) }), 'ERR_RANGE', /non-decreasing but received cuSeqlens\[2\] = 3 < cuSeqlens\[1\] = 4/);
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(Int32Array.from([0, 3, 5])) }), 'ERR_RANGE', /to end at 6 \(the number of logits rows\) but received 5/);
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(BigInt64Array.from([0n, 6n])) }), 'ERR_DTYPE', /cuSeqlens of dtype int32/);
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(new Int32Array(0)) }), 'ERR_SHAPE', /cuSeqlens of shape \[B \+ 1\]/);
    expectError(() => dpo.sequenceLogps(x, lab, { cuSeqlens: tensor(Int32Array.from([0, 6])) }), 'ERR_SHAPE', /packed logits of shape \[N, V\]/);
    expectError(() => dpo.sequenceLogps(p, tensor(new Int32Array(5), [5]), { cuSeqlens: tensor(Int32Array.from([0, 6])) }), 'ERR_SHAPE', /expected labels of shape \[6\]/);
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(Int32Array.from([0, 6, 7])) }), 'ERR_RANGE', /to end at 6/);
    // options
    expectError(() => dpo.sequenceLogps(x, lab, { bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    expectError(() => dpo.sequenceLogps(x, lab, { ignoreIndex: 1.5 }), 'ERR_RANGE', /ignoreIndex an integer/);
    expectError(() => dpo.sequenceLogps(x, lab, { ignoreIndex: '3' as never }), 'ERR_ARGUMENT', /a number for ignoreIndex/);
    expectError(() => dpo.sequenceLogps(x, lab, { shift: 1 as never }), 'ERR_ARGUMENT', /a boolean for shift/);
    expectError(() => dpo.sequenceLogps(x, lab, { perToken: 'yes' as never }), 'ERR_ARGUMENT', /a boolean for perToken/);
    const gone = tensor(new Float32Array(30), [2, 3, 5]);
    gone.dispose();
    expectError(() => dpo.sequenceLogps(gone, lab), 'ERR_DETACHED', /disposed/);
    expectError(() => dpo.sequenceLogps(new Float32Array(30) as never, lab), 'ERR_ARGUMENT', /expected a Tensor for logits/);
  });
});

describe('dpo.logpsBackward', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 17, 31], [2, 5, 5003], [2, 3, 9000]];
  for (const dtype of DTYPES)
    for (const [B, T, V] of shapes)
      for (const [shift, average] of [[true, false], [false, true]] as const)
        it(`matches the float64 reference: ${dtype} [${B}, ${T}, ${V}] shift ${shift} average ${average}`, () => {
          const r = rng(B * 3 + T * 17 + V + (shift ? 1 : 0));
          const { t, held } = logitsOf(randomArray(B * T * V, r, 3), [B, T, V], dtype);
          const lab = labelsOf(B * T, V, r);
          const labels = tensor(Int32Array.from(lab), [B, T]);
          const g = Array.from({ length: B }, () => r() * 4 - 2);
          const gt = tensor(Float32Array.from(g), [B]);
          const ref = logpsBackwardRef(held, lab, Float32Array.from(g), padded(B, T, V, { shift, average }));
          const plain = dpo.logpsBackward(t, labels, gt, { shift, average });
          expect(plain.dtype).toBe(dtype);
          expect(plain.shape).toEqual([B, T, V]);
          assertClose(plain.toFloat32Array(), ref, { ...GRAD_TOL[dtype], name: `${dtype} grad` });
          // with the forward's (float32) lse: one pass, same values within the float32 lse's precision
          const { lse } = dpo.sequenceLogps(t, labels, { shift, average, returnLse: true });
          const withLse = dpo.logpsBackward(t, labels, gt, { shift, average, lse });
          assertClose(withLse.toFloat32Array(), ref, { ...GRAD_TOL[dtype], name: `${dtype} grad with lse` });
        });

  it('in place equals out of place, and out= is used', () => {
    for (const dtype of DTYPES) {
      const r = rng(20);
      const { t } = logitsOf(randomArray(3 * 9 * 777, r, 3), [3, 9, 777], dtype);
      const labels = tensor(Int32Array.from(labelsOf(27, 777, r)), [3, 9]);
      const g = tensor(Float32Array.from([1, -0.5, 0.25]), [3]);
      const { lse } = dpo.sequenceLogps(t, labels, { returnLse: true });
      const outOfPlace = dpo.logpsBackward(t, labels, g, { lse });
      const out = empty([3, 9, 777], dtype);
      expect(dpo.logpsBackward(t, labels, g, { lse, out })).toBe(out);
      assertBitEqual(out.data as Uint16Array, outOfPlace.data as Uint16Array, `${dtype} out`);
      const copy = t.clone();
      expect(dpo.logpsBackward(copy, labels, g, { lse, inPlace: true })).toBe(copy);
      assertBitEqual(copy.data as Uint16Array, outOfPlace.data as Uint16Array, `${dtype} in place`);
      // an odd vocabulary and an out buffer at another alignment (the generic bf16 path)
      const odd = logitsOf(randomArray(2 * 3 * 7, r), [2, 3, 7], dtype).t;
      const ol = tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
      const og = tensor(Float32Array.from([1, 2]), [2]);
      const ref = dpo.logpsBackward(odd, ol, og);
      const backing = empty([43], dtype);
      const shifted = tensor((backing.data as Uint16Array).subarray(1, 43) as never, [2, 3, 7], { dtype });
      dpo.logpsBackward(odd, ol, og, { out: shifted });
      assertBitEqual(shifted.data as Uint16Array, ref.data as Uint16Array, `${dtype} unaligned out`);
    }
  });

  it('writes exact zeros on unscored rows and for -Infinity logits', () => {
    const V = 40;
    for (const dtype of DTYPES) {
      const v = randomArray(2 * 4 * V, rng(21));
      v[3] = -Infinity; // row 0 is scored (labels[0, 1] = 5)
      const { t } = logitsOf(v, [2, 4, V], dtype);
      const lab = tensor(Int32Array.from([-100, 5, -100, 7, 1, 2, 3, -100]), [2, 4]);
      const g = dpo.logpsBackward(t, lab, tensor(Float32Array.from([1, -1]), [2])).toFloat32Array();
      const zeroRow = (r: number) => g.subarray(r * V, (r + 1) * V).every((x) => Object.is(x, 0));
      // rows scoring labels[0, 2] = -100, the last of each sequence, and labels[1, 3] = -100
      for (const r of [1, 3, 6, 7]) expect(zeroRow(r), `${dtype} row ${r}`).toBe(true);
      for (const r of [0, 2, 4, 5]) expect(zeroRow(r), `${dtype} row ${r}`).toBe(false);
      expect(Object.is(g[3], 0), `${dtype} -inf logit`).toBe(true);
      expect(g[5]).toBeGreaterThan(0); // the label: g * (1 - p) with g = 1
      expect(g[6]).toBeLessThan(0);
    }
  });

  it('handles extreme logits and non-finite rows like the reference', () => {
    const V = 5000;
    const r = rng(23);
    const v = randomArray(4 * V, r, 3);
    for (let j = 0; j < V; j++) v[j] = (r() < 0.5 ? -1 : 1) * 1e4 * r();
    for (let j = 0; j < V; j += 2) v[V + j] = -Infinity;
    for (let j = 0; j < V; j++) v[2 * V + j] = 2e9 * r(); // beyond the fast path
    const lab = [1, 3, 5, 7];
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const { t, held } = logitsOf(v, [1, 4, V], dtype);
      const labels = tensor(Int32Array.from(lab), [1, 4]);
      const g1 = tensor(Float32Array.from([0.7]), [1]);
      const ref = logpsBackwardRef(held, lab, [0.7], padded(1, 4, V, { shift: false }));
      const g = dpo.logpsBackward(t, labels, g1, { shift: false }).toFloat32Array();
      assertClose(g, ref, { ...GRAD_TOL[dtype], name: `${dtype} extreme grad` });
      // with a float32 lse the softmax term is good to |lse| * 6e-8 relative (6e-4 at 1e4)
      const { lse } = dpo.sequenceLogps(t, labels, { shift: false, returnLse: true });
      const gl = dpo.logpsBackward(t, labels, g1, { shift: false, lse }).toFloat32Array();
      assertClose(gl.subarray(0, 2 * V), ref.subarray(0, 2 * V), { rtol: dtype === 'float32' ? 1e-3 : 2 ** -8, atol: 1e-7, name: `${dtype} extreme grad with lse` });
    }
  });

  it('async gives bit-identical results; any thread count gives the same bits', async () => {
    const before = numThreads();
    try {
      for (const dtype of DTYPES) {
        const r = rng(24);
        const { t } = logitsOf(randomArray(3 * 11 * 5001, r, 3), [3, 11, 5001], dtype);
        const lab = tensor(Int32Array.from(labelsOf(33, 5001, r)), [3, 11]);
        const g = tensor(Float32Array.from([0.5, -1, 2]), [3]);
        setNumThreads(1);
        const ref = dpo.logpsBackward(t, lab, g, { average: true });
        const a = await dpo.logpsBackwardAsync(t, lab, g, { average: true });
        assertBitEqual(a.data as Uint16Array, ref.data as Uint16Array, `${dtype} async`);
        for (const n of [2, 3, 7]) {
          setNumThreads(n);
          assertBitEqual(dpo.logpsBackward(t, lab, g, { average: true }).data as Uint16Array, ref.data as Uint16Array, `${dtype} ${n} threads`);
        }
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('packed input matches the reference', () => {
    const V = 23;
    const offsets = [0, 4, 4, 11];
    const r = rng(25);
    const { t, held } = logitsOf(randomArray(11 * V, r), [11, V], 'float32');
    const lab = labelsOf(11, V, r, 0.1);
    const g = [1.5, 3, -2];
    const out = dpo.logpsBackward(t, tensor(Int32Array.from(lab), [11]), tensor(Float32Array.from(g), [3]), { cuSeqlens: tensor(Int32Array.from(offsets)), average: true });
    assertClose(out.toFloat32Array(), logpsBackwardRef(held, lab, g, { rows: 11, vocab: V, offsets, average: true }), GRAD_TOL.float32);
  });

  it('does not modify its inputs unless in place', () => {
    const { t } = logitsOf(randomArray(2 * 5 * 64, rng(26)), [2, 5, 64], 'float16');
    const lab = tensor(Int32Array.from(labelsOf(10, 64, rng(27))), [2, 5]);
    const g = tensor(Float32Array.from([1, 2]), [2]);
    const before = t.data.slice();
    dpo.logpsBackward(t, lab, g);
    assertBitEqual(t.data as Uint16Array, before);
  });

  it('rejects bad input with typed errors', async () => {
    const x = tensor(new Float32Array(2 * 3 * 5), [2, 3, 5]);
    const lab = tensor(new Int32Array(6), [2, 3]);
    const g = tensor(new Float32Array(2), [2]);
    expectError(() => dpo.logpsBackward(x, lab, tensor(new Float32Array(3), [3])), 'ERR_SHAPE', /expected gradLogps of shape \[2\] \(from one per sequence\) but received \[3\]/);
    expectError(() => dpo.logpsBackward(x, lab, tensor(new Int32Array(2), [2])), 'ERR_DTYPE', /gradLogps of dtype float32/);
    expectError(() => dpo.logpsBackward(x, lab, g, { lse: tensor(new Float32Array(5), [5]) }), 'ERR_SHAPE', /expected lse of shape \[2, 3\]/);
    expectError(() => dpo.logpsBackward(x, lab, g, { inPlace: true, out: empty([2, 3, 5]) }), 'ERR_ARGUMENT', /either inPlace or out but received both/);
    expectError(() => dpo.logpsBackward(x, lab, g, { out: empty([2, 3, 4]) }), 'ERR_SHAPE', /expected out of shape \[2, 3, 5\]/);
    expectError(() => dpo.logpsBackward(x, lab, g, { out: empty([2, 3, 5], 'bfloat16') }), 'ERR_DTYPE', /expected out of dtype float32/);
    // labels are checked before anything is written: in-place logits stay intact
    const y = tensor(Float32Array.from({ length: 30 }, (_, i) => i), [2, 3, 5]);
    expectError(() => dpo.logpsBackward(y, tensor(Int32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]), g, { inPlace: true }), 'ERR_RANGE', /received 5 at labels\[1, 2\]/);
    expect(y.data[29]).toBe(29);
    await expectRejection(dpo.logpsBackwardAsync(x, lab, g, { cuSeqlens: tensor(Int32Array.from([0, 6])) }), 'ERR_SHAPE', /packed logits/);
    // an out buffer that overlaps the logits without being them
    const gone = tensor(new Float32Array(2), [2]);
    gone.dispose();
    expectError(() => dpo.logpsBackward(x, lab, gone), 'ERR_DETACHED', /gradLogps was disposed/);
    expectError(() => dpo.logpsBackward(x, lab, g, { shift: 'no' as never }), 'ERR_ARGUMENT', /a boolean for shift/);
    expectError(() => dpo.logpsBackward(x, lab, g, { inPlace: 1 as never }), 'ERR_ARGUMENT', /a boolean for inPlace/);
    const buf = new Float32Array(40);
    const a = tensor(buf.subarray(0, 30), [2, 3, 5]);
    const b = tensor(buf.subarray(5, 35), [2, 3, 5]);
    expectError(() => dpo.logpsBackward(a, lab, g, { out: b }), 'ERR_ARGUMENT', /out overlaps logits/);
  });
});

describe('raw bindings trust nothing', () => {
  const raw = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  const t = (store: ArrayBufferView, code: number, shape: number[]) => ({ _store: store, _code: code, shape, _device: -1 });
  const logits = () => t(new Float32Array(2 * 3 * 5), 0, [2, 3, 5]);
  const labels = () => t(new Int32Array(6), 3, [2, 3]);
  const f32 = (n: number) => t(new Float32Array(n), 0, [n]);
  const i32 = (n: number) => t(new Int32Array(n), 3, [n]);
  const fwd = (over: Partial<Record<number, unknown>>) => {
    const a: unknown[] = [logits(), labels(), null, f32(2), i32(2), f32(6), null, -100, true, false, false];
    for (const [k, v] of Object.entries(over)) a[Number(k)] = v;
    return a;
  };
  const codeOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      return e instanceof MmprefError ? e.code : `non-mmpref ${String(e)}`;
    }
    return 'no error';
  };
  const cases: [string, unknown[], string][] = [
    ['valid call', fwd({}), 'no error'],
    ['no arguments', [], 'ERR_ARGUMENT'],
    ['labels as float', fwd({ 1: t(new Float32Array(6), 0, [2, 3]) }), 'ERR_DTYPE'],
    ['labels of another shape', fwd({ 1: t(new Int32Array(4), 3, [2, 2]) }), 'ERR_SHAPE'],
    ['logits 2-D without cuSeqlens', fwd({ 0: t(new Float32Array(30), 0, [6, 5]) }), 'ERR_SHAPE'],
    ['logps too short', fwd({ 3: f32(1) }), 'ERR_SHAPE'],
    ['counts as float', fwd({ 4: f32(2) }), 'ERR_DTYPE'],
    ['perToken too short', fwd({ 5: f32(5) }), 'ERR_SHAPE'],
    ['lse too long', fwd({ 6: f32(7) }), 'ERR_SHAPE'],
    ['fractional ignoreIndex', fwd({ 7: 0.5 }), 'ERR_RANGE'],
    ['huge ignoreIndex', fwd({ 7: 2 ** 60 }), 'ERR_RANGE'],
    ['shift not a boolean', fwd({ 8: 1 }), 'ERR_ARGUMENT'],
    ['label out of range', fwd({ 1: t(Int32Array.from([0, 9, 0, 0, 0, 0]), 3, [2, 3]) }), 'ERR_RANGE'],
    ['cuSeqlens with padded logits', fwd({ 2: i32(3) }), 'ERR_SHAPE'],
    ['cuSeqlens running past the rows', fwd({ 0: t(new Float32Array(30), 0, [6, 5]), 1: i32(6), 2: t(Int32Array.from([0, 9]), 3, [2]), 3: f32(1), 4: i32(1) }), 'ERR_RANGE'],
    ['cuSeqlens decreasing', fwd({ 0: t(new Float32Array(30), 0, [6, 5]), 1: i32(6), 2: t(Int32Array.from([0, 5, 2, 6]), 3, [4]), 3: f32(3), 4: i32(3) }), 'ERR_RANGE'],
    ['storage too small', fwd({ 0: t(new Float32Array(29), 0, [2, 3, 5]) }), 'ERR_SHAPE'],
    ['disposed', fwd({ 0: { ...logits(), _store: undefined } }), 'ERR_DETACHED'],
  ];
  for (const [name, args, code] of cases)
    it(`sequenceLogps: ${name} -> ${code}`, () => expect(codeOf(() => raw.sequenceLogps!(...args))).toBe(code));

  const bwd = (over: Partial<Record<number, unknown>>) => {
    const a: unknown[] = [logits(), labels(), null, f32(2), null, logits(), -100, true, false, false];
    for (const [k, v] of Object.entries(over)) a[Number(k)] = v;
    return a;
  };
  const bcases: [string, unknown[], string][] = [
    ['valid call', bwd({}), 'no error'],
    ['gradLogps too short', bwd({ 3: f32(1) }), 'ERR_SHAPE'],
    ['lse of the wrong size', bwd({ 4: f32(5) }), 'ERR_SHAPE'],
    ['out of another dtype', bwd({ 5: t(new Uint16Array(30), 2, [2, 3, 5]) }), 'ERR_DTYPE'],
    ['out of another size', bwd({ 5: t(new Float32Array(10), 0, [2, 5]) }), 'ERR_SHAPE'],
    ['missing async flag', bwd({ 9: undefined }), 'ERR_ARGUMENT'],
    ['label out of range', bwd({ 1: t(Int32Array.from([0, -7, 0, 0, 0, 0]), 3, [2, 3]) }), 'ERR_RANGE'],
  ];
  for (const [name, args, code] of bcases)
    it(`logpsBackward: ${name} -> ${code}`, () => expect(codeOf(() => raw.logpsBackward!(...args))).toBe(code));
});

/** keeps the Tensor type import used in helpers above */
export type _T = Tensor;
