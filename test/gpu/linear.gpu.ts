import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, ops, tensor, type FloatDType } from '../../lib';
import { decodeToFloat32 } from '../../lib/dtype';
import { linearBackwardRef, linearRef } from '../reference/linear';
import { expectError, randomArray, rng } from '../helpers';
import { scaled, skip } from './gpu';

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

describe('ops.linearBackward CUDA vs CPU', { skip }, () => {
  // dx: NN GEMM (K = out), dW: TN GEMM (K = M), float16 / bfloat16 on tensor cores, float32 SIMT;
  // odd sizes leave partial tiles in every dimension; dBias is the same add chain on both sides
  const shapes: [number, number, number][] = [[1, 1, 1], [1, 7, 17], [13, 70, 37], [37, 130, 47], [scaled(260), 5, 35], [scaled(150), 33, 300]];
  const dec = (dtype: FloatDType, t: { data: unknown }) => decodeToFloat32(dtype, t.data as Float32Array);
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [m, n, k] of shapes)
      it(`${dtype} dy [${m}, ${n}], x [${m}, ${k}], weight [${n}, ${k}], accumulate`, () => {
        const dy = tensor(Float32Array.from(randomArray(m * n, rng(m + n))), [m, n], { dtype });
        const x = tensor(Float32Array.from(randomArray(m * k, rng(m + k))), [m, k], { dtype });
        const w = tensor(Float32Array.from(randomArray(n * k, rng(n + k), 0.5)), [n, k], { dtype });
        const dw0 = Float32Array.from(randomArray(n * k, rng(n)));
        const db0 = Float32Array.from(randomArray(n, rng(k)));
        const opts = { needBias: true, accumulate: true } as const;
        const cpu = ops.linearBackward(dy, x, w, { ...opts, dWeightOut: tensor(dw0.slice(), [n, k]), dBiasOut: tensor(db0.slice(), [n]) });
        const gpu = ops.linearBackward(dy.to('cuda'), x.to('cuda'), w.to('cuda'), {
          ...opts,
          dWeightOut: tensor(dw0.slice(), [n, k]).to('cuda'),
          dBiasOut: tensor(db0.slice(), [n]).to('cuda'),
        });
        const ref = linearBackwardRef(dec(dtype, dy), dec(dtype, x), dec(dtype, w), m, n, k, dw0, db0);
        // both sides are float32 sums of the same products in different orders: 4e-6 of the sum
        // of |terms| each, plus two roundings of a half dx
        const close = (g: Float32Array, c: Float32Array, scale: Float64Array, out: number, name: string) => {
          for (let i = 0; i < g.length; i++) {
            const tol = 4e-6 * scale[i]! + 2 * out * Math.abs(c[i]!) + 1e-30;
            assert.ok(Math.abs(g[i]! - c[i]!) <= tol, `${name}[${i}] gpu ${g[i]} cpu ${c[i]} (tol ${tol})`);
          }
        };
        close(gpu.dx!.toFloat32Array(), dec(dtype, cpu.dx!), ref.dxScale, OUT_TOL[dtype], 'dx');
        close(gpu.dWeight!.toFloat32Array(), cpu.dWeight!.data as Float32Array, ref.dwScale, 0, 'dWeight');
        assert.deepEqual(Array.from(gpu.dBias!.toFloat32Array()), Array.from(cpu.dBias!.data as Float32Array), 'dBias: the same bits');
      });

  it('async equals sync; outputs on another device are typed errors', async () => {
    const dy = tensor(Float32Array.from(randomArray(20 * 11, rng(3))), [20, 11]).to('cuda');
    const x = tensor(Float32Array.from(randomArray(20 * 37, rng(1))), [20, 37]).to('cuda');
    const w = tensor(Float32Array.from(randomArray(11 * 37, rng(2))), [11, 37]).to('cuda');
    const a = ops.linearBackward(dy, x, w, { needBias: true });
    const b = await ops.linearBackwardAsync(dy, x, w, { needBias: true });
    assert.deepEqual(Array.from(b.dx!.toFloat32Array()), Array.from(a.dx!.toFloat32Array()));
    assert.deepEqual(Array.from(b.dWeight!.toFloat32Array()), Array.from(a.dWeight!.toFloat32Array()));
    assert.deepEqual(Array.from(b.dBias!.toFloat32Array()), Array.from(a.dBias!.toFloat32Array()));
    expectError(() => ops.linearBackward(dy, x, w, { dWeightOut: empty([11, 37]) }), 'ERR_DEVICE', /same device/);
    expectError(() => ops.linearBackward(dy, x.to('cpu'), w), 'ERR_DEVICE', /same device/);
  });
});
