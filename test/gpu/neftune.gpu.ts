import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, noise, tensor, type FloatDType } from '../../lib';
import { assertClose, expectError, randomArray, rng } from '../helpers';
import { skip } from './gpu';

describe('noise.neftune CUDA vs CPU', { skip }, () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [B, L, D] of [[3, 7, 16], [2, 300, 4096], [4, 5, 1031]] as const)
      for (const mode of ['lengths', 'mask', 'none'] as const)
        it(`${dtype} [${B}, ${L}, ${D}] ${mode}`, () => {
          const x = tensor(Float32Array.from(randomArray(B * L * D, rng(B * L + D))), [B, L, D], { dtype });
          const lengths = Array.from({ length: B }, (_, b) => (b * 7 + 3) % (L + 1));
          const mask = Array.from({ length: B * L }, (_, i) => i % 3 !== 1);
          const side = mode === 'lengths' ? { lengths } : mode === 'mask' ? { mask } : {};
          const cpu = noise.neftune(x, { ...side, alpha: 10, seed: 3 }).out.toFloat32Array();
          const gside = mode === 'lengths' ? { lengths: tensor(lengths, [B], { dtype: 'int32' }).to('cuda') } : mode === 'mask' ? { mask: tensor(mask, [B, L], { dtype: 'bool' }).to('cuda') } : {};
          const gpu = noise.neftune(x.to('cuda'), { ...gside, alpha: 10, seed: 3 }).out.to('cpu').toFloat32Array();
          // same words, same fma: identical
          assertClose(gpu, cpu, { rtol: 0, atol: 0, name: `${dtype} ${mode}` });
        });

  it('bad lengths on the device are ERR_RANGE; async equals sync', async () => {
    const x = tensor(Float32Array.from(randomArray(2 * 4 * 8, rng(1))), [2, 4, 8]).to('cuda');
    expectError(() => noise.neftune(x, { lengths: tensor([2, 9], [2], { dtype: 'int32' }).to('cuda') }), 'ERR_RANGE', /received 9 for row 1/);
    // empty positions or embeddings still check lengths, as on the CPU
    for (const shape of [[2, 0, 8], [2, 4, 0]])
      expectError(() => noise.neftune(empty(shape, 'float32', { device: 'cuda' }), { lengths: tensor([0, 5], [2], { dtype: 'int32' }).to('cuda') }), 'ERR_RANGE', /received 5 for row 1/);
    const a = noise.neftune(x, { seed: 1 }).out.to('cpu').data;
    const b = (await noise.neftuneAsync(x, { seed: 1 })).out.to('cpu').data;
    assert.deepEqual(Array.from(b), Array.from(a));
  });
});
