import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, random } from '../../lib';
import { assertClose, expectError } from '../helpers';
import { skip } from './gpu';
import { exactCount, maxUlp } from './noise_util';

describe('random CUDA vs CPU', { skip }, () => {
  const cases: [number, number | bigint][] = [[1, 0], [7, 3], [4096, 0], [1000003, 0], [33, 5], [100, 2n ** 66n - 10n]];

  it('bits: identical integer words (known answer included)', () => {
    for (const [n, start] of cases) {
      const opts = { seed: 0xabcdefn, offset: 77, start };
      const cpu = random.bits([n], opts).data;
      const gpu = random.bits([n], { ...opts, device: 'cuda' }).to('cpu').data;
      assert.deepEqual(Array.from(gpu), Array.from(cpu), `n=${n} start=${start}`);
    }
    const kat = random.bits([4], { seed: 0, offset: 0, device: 'cuda' }).to('cpu').data;
    assert.deepEqual(Array.from(kat, (v) => v >>> 0), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  });

  // docs/noise.md: "CPU (every SIMD level) and CUDA produce the same integer bits and the same float bits"
  it('uniform and normal: identical bits in every dtype (0 ulp)', () => {
    for (const [n, start] of cases) {
      const opts = { seed: 5, offset: 1, start };
      const ucpu = random.uniform([n], { ...opts, low: -1, high: 3 }).data;
      const ugpu = random.uniform([n], { ...opts, low: -1, high: 3, device: 'cuda' }).to('cpu').data;
      assert.equal(maxUlp(ugpu, ucpu), 0, `uniform n=${n}`);
      const zcpu = random.normal([n], { ...opts, mean: 0.5, std: 2 }).data;
      const zgpu = random.normal([n], { ...opts, mean: 0.5, std: 2, device: 'cuda' }).to('cpu').data;
      assert.equal(maxUlp(zgpu, zcpu), 0, `normal n=${n}: ${exactCount(zgpu, zcpu)}/${n} bit-identical`);
      for (const dtype of ['float16', 'bfloat16'] as const) {
        const a = random.normal([n], { ...opts, dtype }).data as Uint16Array;
        const b = random.normal([n], { ...opts, dtype, device: 'cuda' }).to('cpu').data as Uint16Array;
        let diff = 0;
        for (let i = 0; i < n; i++) if (a[i] !== b[i]) diff++;
        assert.equal(diff, 0, `${dtype} n=${n}: ${diff} elements differ in their bits`);
      }
    }
  });

  it('async equals sync; out on the device; device mismatch is a typed error', async () => {
    const a = random.normal([12345], { seed: 3, device: 'cuda' }).to('cpu').data;
    const b = (await random.normalAsync([12345], { seed: 3, device: 'cuda' })).to('cpu').data;
    assert.deepEqual(Array.from(b), Array.from(a));
    const out = empty([12345], 'float32', { device: 'cuda' });
    random.normal([12345], { seed: 3, out });
    assert.deepEqual(Array.from(out.to('cpu').data), Array.from(a));
    expectError(() => random.normal([2], { out: empty([2]), device: 'cuda' }), 'ERR_DEVICE', /expected out on cuda/);
  });
});
