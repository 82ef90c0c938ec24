import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attention, tensor, type FloatDType, type Tensor } from '../../lib';
import { assertClose, expectError, randomArray, rng } from '../helpers';
import { assertAttnClose } from './attn_tol';
import { scaled, skip } from './gpu';

function rand(shape: number[], seed: number, dtype: FloatDType = 'bfloat16'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from(randomArray(n, rng(seed))), shape, { dtype });
}
const maxAbs = (t: Tensor): number => t.toFloat32Array().reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const bits = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number>);

describe('attention.KVCache on CUDA vs CPU', { skip }, () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
  it(`${dtype}: append stores the same bits and decode attends the same as on the CPU`, async () => {
    const [B, Hq, Hkv, d, P, steps, maxT] = [2, 4 * scaled(4), scaled(4), 128, 700, 4, 1024];
    const spans: [number, number][][] = [[[10, 576]], [[3, 576]]];
    const keep = attention.imageKeyMask(spans, { maskRatio: 0.99, seed: 5, length: maxT });
    const gkeep = keep.to('cuda');
    const cpu = new attention.KVCache({ layers: 2, batch: B, kvHeads: Hkv, headDim: d, maxLength: maxT, dtype });
    const gpu = new attention.KVCache({ layers: 2, batch: B, kvHeads: Hkv, headDim: d, maxLength: maxT, dtype, device: 'cuda' });
    assert.equal(gpu.device, 'cuda');
    for (let layer = 0; layer < 2; layer++) {
      const k = rand([B, Hkv, P, d], 10 + layer, dtype);
      const v = rand([B, Hkv, P, d], 20 + layer, dtype);
      let vmax = maxAbs(v);
      cpu.append(layer, k, v);
      await gpu.appendAsync(layer, k.to('cuda'), v.to('cuda'));
      const q = rand([B, Hq, P, d], 30 + layer, dtype);
      const yc = cpu.attend(layer, q, { causal: true, keyMask: keep });
      const yg = gpu.attend(layer, q.to('cuda'), { causal: true, keyMask: gkeep });
      assertAttnClose(yg.toFloat32Array(), yc.toFloat32Array(), dtype, P, d, vmax, `${dtype} prefill layer ${layer}`);
      for (let s = 0; s < steps; s++) {
        const k1 = rand([B, Hkv, 1, d], 40 + s, dtype);
        const v1 = rand([B, Hkv, 1, d], 50 + s, dtype);
        const q1 = rand([B, Hq, 1, d], 60 + s, dtype);
        vmax = Math.max(vmax, maxAbs(v1));
        cpu.append(layer, k1, v1);
        gpu.append(layer, k1.to('cuda'), v1.to('cuda'));
        const a = cpu.attend(layer, q1, { causal: true, keyMask: keep, returnLse: true });
        const b = gpu.attend(layer, q1.to('cuda'), { causal: true, keyMask: gkeep, returnLse: true });
        assertAttnClose(b.out.toFloat32Array(), a.out.toFloat32Array(), dtype, cpu.lengthOf(layer), d, vmax, `${dtype} step ${s}`);
        assertClose(b.lse.to('cpu').data, a.lse.data, { rtol: 2e-5, atol: 2e-5 });
      }
      // the filled prefix holds exactly the appended bits
      const n = cpu.lengthOf(layer);
      const gk = bits(gpu.keys(layer).to('cpu'));
      const ck = bits(cpu.keys(layer));
      for (let bh = 0; bh < B * Hkv; bh++)
        assert.deepEqual(gk.slice(bh * maxT * d, (bh * maxT + n) * d), ck.slice(bh * maxT * d, (bh * maxT + n) * d));
    }
    gpu.dispose();
  });

  it('overflow and device mismatch are typed errors', () => {
    const gpu = new attention.KVCache({ layers: 1, batch: 1, kvHeads: 1, headDim: 8, maxLength: 4, dtype: 'bfloat16', device: 'cuda' });
    const k = rand([1, 1, 3, 8], 1);
    expectError(() => gpu.append(0, k, k), 'ERR_DEVICE', /same device/);
    gpu.append(0, k.to('cuda'), k.to('cuda'));
    expectError(() => gpu.append(0, k.to('cuda'), k.to('cuda')), 'ERR_RANGE', /at most 1 new positions/);
    expectError(() => gpu.attend(0, rand([1, 2, 1, 8], 2), { causal: true }), 'ERR_DEVICE', /same device/);
    gpu.dispose();
  });
});
