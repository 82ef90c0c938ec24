import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, noise, tensor, type FloatDType } from '../../lib';
import { assertClose, expectError, expectRejection, randomArray, rng } from '../helpers';
import { skip } from './gpu';
import { maxUlp } from './noise_util';

describe('noise.diffuse CUDA vs CPU', { skip }, () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const shape of [[3, 5, 7], [4, 4, 64, 64], [2, 1031], [16, 3, 33, 35]])
      it(`${dtype} [${shape.join(', ')}]`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = tensor(Float32Array.from(randomArray(n, rng(n), 2)), shape, { dtype });
        const B = shape[0]!;
        const ts = Array.from({ length: B }, (_, b) => (b === 1 ? -1 : (b * 397) % 1000));
        const cpu = noise.diffuse(x, { t: ts, schedule: 'scaled-linear', seed: 4, offset: 1, returnNoise: true });
        const gpu = noise.diffuse(x.to('cuda'), { t: tensor(ts, [B], { dtype: 'int32' }).to('cuda'), schedule: 'scaled-linear', seed: 4, offset: 1, returnNoise: true });
        assert.ok(maxUlp(gpu.eps!.to('cpu').data, cpu.eps!.data) <= 2, 'eps within 2 ulp');
        const tol = dtype === 'float32' ? { rtol: 2e-6, atol: 2e-6 } : { rtol: dtype === 'float16' ? 2 ** -10 : 2 ** -7, atol: 6e-8 };
        assertClose(gpu.xt.to('cpu').toFloat32Array(), cpu.xt.toFloat32Array(), { ...tol, name: dtype });
      });

  it('uint8 images [B, C, H, W] and [B, H, W, C], every normalisation', () => {
    for (const [shape, layout] of [[[4, 3, 37, 41], 'nchw'], [[4, 37, 41, 3], 'nhwc']] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const r = rng(n);
      const img = tensor(Uint8Array.from({ length: n }, () => Math.floor(r() * 256)), [...shape], { dtype: 'uint8' });
      for (const normalize of ['minus-one-one', 'zero-one', 'clip', { mean: [0.5], std: [0.25] }] as const)
        for (const dtype of ['float32', 'bfloat16'] as const) {
          const opts = { t: [0, -1, 500, 999], normalize, layout, dtype, seed: 7 };
          const cpu = noise.diffuse(img, opts).xt.toFloat32Array();
          const gpu = noise.diffuse(img.to('cuda'), opts).xt.to('cpu').toFloat32Array();
          assertClose(gpu, cpu, { rtol: dtype === 'float32' ? 2e-6 : 2 ** -7, atol: 2e-6, name: `${layout} ${JSON.stringify(normalize)} ${dtype}` });
        }
    }
  });

  it('bad t on the device is ERR_RANGE naming the first bad sample; async; device mismatch', async () => {
    const x = tensor(Float32Array.from(randomArray(3 * 100, rng(1))), [3, 100]).to('cuda');
    const bad = tensor([5, 1000, 2000], [3], { dtype: 'int32' }).to('cuda');
    expectError(() => noise.diffuse(x, { t: bad }), 'ERR_RANGE', /received 1000 for sample 1/);
    await expectRejection(noise.diffuseAsync(x, { t: bad }), 'ERR_RANGE', /sample 1/);
    // as on the CPU: every t is checked before anything is written (sample 0's t = 5 is valid)
    const out = tensor(new Float32Array(300).fill(7), [3, 100]).to('cuda');
    expectError(() => noise.diffuse(x, { t: bad, out }), 'ERR_RANGE', /sample 1/);
    assert.ok(out.to('cpu').toFloat32Array().every((v) => v === 7), 'out was written before the t check');
    const a = noise.diffuse(x, { t: 300, seed: 1 }).xt.to('cpu').data;
    const b = (await noise.diffuseAsync(x, { t: 300, seed: 1 })).xt.to('cpu').data;
    assert.deepEqual(Array.from(b), Array.from(a));
    expectError(() => noise.diffuse(x, { t: tensor([1, 2, 3], [3], { dtype: 'int32' }) }), 'ERR_DEVICE', /same device/);
    expectError(() => noise.diffuse(x, { t: 1, out: empty([3, 100]) }), 'ERR_DEVICE');
  });
});
