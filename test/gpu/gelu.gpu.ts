import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ops, tensor, type FloatDType } from '../../lib';
import { randomArray, rng } from '../helpers';
import { scaled, skip } from './gpu';

// gelu / geluBackward CUDA vs CPU: the same float32 math (ops/gelu.h, explicit fmaf, exp_approx),
// so the bits must be identical, edge values included.
const EDGES = [0, -0, Infinity, -Infinity, NaN, 1.3037, -1.3038, -8.49, -9, 30, -30, 100, -100, 1e-30];

describe('gelu CUDA vs CPU', { skip }, () => {
  for (const approximate of ['none', 'tanh'] as const)
    for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
      it(`gelu and geluBackward ${approximate} ${dtype}: identical bits`, () => {
        const n = scaled(40000) + 17;
        const v = randomArray(n, rng(41), 4);
        v.set(EDGES);
        const x = tensor(Float32Array.from(v), [n], { dtype });
        const dy = tensor(Float32Array.from(randomArray(n, rng(42))), [n], { dtype });
        assert.deepEqual(ops.gelu(x.to('cuda'), { approximate }).toArray(), ops.gelu(x, { approximate }).toArray());
        assert.deepEqual(ops.geluBackward(dy.to('cuda'), x.to('cuda'), { approximate }).toArray(), ops.geluBackward(dy, x, { approximate }).toArray());
        // in place on the GPU
        const g = x.to('cuda');
        ops.gelu(g, { approximate, out: g });
        assert.deepEqual(g.toArray(), ops.gelu(x, { approximate }).toArray());
      });
});
