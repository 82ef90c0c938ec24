import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, sampling, tensor, type FloatDType } from '../../lib';
import { assertClose, expectError, randomArray, rng } from '../helpers';
import { skip } from './gpu';

describe('sampling.contrastive CUDA vs CPU', { skip }, () => {
  const shapes: number[][] = [[1, 1], [3, 47], [64, 32000], [2, 3, 129], [5, 128256]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const shape of shapes)
      it(`${dtype} [${shape.join(', ')}]`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const l = tensor(Float32Array.from(randomArray(n, rng(n), 3)), shape, { dtype });
        const ld = tensor(Float32Array.from(randomArray(n, rng(n + 1), 3)), shape, { dtype });
        const gl = l.to('cuda');
        const gd = ld.to('cuda');
        for (const [alpha, beta] of [[1, 0.1], [-1.5, 0.2], [0, 0], [2, 1]]) {
          const cpu = sampling.contrastive(l, ld, { alpha, beta }).data;
          const gpu = sampling.contrastive(gl, gd, { alpha, beta }).to('cpu').data;
          assertClose(gpu, cpu, { rtol: 1e-6, atol: 1e-6, name: `alpha ${alpha} beta ${beta}` });
        }
        gl.dispose();
        gd.dispose();
      });

  it('edge values, unaligned rows and rowActive', () => {
    const I = Infinity;
    const l = tensor([[0, -1, I, -I, NaN], [2, 2, 1, 0, -3], [-I, -I, -I, -I, -I]]);
    const ld = tensor([[1, -I, 0, 0, 0], [I, 1, 2, 3, 4], [0, 0, 0, 0, 0]]);
    const act = tensor([1, 0, 1], [3], { dtype: 'bool' });
    for (const o of [{ alpha: 1, beta: 0 }, { alpha: -2, beta: 0.5 }, { alpha: 0, beta: 1, rowActive: act }]) {
      const cpu = sampling.contrastive(l, ld, o).data;
      const gpu = sampling.contrastive(l.to('cuda'), ld.to('cuda'), { ...o, rowActive: o.rowActive?.to('cuda') }).to('cpu').data;
      assertClose(gpu, cpu, { rtol: 1e-6, atol: 0, name: JSON.stringify(o) });
    }
  });

  it('async equals sync; device mismatch is a typed error', async () => {
    const l = tensor(Float32Array.from(randomArray(8 * 5000, rng(3))), [8, 5000]).to('cuda');
    const a = sampling.contrastive(l, l, { alpha: 0.5 }).to('cpu').data;
    const b = (await sampling.contrastiveAsync(l, l, { alpha: 0.5 })).to('cpu').data;
    assert.deepEqual(Array.from(b), Array.from(a));
    expectError(() => sampling.contrastive(l, tensor(new Float32Array(8 * 5000), [8, 5000])), 'ERR_DEVICE', /same device/);
    expectError(() => sampling.contrastive(l, l, { out: empty([8, 5000]) }), 'ERR_DEVICE', /same device/);
  });
});
