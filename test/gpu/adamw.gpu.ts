import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { optim, tensor, type Tensor } from '../../lib';
import { assertBitEqual, assertClose, expectError, randomArray, rng } from '../helpers';
import { scaled, skip } from './gpu';

const SIZES = [1, 7, 33, 1000, 8193, scaled(70001)];

function lists(dtype: 'float32' | 'bfloat16', seed: number) {
  const r = rng(seed);
  const params = SIZES.map((n) => tensor(Float32Array.from(randomArray(n, r)), [n], { dtype }));
  const grads = (t: number) => SIZES.map((n) => tensor(Float32Array.from(randomArray(n, r, t)), [n]));
  return { params, grads };
}
const host = (ts: readonly Tensor[]) => ts.map((t) => t.toFloat32Array());

describe('optim CUDA vs CPU', { skip }, () => {
  for (const [dtype, masterWeights] of [['float32', false], ['bfloat16', true], ['bfloat16', false]] as const)
    it(`adamw ${dtype}${masterWeights ? ' + float32 master' : ''}: same bits as the CPU over 3 steps`, async () => {
      const { params, grads } = lists(dtype, 1);
      const gpu = params.map((p) => p.to('cuda'));
      const sc = optim.adamwState(params, { masterWeights });
      const sg = optim.adamwState(gpu, { masterWeights });
      for (let t = 1; t <= 3; t++) {
        const g = grads(t);
        const o = { step: t, lr: 0.01, weightDecay: 0.1 };
        optim.adamw(params, g, sc, o);
        if (t === 2) await optim.adamwAsync(gpu, g.map((x) => x.to('cuda')), sg, o);
        else optim.adamw(gpu, g.map((x) => x.to('cuda')), sg, o);
      }
      const pairs: [Tensor[], Tensor[]][] = [[params, gpu], [[...sc.m], [...sg.m]], [[...sc.v], [...sg.v]]];
      if (masterWeights) pairs.push([[...sc.master!], [...sg.master!]]);
      for (const [a, b] of pairs) host(b).forEach((x, i) => assertBitEqual(x, host(a)[i]!, `tensor ${i}`));
    });

  it('adamw: a CPU grad with CUDA params is ERR_DEVICE', () => {
    const p = tensor([1, 2], [2]).to('cuda');
    expectError(() => optim.adamw([p], [tensor([1, 2], [2])], optim.adamwState([p]), { step: 1 }), 'ERR_DEVICE', /grads\[0\]/);
  });

  for (const dtype of ['float32', 'bfloat16'] as const)
    it(`clipGradNorm ${dtype}: total and scaled grads match the CPU`, async () => {
      const { params: a } = lists(dtype, 2);
      const b = a.map((t) => t.to('cuda'));
      const c = a.map((t) => t.to('cuda'));
      const tc = optim.clipGradNorm(a, 1);
      const tg = optim.clipGradNorm(b, 1);
      assert.ok(Math.abs(tg - tc) <= 1e-12 * tc, `total ${tg} vs CPU ${tc}`);
      assert.equal(await optim.clipGradNormAsync(c, 1), tg);
      host(b).forEach((x, i) => assertClose(x, host(a)[i]!, { rtol: 2 ** -23, atol: 0, name: `grads[${i}]` }));
      host(c).forEach((x, i) => assertBitEqual(x, host(b)[i]!, `async grads[${i}]`));
      const nan = [tensor([1, NaN], [2]).to('cuda')];
      expectError(() => optim.clipGradNorm(nan, 1, { errorIfNonfinite: true }), 'ERR_RANGE');
      assert.equal(optim.clipGradNorm([tensor([Infinity, 1], [2]).to('cuda')], 1), Infinity);
    });
});
