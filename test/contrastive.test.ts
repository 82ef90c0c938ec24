import { describe, expect, it } from 'vitest';
import { empty, numThreads, sampling, setNumThreads, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { contrastiveRef } from './reference/contrastive';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

const FLT_MAX = 3.4028234663852886e38;

function make(n: number, shape: number[], dtype: FloatDType, seed: number, scale = 3) {
  const t = tensor(Float32Array.from(randomArray(n, rng(seed), scale)), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data as Float32Array)) };
}

/** Compares with the reference: masks exactly (-Infinity where the reference has it), values within float32 rounding. */
function check(out: Float32Array, ref: Float64Array, l: Float64Array, ld: Float64Array, alpha: number, name: string) {
  for (let i = 0; i < ref.length; i++) {
    const e = ref[i]!;
    const tol = 4e-7 * (Math.abs((1 + alpha) * l[i]!) + Math.abs(alpha * ld[i]!)) + 1e-30;
    const ok = Number.isNaN(e) ? Number.isNaN(out[i]!) : !Number.isFinite(e) || Math.abs(e) === FLT_MAX ? out[i] === e : Math.abs(out[i]! - e) <= tol;
    if (!ok) throw new Error(`${name}: [${i}] got ${out[i]} expected ${e} (l ${l[i]}, l' ${ld[i]})`);
  }
}

describe('sampling.contrastive', () => {
  const settings: [number, number][] = [[1, 0.1], [0.5, 0.2], [-1.5, 0.05], [0, 0.3], [2, 0], [1, 1], [1, 0.9999]];
  const shapes: number[][] = [[1, 1], [3, 47], [5, 32000], [2, 3, 33], [7, 1025]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const shape of shapes)
      it(`matches the reference: ${dtype} [${shape.join(', ')}] at every (alpha, beta)`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const cols = shape[shape.length - 1]!;
        const l = make(n, shape, dtype, n + 1);
        const ld = make(n, shape, dtype, n + 2);
        for (const [alpha, beta] of settings) {
          const out = sampling.contrastive(l.t, ld.t, { alpha, beta });
          expect(out.dtype).toBe('float32');
          expect(out.shape).toEqual(shape);
          // the cut is the float32 sum log(beta) + max, as in VCD's torch code
          const ref = contrastiveRef(l.held, ld.held, n / cols, cols, alpha, beta === 0 ? 0 : Math.exp(Math.fround(Math.log(beta))));
          check(out.data, ref, l.held, ld.held, alpha, `${dtype} alpha ${alpha} beta ${beta}`);
        }
      });

  it('default alpha = 1, beta = 0.1 (VCD paper)', () => {
    const l = make(4 * 50, [4, 50], 'float32', 1);
    const ld = make(4 * 50, [4, 50], 'float32', 2);
    assertBitEqual(sampling.contrastive(l.t, ld.t).data, sampling.contrastive(l.t, ld.t, { alpha: 1, beta: 0.1 }).data);
  });

  it('edge cases of METHODS.md section 2', () => {
    const I = Infinity;
    const l = tensor([
      [0, -1, -3, -I], // beta = 1: ties only; beta 0: all
      [2, 2, 1, 0],
      [-I, -I, -I, -I], // all -inf stays -inf, no NaN
      [1, 0, 5, -I],
    ]);
    const ld = tensor([
      [1, I, -I, 0],
      [0, 1, 2, 3],
      [0, 0, 0, 0],
      [-I, 2, I, 5],
    ]);
    // beta = 0: nothing masked, alpha = 0: l exactly (even with infinite l')
    expect(Array.from(sampling.contrastive(l, ld, { alpha: 0, beta: 0 }).data)).toEqual([0, -1, -3, -I, 2, 2, 1, 0, -I, -I, -I, -I, 1, 0, 5, -I]);
    // beta = 1: only ties with the row max survive
    const b1 = sampling.contrastive(l, ld, { alpha: 1, beta: 1 }).data;
    expect(Array.from(b1)).toEqual([-1, -I, -I, -I, 4, 3, -I, -I, -I, -I, -I, -I, -I, -I, 5 * 2 - FLT_MAX, -I]);
    // -inf in l' at a kept position with alpha > 0 gives +inf, clamped to FLT_MAX; with alpha < 0, -inf
    const pos = sampling.contrastive(l, ld, { alpha: 1, beta: 0 }).data;
    expect(pos[12]).toBe(FLT_MAX); // 2 * 1 - (-inf)
    expect(pos[14]).toBe(10 - FLT_MAX); // +inf in l' is clamped first
    expect(pos[1]).toBe(-2 - FLT_MAX); // rounds to -FLT_MAX, finite
    expect(pos[2]).toBe(FLT_MAX); // 2 * -3 + inf
    const neg = sampling.contrastive(l, ld, { alpha: -2, beta: 0 }).data;
    expect(neg[12]).toBe(-I); // (-1) * 1 - (-2) * (-inf)
    expect(neg[3]).toBe(-I); // -inf in l stays -inf even though (1 + alpha) < 0
    expect(neg[0]).toBe(-1 * 0 + 2 * 1);
    // +inf in l: clamped to FLT_MAX, so it is the max and the cut does not produce NaN
    const inf = sampling.contrastive(tensor([[I, 0, 3]]), tensor([[0, 0, 0]]), { alpha: 0.5, beta: 0.5 }).data;
    expect(inf[0]).toBe(FLT_MAX); // 1.5 * FLT_MAX overflows: clamped
    expect(Array.from(inf.subarray(1))).toEqual([-I, -I]);
    // NaN in l gives NaN there and does not poison the max
    const nan = sampling.contrastive(tensor([[NaN, 1, 0.5]]), tensor([[0, 0, 0]]), { alpha: 1, beta: 0.5 }).data;
    expect(Number.isNaN(nan[0])).toBe(true);
    expect(Array.from(nan.subarray(1))).toEqual([2, 1]);
  });

  it('rowActive = false copies the row through unchanged', () => {
    const l = make(3 * 2 * 40, [3, 2, 40], 'bfloat16', 3);
    const ld = make(3 * 2 * 40, [3, 2, 40], 'bfloat16', 4);
    const act = tensor([1, 0, 0, 1, 1, 0], [3, 2], { dtype: 'bool' });
    const out = sampling.contrastive(l.t, ld.t, { alpha: 1.5, beta: 0.2, rowActive: act }).data;
    const ref = contrastiveRef(l.held, ld.held, 6, 40, 1.5, Math.exp(Math.fround(Math.log(0.2))), [1, 0, 0, 1, 1, 0]);
    check(out, ref, l.held, ld.held, 1.5, 'rowActive');
    assertBitEqual(out.subarray(40, 120), Float32Array.from(l.held.subarray(40, 120)));
  });

  it('writes into out, does not modify its inputs, async and any thread count give the same bits', async () => {
    const l = make(37 * 3001, [37, 3001], 'float16', 5);
    const ld = make(37 * 3001, [37, 3001], 'float16', 6);
    const before = [l.t.data.slice(), ld.t.data.slice()];
    const out = empty([37, 3001]);
    expect(sampling.contrastive(l.t, ld.t, { out, alpha: 0.7 })).toBe(out);
    assertBitEqual(l.t.data, before[0]!);
    assertBitEqual(ld.t.data, before[1]!);
    assertBitEqual((await sampling.contrastiveAsync(l.t, ld.t, { alpha: 0.7 })).data, out.data);
    const keep = numThreads();
    try {
      for (const n of [1, 2, 3, 7]) {
        setNumThreads(n);
        assertBitEqual(sampling.contrastive(l.t, ld.t, { alpha: 0.7 }).data, out.data, `${n} threads`);
      }
    } finally {
      setNumThreads(keep);
    }
  });

  it('accepts an empty last dimension and zero rows', () => {
    expect(sampling.contrastive(empty([3, 0]), empty([3, 0])).shape).toEqual([3, 0]);
    expect(sampling.contrastive(empty([0, 5]), empty([0, 5])).shape).toEqual([0, 5]);
    assertClose(sampling.contrastive(tensor([1, 2]), tensor([0, 0]), { beta: 0 }).data, [2, 4]);
  });

  it('rejects bad input with typed errors', async () => {
    const l = zeros([2, 3]);
    expectError(() => sampling.contrastive(tensor([1], [1, 1], { dtype: 'int32' }), l), 'ERR_DTYPE', /expected logits of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => sampling.contrastive(l, zeros([2, 3], 'float16')), 'ERR_DTYPE', /expected distortedLogits of dtype float32 but received float16/);
    expectError(() => sampling.contrastive(l, zeros([2, 4])), 'ERR_SHAPE', /expected distortedLogits of shape \[2, 3\] \(from logits \[2, 3\]\) but received \[2, 4\]/);
    expectError(() => sampling.contrastive(tensor([1], []), tensor([1], [])), 'ERR_SHAPE', /at least 1 dimension/);
    expectError(() => sampling.contrastive(l, l, { rowActive: tensor([1, 0, 1], [3], { dtype: 'bool' }) }), 'ERR_SHAPE', /expected rowActive of shape \[2\]/);
    expectError(() => sampling.contrastive(l, l, { rowActive: tensor([1, 0], [2], { dtype: 'uint8' }) as never }), 'ERR_DTYPE', /rowActive of dtype bool/);
    expectError(() => sampling.contrastive(l, l, { beta: 1.5 }), 'ERR_RANGE', /expected beta a finite number >= 0 <= 1 but received 1.5/);
    expectError(() => sampling.contrastive(l, l, { beta: -0.1 }), 'ERR_RANGE', /beta/);
    expectError(() => sampling.contrastive(l, l, { alpha: Infinity }), 'ERR_RANGE', /alpha/);
    expectError(() => sampling.contrastive(l, l, { alpha: 1e39 }), 'ERR_RANGE', /expected alpha a finite number >= -3.4028234663852886e\+38 <= 3.4028234663852886e\+38 but received 1e\+39/);
    expectError(() => sampling.contrastive(l, l, { alpha: NaN }), 'ERR_ARGUMENT', /alpha/);
    expectError(() => sampling.contrastive(l, l, { gamma: 1 } as never), 'ERR_ARGUMENT', /unknown option 'gamma'/);
    expectError(() => sampling.contrastive(l, l, { out: zeros([3, 2]) }), 'ERR_SHAPE', /out/);
    const d = zeros([2, 3]);
    d.dispose();
    expectError(() => sampling.contrastive(l, d), 'ERR_DETACHED', /disposed/);
    await expectRejection(sampling.contrastiveAsync(l, zeros([1, 3])), 'ERR_SHAPE');
    const { native } = await import('../lib/native');
    expectError(() => native.contrastive(l, zeros([2, 4]), null, 1, 0.1, zeros([2, 3]), false), 'ERR_SHAPE', /expected distortedLogits of shape \[2, 3\] \(from logits \[2, 3\]\) but received \[2, 4\]/);
    expectError(() => native.contrastive(l, l, zeros([5], 'bool'), 1, 0.1, zeros([2, 3]), false), 'ERR_SHAPE', /rowActive/);
    expectError(() => native.contrastive(l, l, null, 1, 2, zeros([2, 3]), false), 'ERR_RANGE', /beta/);
    expectError(() => native.contrastive(l, l, null, NaN, 0.1, zeros([2, 3]), false), 'ERR_ARGUMENT', /expected a number for alpha but received number NaN/);
    expectError(() => native.contrastive(l, l, null, 1, 0.1, zeros([2, 3], 'float16'), false), 'ERR_DTYPE', /out/);
  });
});
