import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sampling, tensor, type FloatDType, type Tensor } from '../../lib';
import { assertClose, expectError, expectRejection, randomArray, rng } from '../helpers';
import { scaled, skip } from './gpu';

/** CUDA and CPU must draw the same tokens (integer masses, same Philox words), logprobs within float rounding. */
function same(x: Tensor, o: Parameters<typeof sampling.sample>[1], name: string, history?: Tensor<'int32'>): void {
  const cpu = sampling.sample(x, { ...o, history });
  const gx = x.to('cuda');
  const gh = history?.to('cuda');
  const gpu = sampling.sample(gx, { ...o, history: gh });
  assert.equal(gpu.tokens.device, 'cuda');
  const tok = gpu.tokens.to('cpu').data;
  let diff = 0;
  for (let i = 0; i < tok.length; i++) if (tok[i] !== cpu.tokens.data[i]) diff++;
  assert.equal(diff, 0, `${name}: ${diff}/${tok.length} tokens differ from the CPU`);
  assertClose(gpu.logprobs.to('cpu').data, cpu.logprobs.data, { rtol: 1e-6, atol: 1e-6, name });
  gx.dispose();
  gh?.dispose();
}

describe('sampling.sample CUDA vs CPU', { skip }, () => {
  const settings: [string, Parameters<typeof sampling.sample>[1]][] = [
    ['plain', {}],
    ['greedy', { temperature: 0 }],
    ['temperature 0.7', { temperature: 0.7 }],
    ['topK 50', { topK: 50 }],
    ['topK 1', { topK: 1 }],
    ['topP 0.9', { topP: 0.9 }],
    ['topP 0', { topP: 0 }],
    ['minP 0.05', { minP: 0.05 }],
    ['all', { temperature: 0.8, topK: 200, topP: 0.95, minP: 0.02 }],
  ];
  const shapes: [number, number][] = [[1, 1], [3, 47], [scaled(64), 32000], [scaled(7), 128256], [5, 4099]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [B, V] of shapes)
      it(`${dtype} [${B}, ${V}]: same tokens for every setting`, () => {
        const x = tensor(Float32Array.from(randomArray(B * V, rng(B * 7 + V), 3)), [B, V], { dtype });
        for (const [name, o] of settings) same(x, { ...o, seed: 42, step: 3 }, `${dtype} [${B}, ${V}] ${name}`);
      });

  it('repetition penalty with history (duplicates, padding), per-row seeds, ties and -inf', () => {
    const B = 16;
    const V = 3000;
    const v = randomArray(B * V, rng(1), 2);
    for (let j = 0; j < B * V; j += 3) v[j] = -Infinity; // a third of every row banned
    for (let j = 1; j < 200; j += 2) v[V + j] = 5; // row 1: many ties at the top
    const x = tensor(Float32Array.from(v), [B, V]);
    const h = tensor(Int32Array.from({ length: B * 9 }, (_, i) => (i % 4 === 0 ? -1 : (i * 131) % V)), [B, 9], { dtype: 'int32' });
    const seeds = Array.from({ length: B }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n % 2n ** 64n);
    for (const o of [{ repetitionPenalty: 1.3 }, { repetitionPenalty: 0.7, topK: 30, topP: 0.8 }, { repetitionPenalty: 2, temperature: 0 }])
      same(x, { ...o, seed: seeds, step: 11 }, JSON.stringify(o), h);
  });

  it('async equals sync on the GPU', async () => {
    const x = tensor(Float32Array.from(randomArray(scaled(64) * 32000, rng(2), 3)), [scaled(64), 32000], { dtype: 'bfloat16' }).to('cuda');
    const a = sampling.sample(x, { topP: 0.9, seed: 5 });
    const b = await sampling.sampleAsync(x, { topP: 0.9, seed: 5 });
    assert.deepEqual(Array.from(b.tokens.to('cpu').data), Array.from(a.tokens.to('cpu').data));
    assert.deepEqual(Array.from(b.logprobs.to('cpu').data), Array.from(a.logprobs.to('cpu').data));
    x.dispose();
  });

  it('data errors and device mismatch are typed errors', async () => {
    const g = (v: number[], shape: number[]) => tensor(v, shape).to('cuda');
    expectError(() => sampling.sample(g([1, NaN, 0, 0], [2, 2])), 'ERR_RANGE', /NaN or \+Infinity/);
    expectError(() => sampling.sample(g([0, 0, -Infinity, -Infinity], [2, 2])), 'ERR_RANGE', /all -Infinity/);
    const bad = tensor([0, 5], [2, 1], { dtype: 'int32' }).to('cuda');
    expectError(() => sampling.sample(g([1, 2, 3, 4], [2, 2]), { repetitionPenalty: 1.2, history: bad }), 'ERR_RANGE', /history tokens in \[-1, 2\)/);
    const cpuHist = tensor([0, 1], [2, 1], { dtype: 'int32' });
    expectError(() => sampling.sample(g([1, 2, 3, 4], [2, 2]), { repetitionPenalty: 1.2, history: cpuHist }), 'ERR_DEVICE', /same device/);
    await expectRejection(sampling.sampleAsync(g([NaN, 1], [1, 2])), 'ERR_RANGE');
    // the device is usable after a data error
    const ok = sampling.sample(g([0, 10], [1, 2]), { temperature: 0 });
    assert.equal(ok.tokens.to('cpu').data[0], 1);
  });
});
