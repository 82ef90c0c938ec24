// CUDA side of the API polish and TRL items: inspect of device tensors, TRL-style dpo.loss / dpo.step
// on CUDA inputs (token counts read from the device) equal to the CPU, fresh vs seeded sampling.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { dpo, sampling, tensor } from '../../lib';
import { native } from '../../lib/native';
import { randomArray, rng } from '../helpers';
import { skip } from './gpu';

describe('API on CUDA', { skip }, () => {
  it('inspect shows decoded values of a small device tensor, and none of a large one', () => {
    const t = tensor([1.5, -2, 0.1, 3], [2, 2], { dtype: 'bfloat16', device: 'cuda' });
    assert.equal(inspect(t), 'Tensor(bfloat16, [2, 2], cuda:0) [ 1.5, -2, 0.1001, 3 ]');
    const big = tensor(new Float32Array(5000), [5000], { device: 'cuda' });
    assert.equal(inspect(big), "Tensor(float32, [5000], cuda:0) <on the device: .to('cpu') to read>");
    t.dispose();
    big.dispose();
  });

  it('dpo.step / dpo.loss for ipo and sigmoid_norm (summed log-probs + counts) match the CPU', () => {
    const r = rng(3);
    const [B, T, V] = [3, 9, 17];
    const host = tensor(Float32Array.from(randomArray(2 * B * T * V, r, 2)), [2 * B, T, V]);
    const labels = tensor(Int32Array.from({ length: 2 * B * T }, (_, i) => (i % T < 3 ? -100 : Math.floor(r() * V))), [2 * B, T]);
    const refs = { refChosen: tensor(Float32Array.from([-20, -25, -22])), refRejected: tensor(Float32Array.from([-21, -24, -26])) };
    for (const type of ['ipo', 'sigmoid_norm'] as const) {
      const cpu = dpo.step({ logits: host, labels, ...refs }, { type, inPlace: false });
      const gpu = dpo.step(
        { logits: host.to('cuda'), labels: labels.to('cuda'), refChosen: refs.refChosen.to('cuda'), refRejected: refs.refRejected.to('cuda') },
        { type, inPlace: false },
      );
      assert.ok(Math.abs(gpu.loss - cpu.loss) <= 1e-5 * Math.max(1, Math.abs(cpu.loss)), `${type}: ${gpu.loss} vs ${cpu.loss}`);
      assert.deepEqual(Array.from(gpu.counts.to('cpu').data), Array.from(cpu.counts.data));
      const c = gpu.counts.to('cpu').data;
      const l = dpo.loss(
        {
          policyChosen: gpu.policyChosen, policyRejected: gpu.policyRejected,
          refChosen: refs.refChosen.to('cuda'), refRejected: refs.refRejected.to('cuda'),
          chosenCounts: tensor(c.slice(0, B)).to('cuda'), rejectedCounts: tensor(c.slice(B)).to('cuda'),
        },
        { type },
      );
      assert.equal(l.loss, gpu.loss);
      assert.equal(l.chosenRewards.device, 'cuda');
    }
  });

  it('sampling.sample on CUDA: fresh draws without a seed, the returned seed repeats them (as on the CPU)', () => {
    const x = tensor(new Float32Array(64 * 1000), [64, 1000], { device: 'cuda' });
    const a = sampling.sample(x);
    const b = sampling.sample(x);
    assert.notEqual(a.seed, b.seed);
    assert.notDeepEqual(Array.from(a.tokens.to('cpu').data), Array.from(b.tokens.to('cpu').data));
    const again = sampling.sample(x, { seed: a.seed as number });
    assert.deepEqual(Array.from(again.tokens.to('cpu').data), Array.from(a.tokens.to('cpu').data));
    const cpu = sampling.sample(x.to('cpu'), { seed: a.seed as number });
    assert.deepEqual(Array.from(cpu.tokens.data), Array.from(a.tokens.to('cpu').data));
    x.dispose();
  });
});

describe('Tensor.copyFrom on CUDA', { skip }, () => {
  it('host -> device, device -> host and device -> device copy the bits; sizes and dtypes are checked', () => {
    const src = tensor([1.5, -2, 0.1, 3, 7, -0.25], [2, 3], { dtype: 'bfloat16' });
    const dev = tensor(new Uint16Array(6), [3, 2], { dtype: 'bfloat16', device: 'cuda' });
    assert.equal(dev.copyFrom(src), dev);
    const dev2 = tensor(new Uint16Array(6), [6], { dtype: 'bfloat16', device: 'cuda' }).copyFrom(dev);
    const back = tensor(new Uint16Array(6), [6], { dtype: 'bfloat16' }).copyFrom(dev2);
    assert.deepEqual(Array.from(back.data), Array.from(src.data));
    assert.throws(() => dev.copyFrom(tensor(new Float32Array(6), [6]) as never), { code: 'ERR_DTYPE' });
    assert.throws(() => dev.copyFrom(tensor(new Uint16Array(5), [5], { dtype: 'bfloat16' })), { code: 'ERR_SHAPE' });
    for (const t of [dev, dev2]) t.dispose();
  });

  it('ranges of device buffers (the visual-token splice): copied and zeroed in place, bounds and overlaps checked natively', () => {
    const host = tensor(Float32Array.from({ length: 12 }, (_, i) => i + 1), [12]);
    const a = host.to('cuda');
    const b = tensor(new Float32Array(12), [12], { device: 'cuda' });
    b._copyRange(a, 2, 5, 4); // b[2..6) = a[5..9)
    a._copyRange(null, 0, 0, 3); // a[0..3) = 0
    a._copyRange(a, 9, 3, 3); // disjoint ranges of one buffer
    assert.deepEqual(Array.from(b.to('cpu').data), [0, 0, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(a.to('cpu').data), [0, 0, 0, 4, 5, 6, 7, 8, 9, 4, 5, 6]);
    assert.throws(() => b._copyRange(a, 10, 0, 3), { code: 'ERR_RANGE' });
    const raw = native as unknown as { copyDeviceToDevice(d: unknown, s: unknown, ...n: number[]): void; deviceMemset(d: unknown, v: number, ...n: number[]): void };
    const store = (t: unknown) => (t as { _store: unknown })._store;
    assert.throws(() => raw.copyDeviceToDevice(store(b), store(a), 40, 0, 12), { code: 'ERR_RANGE' });
    assert.throws(() => raw.copyDeviceToDevice(store(a), store(a), 0, 4, 8), { code: 'ERR_ARGUMENT' });
    assert.throws(() => raw.deviceMemset(store(a), 0, 44, 8), { code: 'ERR_RANGE' });
    assert.throws(() => raw.copyDeviceToDevice(store(a), store(a), 0, 4), { code: 'ERR_ARGUMENT' });
    for (const t of [a, b]) t.dispose();
  });
});
