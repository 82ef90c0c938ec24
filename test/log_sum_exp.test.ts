import { describe, expect, it } from 'vitest';
import { empty, numThreads, ops, setNumThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32, encodeInto } from '../lib/dtype';
import { logSumExpRef } from './reference/log_sum_exp';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 2e-6 },
  float16: { rtol: 2e-6, atol: 2e-6 }, // inputs are rounded first; the reference sees the same rounded values
  bfloat16: { rtol: 2e-6, atol: 2e-6 },
};

/** Makes a tensor of `dtype` and the float64 values it actually holds (after rounding). */
function make(values: ArrayLike<number>, shape: number[], dtype: FloatDType) {
  const t = tensor(Float32Array.from(values), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data)) };
}

describe('ops.logSumExp', () => {
  const shapes: [number, number][] = [
    [1, 1],
    [3, 47],
    [5, 2048],
    [2, 2049],
    [7, 31],
    [4, 40000], // more than one 16384-column block per row
    [2, 16384 * 2 + 5],
  ];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const [rows, cols] of shapes)
      it(`matches the float64 reference: ${dtype} [${rows}, ${cols}]`, () => {
        const r = rng(rows * 1000 + cols);
        const { t, held } = make(randomArray(rows * cols, r, dtype === 'float16' ? 3 : 10), [rows, cols], dtype);
        const y = ops.logSumExp(t);
        expect(y.dtype).toBe('float32');
        expect(y.shape).toEqual([rows]);
        assertClose(y.data, logSumExpRef(held, rows, cols), { ...TOL[dtype], name: `${dtype} [${rows}, ${cols}]` });
      });

  it('keeps leading dimensions and reduces the last', () => {
    const { t, held } = make(randomArray(2 * 3 * 5, rng(1)), [2, 3, 5], 'float32');
    const y = ops.logSumExp(t);
    expect(y.shape).toEqual([2, 3]);
    assertClose(y.data, logSumExpRef(held, 6, 5));
    expect(ops.logSumExp(tensor([1, 2, 3])).shape).toEqual([]);
  });

  it('handles -Infinity, +Infinity, NaN and huge magnitudes', () => {
    const rows = [
      [-Infinity, -Infinity, -Infinity],
      [-Infinity, 0, -Infinity],
      [1e30, -1e30, 1e30],
      [-1e30, -1e30, -1e30],
      [3.4e38, 3.4e38, 0],
      [Infinity, 1, 2],
      [NaN, 1, 2],
      [Infinity, NaN, -Infinity],
      [-Infinity, NaN, -Infinity],
      [100, 100, 100],
    ];
    const flat = rows.flat();
    const { t, held } = make(flat, [rows.length, 3], 'float32');
    const y = ops.logSumExp(t).data;
    assertClose(y, logSumExpRef(held, rows.length, 3), { rtol: 1e-6 });
    expect(y[0]).toBe(-Infinity);
    expect(y[1]).toBe(0);
    // huge magnitudes: the float32 result is the correctly rounded lse, exactly (ln 2 and ln 3 are
    // far below half an ulp of 1e30 or 3.4e38, so a kernel that loses the max or overflows fails)
    const f = Math.fround;
    expect(y[2]).toBe(f(f(1e30) + Math.log(2)));
    expect(y[3]).toBe(f(f(-1e30) + Math.log(3)));
    expect(y[4]).toBe(f(f(3.4e38) + Math.log(2)));
    expect(y[5]).toBe(Infinity);
    expect(Number.isNaN(y[6])).toBe(true);
    expect(Number.isNaN(y[7])).toBe(true);
    expect(Number.isNaN(y[8])).toBe(true);
  });

  it('handles special values in long rows (chunked path) for every dtype', () => {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const cols = 5000;
      const v = randomArray(4 * cols, rng(7), 2);
      for (let j = 0; j < cols; j++) v[j] = -Infinity; // row 0: all -inf
      v[cols + 4321] = NaN; // row 1: NaN in the third chunk
      v[2 * cols + 10] = Infinity; // row 2: +inf in the first chunk
      v[2 * cols + 4999] = NaN; // ... and NaN later: NaN wins
      v[3 * cols + 2047] = Infinity; // row 3: +inf only
      const { t, held } = make(v, [4, cols], dtype);
      const y = ops.logSumExp(t).data;
      expect(y[0]).toBe(-Infinity);
      expect(Number.isNaN(y[1])).toBe(true);
      expect(Number.isNaN(y[2])).toBe(true);
      expect(y[3]).toBe(Infinity);
      assertClose(y, logSumExpRef(held, 4, cols));
    }
  });

  it('gives -Infinity for an empty last dimension', () => {
    const y = ops.logSumExp(empty([3, 0]));
    expect(Array.from(y.data)).toEqual([-Infinity, -Infinity, -Infinity]);
  });

  it('writes into a given out tensor and checks it', () => {
    const x = tensor(Float32Array.from(randomArray(12, rng(3))), [3, 4]);
    const out = zeros([3]);
    expect(ops.logSumExp(x, { out })).toBe(out);
    assertClose(out.data, logSumExpRef(x.data, 3, 4));
    expectError(() => ops.logSumExp(x, { out: zeros([4]) }), 'ERR_SHAPE', /expected out of shape \[3\]/);
    expectError(() => ops.logSumExp(x, { out: zeros([3], 'float16') as never }), 'ERR_DTYPE', /out/);
  });

  it('does not modify its input', () => {
    const x = tensor(Float32Array.from(randomArray(4096, rng(4))), [4, 1024]);
    const before = x.data.slice();
    ops.logSumExp(x);
    assertBitEqual(x.data, before);
  });

  it('async gives bit-identical results', async () => {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const { t } = make(randomArray(64 * 3000, rng(5), 4), [64, 3000], dtype);
      const a = ops.logSumExp(t);
      const b = await ops.logSumExpAsync(t);
      assertBitEqual(a.data, b.data, dtype);
    }
  });

  it('is bit-identical for any thread count', () => {
    const before = numThreads();
    try {
      const cases = [make(randomArray(300 * 777, rng(6), 5), [300, 777], 'float32'), make(randomArray(3 * 50000, rng(8), 5), [3, 50000], 'bfloat16')];
      for (const { t } of cases) {
        setNumThreads(1);
        const ref = ops.logSumExp(t).data;
        for (const n of [2, 3, 7, 16]) {
          setNumThreads(n);
          assertBitEqual(ops.logSumExp(t).data, ref, `${n} threads`);
        }
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('rejects bad input with typed errors', async () => {
    expectError(() => ops.logSumExp(tensor([1, 2], undefined, { dtype: 'int32' })), 'ERR_DTYPE', /expected x of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => ops.logSumExp(tensor([1], [])), 'ERR_SHAPE', /at least 1 dimension/);
    expectError(() => ops.logSumExp(new Float32Array(3) as never), 'ERR_ARGUMENT', /expected a Tensor for x/);
    expectError(() => ops.logSumExp(tensor([1, 2]), { bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    const x = tensor([1, 2, 3]);
    x.dispose();
    expectError(() => ops.logSumExp(x), 'ERR_DETACHED', /disposed/);
    await expectRejection(ops.logSumExpAsync(tensor([1], undefined, { dtype: 'uint8' })), 'ERR_DTYPE');
  });

  it('accepts onnxruntime-style tensors without copying', () => {
    const data = new Float32Array([0, 0, 0, 0]);
    const y = ops.logSumExp({ type: 'float32', data, dims: [2, 2] });
    assertClose(y.data, [Math.log(2), Math.log(2)]);
    const h = new Uint16Array(2);
    encodeInto('float16', h, [1, 1]);
    assertClose(ops.logSumExp({ type: 'float16', data: h, dims: [1, 2] }).data, [1 + Math.log(2)]);
  });
});
