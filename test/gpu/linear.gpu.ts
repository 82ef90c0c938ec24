import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, ops, tensor, type FloatDType } from '../../lib';
import { decodeToFloat32 } from '../../lib/dtype';
import { linearRef } from '../reference/linear';
import { expectError, randomArray, rng } from '../helpers';
import { skip } from './gpu';

const OUT_TOL: Record<FloatDType, number> = { float32: 0, float16: 2 ** -10, bfloat16: 2 ** -7 };

describe('ops.linear CUDA vs CPU', { skip }, () => {
  // M <= 8 runs the warp-per-output kernel, larger M the tiled one; K % 8 == 0 takes vector loads;
  // K % 4 == 0 with K % 16 != 0 (100, 36, 4) ends in a partial K slice of the tiled kernel's vector path
  const shapes: [number, number, number][] = [[1, 1, 1], [1, 4096, 4096], [3, 130, 1030], [8, 64, 16], [9, 67, 49], [64, 1024, 512], [100, 33, 768], [257, 300, 100], [40, 20, 36], [12, 5, 4]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [m, n, k] of shapes)
      it(`${dtype} [${m}, ${k}] x [${n}, ${k}]^T + b`, () => {
        const x = tensor(Float32Array.from(randomArray(m * k, rng(m + k))), [m, k], { dtype });
        const w = tensor(Float32Array.from(randomArray(n * k, rng(n + k), 0.5)), [n, k], { dtype });
        const b = tensor(Float32Array.from(randomArray(n, rng(n))), [n], { dtype });
        const cpu = decodeToFloat32(dtype, ops.linear(x, w, { bias: b }).data as Float32Array);
        const gpu = ops.linear(x.to('cuda'), w.to('cuda'), { bias: b.to('cuda') }).toFloat32Array();
        const ref = linearRef(decodeToFloat32(dtype, x.data as Float32Array), decodeToFloat32(dtype, w.data as Float32Array), decodeToFloat32(dtype, b.data as Float32Array), m, n, k);
        for (let i = 0; i < gpu.length; i++) {
          const tol = 4e-6 * ref.scale[i]! + 2 * OUT_TOL[dtype] * Math.abs(cpu[i]!) + 1e-30;
          assert.ok(Math.abs(gpu[i]! - cpu[i]!) <= tol, `[${i}] gpu ${gpu[i]} cpu ${cpu[i]} (tol ${tol})`);
        }
      });

  it('unaligned inputs take the scalar path; async equals sync; device mismatch is a typed error', async () => {
    const x = tensor(Float32Array.from(randomArray(20 * 37, rng(1))), [20, 37]).to('cuda');
    const w = tensor(Float32Array.from(randomArray(11 * 37, rng(2))), [11, 37]).to('cuda');
    const a = ops.linear(x, w).to('cpu').data;
    const b = (await ops.linearAsync(x, w)).to('cpu').data;
    assert.deepEqual(Array.from(b), Array.from(a));
    expectError(() => ops.linear(x, tensor(new Float32Array(11 * 37), [11, 37])), 'ERR_DEVICE', /same device/);
    expectError(() => ops.linear(x, w, { out: empty([20, 11]) }), 'ERR_DEVICE', /same device/);
  });
});
