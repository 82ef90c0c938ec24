import { describe, expect, it } from 'vitest';
import {
  Tensor,
  bf16BitsToNumber,
  empty,
  fromOrt,
  full,
  halfBitsToNumber,
  numberToBf16Bits,
  numberToHalfBits,
  ops,
  tensor,
  zeros,
} from '../lib';
import { expectError } from './helpers';

describe('tensor facade', () => {
  it('wraps matching TypedArrays without copying', () => {
    const f = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(f, [2, 3]);
    expect(t.data).toBe(f);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    expect(t.numel).toBe(6);
    const bits = new Uint16Array(4);
    expect(tensor(bits, [4], { dtype: 'bfloat16' }).data).toBe(bits);
    expect(tensor(bits, [2, 2], { dtype: 'float16' }).data).toBe(bits);
    const i = new Int32Array(3);
    expect(tensor(i).data).toBe(i);
    const l = new BigInt64Array(2);
    expect(tensor(l).dtype).toBe('int64');
    const b = new Uint8Array(2);
    expect(tensor(b, [2], { dtype: 'bool' }).data).toBe(b);
    // a view with an offset stays a view
    const big = new Float32Array(10);
    const view = big.subarray(3, 7);
    const tv = tensor(view, [4]);
    tv.data[0] = 42;
    expect(big[3]).toBe(42);
  });

  it('converts other data (copying)', () => {
    expect(tensor([[1, 2], [3, 4]]).shape).toEqual([2, 2]);
    expect(Array.from(tensor([1.5, 2.5], undefined, { dtype: 'bfloat16' }).data)).toEqual([numberToBf16Bits(1.5), numberToBf16Bits(2.5)]);
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor([1n, 2n]).dtype).toBe('int64');
    expect(tensor(new Float64Array([1, 2])).dtype).toBe('float32');
    expect(tensor([3, 4], undefined, { dtype: 'int64' }).data[1]).toBe(4n);
    expect(tensor(new Float32Array([1, 2, 3]), [3], { dtype: 'float16' }).toArray()).toEqual([1, 2, 3]);
  });

  it('native code sees writes through a SharedArrayBuffer and vice versa', () => {
    const sab = new SharedArrayBuffer(4 * 4);
    const x = tensor(new Float32Array(sab), [2, 2]);
    expect(x.isShared).toBe(true);
    const out = tensor(new Float32Array(new SharedArrayBuffer(8)), [2]);
    ops.logSumExp(x, { out });
    expect(out.data[0]).toBeCloseTo(Math.log(2), 6);
    new Float32Array(sab)[0] = 5; // a write by "someone else" holding the same memory
    ops.logSumExp(x, { out });
    expect(out.data[0]).toBeCloseTo(5 + Math.log1p(Math.exp(-5)), 5);
    // native wrote into the shared output: visible through any other view of it
    expect(new Float32Array(out.data.buffer)[1]).toBeCloseTo(Math.log(2), 6);
    const s = empty([3], 'float32', { shared: true });
    expect(s.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(tensor(new Float32Array([1]), [1], { shared: true }).isShared).toBe(true);
  });

  it('float16 and bfloat16 conversions round to nearest even and decode exactly', () => {
    // every half bit pattern round-trips through number
    for (let h = 0; h < 65536; h++) {
      const v = halfBitsToNumber(h);
      if (Number.isNaN(v)) expect(numberToHalfBits(v) & 0x7c00).toBe(0x7c00);
      else expect(numberToHalfBits(v)).toBe(h);
      const b = bf16BitsToNumber(h);
      if (Number.isNaN(b)) expect(Number.isNaN(bf16BitsToNumber(numberToBf16Bits(b)))).toBe(true);
      else expect(numberToBf16Bits(b)).toBe(h);
    }
    // ties to even, overflow, underflow
    expect(numberToHalfBits(1 + 2 ** -11)).toBe(0x3c00); // halfway between 1 and next: even (1)
    expect(numberToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToHalfBits(65520)).toBe(0x7c00); // rounds up to inf
    expect(numberToHalfBits(65519)).toBe(0x7bff);
    expect(numberToHalfBits(2 ** -25)).toBe(0); // tie with 0: even
    expect(numberToHalfBits(2 ** -25 * 1.5)).toBe(1);
    expect(numberToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(numberToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(numberToHalfBits(-0)).toBe(0x8000);
  });

  it('reshape and clone', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const r = t.reshape([3, -1]);
    expect(r.shape).toEqual([3, 2]);
    expect(r.data).toBe(t.data);
    const c = t.clone();
    c.data[0] = 9;
    expect(t.data[0]).toBe(1);
    expectError(() => t.reshape([4, 2]), 'ERR_SHAPE', /6 elements/);
  });

  it('zeros, full, empty and onnxruntime-style objects', () => {
    expect(Array.from(zeros([2, 2], 'int32').data)).toEqual([0, 0, 0, 0]);
    expect(full([2], 1.5, 'bfloat16').toArray()).toEqual([1.5, 1.5]);
    expect(full([1], 7n, 'int64').data[0]).toBe(7n);
    const data = new Float32Array(6);
    const o = fromOrt({ type: 'float32', data, dims: [2, 3] });
    expect(o.data).toBe(data);
    expect(tensor({ type: 'int64', data: new BigInt64Array(2), dims: [2] }).dtype).toBe('int64');
    expectError(() => fromOrt({ type: 'string', data: [], dims: [0] }), 'ERR_DTYPE');
  });

  it('dispose releases the tensor and makes use an error', () => {
    const t = tensor([1, 2]);
    t.dispose();
    t.dispose(); // twice is fine
    expect(t.disposed).toBe(true);
    expectError(() => t.data, 'ERR_DETACHED', /disposed/);
  });

  it('rejects bad construction with typed errors', () => {
    expectError(() => tensor(new Float32Array(5), [2, 3]), 'ERR_SHAPE', /expected data of 6 elements for shape \[2, 3\] but received 5/);
    expectError(() => tensor([1, 2], [2], { dtype: 'float64' as never }), 'ERR_DTYPE', /float64/);
    expectError(() => tensor(new Uint16Array(2)), 'ERR_DTYPE', /explicit dtype/);
    expectError(() => tensor([[1, 2], [3]]), 'ERR_SHAPE', /rectangular/);
    expectError(() => tensor('abc' as never), 'ERR_ARGUMENT');
    expectError(() => empty([2, -3]), 'ERR_SHAPE');
    expectError(() => empty([2.5]), 'ERR_SHAPE');
    expectError(() => tensor([1], [1], { device: 'tpu' as never }), 'ERR_DEVICE', /expected device/);
    const ab = new ArrayBuffer(16);
    const view = new Float32Array(ab);
    structuredClone(ab, { transfer: [ab] });
    expectError(() => tensor(view), 'ERR_DETACHED', /detached/);
  });

  it('reports a detached buffer found by native code as ERR_DETACHED', () => {
    const ab = new ArrayBuffer(16);
    const t = tensor(new Float32Array(ab), [4]);
    structuredClone(ab, { transfer: [ab] }); // detaches behind the tensor's back
    expectError(() => ops.logSumExp(t), 'ERR_DETACHED', /detached/);
  });

  it('Tensor instances are what ops return', () => {
    expect(ops.logSumExp(tensor([[1, 2]]))).toBeInstanceOf(Tensor);
  });
});

describe('Tensor.copyFrom', () => {
  it('copies the values in place (any shape of the same size) and returns the tensor; src is unchanged', () => {
    for (const dtype of ['float32', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'] as const) {
      const src = dtype === 'int64' ? tensor([1n, -2n, 3n, 4n, 5n, 6n], [2, 3], { dtype }) : tensor([1, 0, 3, 1, 5, 0], [2, 3], { dtype });
      const before = Array.from(src.data as ArrayLike<number>);
      const dst = zeros([3, 2], dtype);
      expect(dst.copyFrom(src)).toBe(dst);
      expect(Array.from(dst.data as ArrayLike<number>)).toEqual(before);
      expect(Array.from(src.data as ArrayLike<number>)).toEqual(before);
      expect(dst.shape).toEqual([3, 2]);
    }
  });

  it('a source that overlaps the destination (views of one buffer) is copied as if through a buffer', () => {
    const buf = new Float32Array([0, 1, 2, 3, 4, 5]);
    const a = tensor(buf.subarray(0, 4), [4]);
    const b = tensor(buf.subarray(2, 6), [4]);
    b.copyFrom(a);
    expect(Array.from(buf)).toEqual([0, 1, 0, 1, 2, 3]);
  });

  it('bad input: dtype, size, a disposed tensor, not a tensor', () => {
    const dst = zeros([4], 'float32');
    expectError(() => dst.copyFrom(zeros([4], 'bfloat16') as never), 'ERR_DTYPE', /^Tensor\.copyFrom: expected src of dtype float32 but received bfloat16$/);
    expectError(() => dst.copyFrom(zeros([5], 'float32')), 'ERR_SHAPE', /expected src of 4 elements but received \[5\] \(5\)/);
    const gone = zeros([4], 'float32');
    gone.dispose();
    expectError(() => dst.copyFrom(gone), 'ERR_DETACHED');
    expectError(() => gone.copyFrom(dst), 'ERR_DETACHED');
    expectError(() => dst.copyFrom([1, 2, 3, 4] as never), 'ERR_ARGUMENT', /expected src to be a Tensor but received object/);
    expect(Array.from(dst.data)).toEqual([0, 0, 0, 0]);
  });
});
