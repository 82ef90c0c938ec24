import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attention, tensor } from '../../lib';
import { expectError, rng } from '../helpers';
import { skip } from './gpu';

describe('attention.imageKeyMask CUDA vs CPU', { skip }, () => {
  const spans: [number, number][][] = [[[5, 576]], [[0, 100], [200, 2000], [3000, 1]], [], [[4000, 96]]];

  for (const [ratio, seed, offset] of [[0.99, 1, 0], [0.5, 2 ** 40, 7], [0, 3, 0], [1, 4, 0]] as const)
    it(`the same bits (ratio ${ratio}, seed ${seed})`, () => {
      const cpu = attention.imageKeyMask(spans, { maskRatio: ratio, seed, offset, length: 4096 });
      const gpu = attention.imageKeyMask(spans, { maskRatio: ratio, seed, offset, length: 4096, device: 'cuda' });
      assert.equal(gpu.device, 'cuda');
      assert.deepEqual(Array.from(gpu.to('cpu').data), Array.from(cpu.data));
    });

  it('combines with a device keyMask; async the same', async () => {
    const r = rng(1);
    const base = tensor(new Uint8Array(4 * 4096).map(() => (r() < 0.8 ? 1 : 0)), [4, 4096], { dtype: 'bool' });
    const cpu = attention.imageKeyMask(spans, { maskRatio: 0.7, seed: 9, keyMask: base });
    const gpu = attention.imageKeyMask(spans, { maskRatio: 0.7, seed: 9, keyMask: base.to('cuda') });
    assert.deepEqual(Array.from(gpu.to('cpu').data), Array.from(cpu.data));
    const gpuAsync = await attention.imageKeyMaskAsync(spans, { maskRatio: 0.7, seed: 9, keyMask: base.to('cuda') });
    assert.deepEqual(Array.from(gpuAsync.to('cpu').data), Array.from(cpu.data));
  });

  it('device conflicts are typed errors', () => {
    const base = tensor(new Uint8Array(10), [1, 10], { dtype: 'bool' });
    expectError(() => attention.imageKeyMask([[[0, 4]]], { keyMask: base, device: 'cuda' }), 'ERR_DEVICE', /to match keyMask/);
  });
});
