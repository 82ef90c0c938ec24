import { describe, expect, it } from 'vitest';
import { empty, ops, tensor, zeros, type DType } from '../lib';
import { permuteRef } from './reference/permute';
import { expectError, rng } from './helpers';

describe('ops.permute', () => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4, 5], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [3, 2, 1, 0]],
    [[7, 1, 9], [2, 0, 1]],
    [[1, 1, 1], [2, 1, 0]],
    [[4, 6], [1, 0]],
    [[3, 2, 2, 1, 5], [4, 0, 3, 2, 1]],
    [[2, 0, 3], [2, 1, 0]],
  ];
  for (const dtype of ['float32', 'bfloat16', 'int64', 'uint8'] as DType[])
    for (const [shape, perm] of cases)
      it(`${dtype} [${shape}] by [${perm}]`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const r = rng(n);
        const x = empty(shape, dtype);
        const d = x.data as unknown as { [i: number]: number | bigint; length: number };
        for (let i = 0; i < n; i++) d[i] = dtype === 'int64' ? BigInt(Math.floor(r() * 1e9)) : Math.floor(r() * 250);
        const y = ops.permute(x, perm);
        expect(y.shape).toEqual(perm.map((p) => shape[p]));
        expect(Array.from(y.data as ArrayLike<number>)).toEqual(permuteRef(x.data as ArrayLike<number>, shape, perm));
      });

  it('async equals sync and out is honoured', async () => {
    const x = tensor(Float32Array.from({ length: 120 }, (_, i) => i), [2, 3, 4, 5]);
    const out = zeros([2, 4, 3, 5]);
    expect(ops.permute(x, [0, 2, 1, 3], { out })).toBe(out);
    expect(Array.from((await ops.permuteAsync(x, [0, 2, 1, 3])).data)).toEqual(Array.from(out.data));
  });

  it('rejects bad permutations and outputs', () => {
    const x = zeros([2, 3]);
    expectError(() => ops.permute(x, [0, 0]), 'ERR_RANGE', /permutation of 0..1/);
    expectError(() => ops.permute(x, [1]), 'ERR_RANGE');
    expectError(() => ops.permute(x, [1, 0], { out: zeros([2, 3]) }), 'ERR_SHAPE', /expected out of shape \[3, 2\]/);
  });
});
