import { describe, expect, it } from 'vitest';
import { empty, numThreads, setNumThreads, similarity, tensor, zeros, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { meanPoolNormalizeRef } from './reference/mean_pool_normalize';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from './helpers';

function make(shape: [number, number, number], dtype: FloatDType, seed: number) {
  const n = shape[0] * shape[1] * shape[2];
  const t = tensor(Float32Array.from(randomArray(n, rng(seed))), shape, { dtype });
  return { t, held: Float64Array.from(decodeToFloat32(dtype, t.data as Float32Array)) };
}

function randomMask(m: number, t: number, seed: number): number[] {
  const r = rng(seed);
  const mask = Array.from({ length: m * t }, () => (r() < 0.7 ? 1 : 0));
  mask.fill(0, 0, t); // row 0: no token at all
  return mask;
}

describe('similarity.meanPoolNormalize', () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
    for (const shape of [[1, 1, 1], [3, 7, 33], [9, 40, 768]] as [number, number, number][])
      it(`matches the float64 reference: ${dtype} [${shape.join(', ')}], every mask dtype`, () => {
        const [m, t, e] = shape;
        const x = make(shape, dtype, m + t + e);
        const mask = randomMask(m, t, e);
        assertClose(similarity.meanPoolNormalize(x.t).data, meanPoolNormalizeRef(x.held, null, m, t, e), { atol: 2e-6, rtol: 2e-6, name: 'no mask' });
        const ref = meanPoolNormalizeRef(x.held, mask, m, t, e);
        for (const md of ['bool', 'uint8', 'int32', 'int64'] as const) {
          const mt = tensor(md === 'int64' ? mask.map(BigInt) : mask, [m, t], { dtype: md });
          const y = similarity.meanPoolNormalize(x.t, { mask: mt });
          expect(y.shape).toEqual([m, e]);
          assertClose(y.data, ref, { atol: 2e-6, rtol: 2e-6, name: `mask ${md}` });
        }
        const plain = similarity.meanPoolNormalize(x.t, { mask: tensor(mask, [m, t], { dtype: 'bool' }), normalize: false });
        assertClose(plain.data, meanPoolNormalizeRef(x.held, mask, m, t, e, false), { atol: 2e-6, rtol: 2e-6, name: 'mean only' });
      });

  it('a row with no token gives zeros; normalised rows have unit norm; a zero mean stays zero', () => {
    const x = tensor([[[1, 2], [3, 4]], [[0, 0], [0, 0]], [[3, 4], [100, 100]]]);
    const mask = tensor([[0, 0], [1, 1], [1, 0]], [3, 2], { dtype: 'bool' });
    expect(Array.from(similarity.meanPoolNormalize(x, { mask }).data)).toEqual([0, 0, 0, 0, 0.6000000238418579, 0.800000011920929]);
  });

  it('writes into out; async and any thread count give the same bits; inputs are unchanged', async () => {
    const x = make([13, 20, 100], 'bfloat16', 1);
    const mask = tensor(randomMask(13, 20, 2), [13, 20], { dtype: 'int32' });
    const before = x.t.data.slice();
    const out = empty([13, 100]);
    expect(similarity.meanPoolNormalize(x.t, { mask, out })).toBe(out);
    assertBitEqual(x.t.data, before);
    assertBitEqual((await similarity.meanPoolNormalizeAsync(x.t, { mask })).data, out.data);
    const keep = numThreads();
    try {
      for (const n of [1, 2, 3, 7]) {
        setNumThreads(n);
        assertBitEqual(similarity.meanPoolNormalize(x.t, { mask }).data, out.data, `${n} threads`);
      }
    } finally {
      setNumThreads(keep);
    }
  });

  it('rejects bad input with typed errors', async () => {
    const x = zeros([2, 3, 4]);
    expectError(() => similarity.meanPoolNormalize(zeros([2, 3])), 'ERR_SHAPE', /expected tokens with 3 dimensions but received \[2, 3\]/);
    expectError(() => similarity.meanPoolNormalize(tensor([1], [1, 1, 1], { dtype: 'int32' })), 'ERR_DTYPE', /tokens of dtype float32/);
    expectError(() => similarity.meanPoolNormalize(x, { mask: zeros([2, 4], 'bool') }), 'ERR_SHAPE', /expected mask of shape \[2, 3\] \(from tokens \[2, 3, 4\]\)/);
    expectError(() => similarity.meanPoolNormalize(x, { mask: zeros([2, 3]) }), 'ERR_DTYPE', /expected mask of dtype bool or uint8 or int32 or int64 but received float32/);
    expectError(() => similarity.meanPoolNormalize(x, { normalize: 'yes' as never }), 'ERR_ARGUMENT', /normalize/);
    expectError(() => similarity.meanPoolNormalize(x, { out: zeros([2, 3]) }), 'ERR_SHAPE', /expected out of shape \[2, 4\]/);
    expectError(() => similarity.meanPoolNormalize(x, { pooling: 'cls' } as never), 'ERR_ARGUMENT', /unknown option/);
    await expectRejection(similarity.meanPoolNormalizeAsync(zeros([2])), 'ERR_SHAPE');
    const { native } = await import('../lib/native');
    expectError(() => native.meanPoolNormalize(x, zeros([3, 3], 'bool'), true, zeros([2, 4]), false), 'ERR_SHAPE', /mask/);
    expectError(() => native.meanPoolNormalize(x, null, true, zeros([2, 3]), false), 'ERR_SHAPE', /out/);
    expectError(() => native.meanPoolNormalize(zeros([2, 3]), null, true, zeros([2, 3]), false), 'ERR_SHAPE', /expected tokens with 3 dimensions but received \[2, 3\]/);
  });
});
