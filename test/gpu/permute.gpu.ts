import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ops, tensor } from '../../lib';
import { skip } from './gpu';

describe('permute CUDA vs CPU', { skip }, () => {
  for (const [shape, perm] of [[[2, 33, 8, 64], [0, 2, 1, 3]], [[3, 5, 7], [2, 0, 1]], [[1, 9, 1, 4], [3, 2, 1, 0]]] as [number[], number[]][])
    for (const dtype of ['float32', 'bfloat16', 'int64'] as const)
      it(`${dtype} [${shape}] by [${perm}]`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = tensor(Float32Array.from({ length: n }, (_, i) => i % 1000), shape, { dtype });
        assert.deepEqual(ops.permute(x.to('cuda'), perm).toArray(), ops.permute(x, perm).toArray());
      });
});
