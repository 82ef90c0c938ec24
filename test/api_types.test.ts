/**
 * Public API polish (issue 12 item 5): every option/result type at the top level, overloads that
 * make requested fields non-optional (checked by tsc, which `npm test` runs first, and at run
 * time), console.log of tensors, and the hint for foreign tensor objects.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  dpo,
  empty,
  models,
  noise,
  ops,
  tensor,
  type DpoLossType,
  type DpoStepOptions,
  type SampleResult,
  type SequenceLogpsResult,
  type Tensor,
} from '../lib';
import { expectError } from './helpers';

describe('top-level types', () => {
  it('every type a namespace exports is also exported by name from the package root', () => {
    const api = path.join(__dirname, '..', 'lib', 'api');
    const index = readFileSync(path.join(__dirname, '..', 'lib', 'index.ts'), 'utf8');
    const missing: string[] = [];
    for (const f of readdirSync(api)) {
      const src = readFileSync(path.join(api, f), 'utf8');
      for (const m of src.matchAll(/\btype ([A-Z][A-Za-z0-9]*)/g))
        if (!new RegExp(`\\b${m[1]}\\b`).test(index)) missing.push(`${m[1]} (lib/api/${f})`);
    }
    expect(missing).toEqual([]);
  });

  it('are the namespace types', () => {
    const t: DpoLossType = 'ipo';
    expectTypeOf<DpoLossType>().toEqualTypeOf<dpo.DpoLossType>();
    expectTypeOf<SampleResult>().toEqualTypeOf<import('../lib').sampling.SampleResult>();
    const o: DpoStepOptions = { type: t, beta: 0.5 };
    expect(dpo.DPO_LOSS_TYPES).toContain(o.type);
  });
});

describe('overloads: an option that asks for a field makes it non-optional', () => {
  const logits = tensor(new Float32Array(2 * 3 * 5), [2, 3, 5]);
  const labels = tensor(Int32Array.from([-100, 1, 2, -100, 3, 4]), [2, 3]);

  it('dpo.sequenceLogps: returnLse -> lse, perToken -> perToken', async () => {
    const a = dpo.sequenceLogps(logits, labels, { returnLse: true });
    expectTypeOf(a.lse).toEqualTypeOf<Tensor<'float32'>>();
    expect(a.lse.shape).toEqual([2, 3]);
    const b = dpo.sequenceLogps(logits, labels, { perToken: true });
    expectTypeOf(b.perToken).toEqualTypeOf<Tensor<'float32'>>();
    expect(b.perToken.shape).toEqual([2, 3]);
    const c = await dpo.sequenceLogpsAsync(logits, labels, { perToken: true, returnLse: true, average: true });
    expectTypeOf(c.lse).toEqualTypeOf<Tensor<'float32'>>();
    expectTypeOf(c.perToken).toEqualTypeOf<Tensor<'float32'>>();
    const d = dpo.sequenceLogps(logits, labels);
    expectTypeOf(d.lse).toEqualTypeOf<Tensor<'float32'> | undefined>();
    expect(d.lse).toBeUndefined();
    expectTypeOf(d).toMatchTypeOf<SequenceLogpsResult>();
  });

  it('noise.diffuse: returnNoise -> eps; noise.predictionLoss: grad unless grad: false', () => {
    const x = tensor(new Float32Array(8), [2, 4]);
    const r = noise.diffuse(x, { t: 10, returnNoise: true, seed: 1 });
    expectTypeOf(r.eps).toEqualTypeOf<Tensor<'float32'>>();
    expect(r.eps.shape).toEqual([2, 4]);
    expectTypeOf(noise.diffuse(x, { t: 10 }).eps).toEqualTypeOf<Tensor<'float32'> | undefined>();
    const g = noise.predictionLoss(x, x);
    expectTypeOf(g.grad).toEqualTypeOf<Tensor>();
    expect(g.grad.shape).toEqual([2, 4]);
    const n = noise.predictionLoss(x, x, { grad: false });
    expectTypeOf(n.grad).toEqualTypeOf<undefined>();
    expect(n.grad).toBeUndefined();
  });

  it("LlamaModel.forward: logits unless logits: 'none'", () => {
    const m = models.LlamaModel.random({ vocabSize: 11, hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1 }, { seed: 1 });
    const x = m.embedTokens(tensor(Int32Array.from([1, 2, 3]), [1, 3]));
    const f = m.forward(x, m.createCache(1, 8));
    expectTypeOf(f.logits).toEqualTypeOf<Tensor<import('../lib').FloatDType>>();
    expect(f.logits.shape).toEqual([1, 1, 11]);
    const none = m.forward(x, m.createCache(1, 8), { logits: 'none' });
    expectTypeOf(none.logits).toEqualTypeOf<undefined>();
    expect(none.logits).toBeUndefined();
    m.dispose();
  });
});

describe('console.log(tensor)', () => {
  it('shows dtype, shape, device and decoded values, never internals or raw bits', () => {
    const bf = tensor([1.5, -2, 0.1, 3], [2, 2], { dtype: 'bfloat16' });
    const s = inspect(bf);
    expect(s).toBe('Tensor(bfloat16, [2, 2], cpu) [ 1.5, -2, 0.1001, 3 ]'); // bf16(0.1) = 0.10009765625
    expect(s).not.toMatch(/_store|_code|16320/); // 16320 = bits of bf16 1.5
    expect(inspect(tensor([0.1, 65504, -Infinity], [3], { dtype: 'float16' }))).toBe('Tensor(float16, [3], cpu) [ 0.09998, 65500, -Infinity ]');
    expect(inspect(tensor(Float32Array.from({ length: 10 }, (_, i) => i / 3)))).toBe(
      'Tensor(float32, [10], cpu) [ 0, 0.3333333, 0.6666667, 1, 1.333333, 1.666667, 2, 2.333333, ... 2 more ]',
    );
    expect(inspect(tensor([1n, -2n]))).toBe('Tensor(int64, [2], cpu) [ 1n, -2n ]');
    expect(inspect(tensor([true, false]))).toBe('Tensor(bool, [2], cpu) [ true, false ]');
    expect(inspect(empty([0], 'int32'))).toBe('Tensor(int32, [0], cpu) [  ]');
    const gone = tensor([1, 2]);
    gone.dispose();
    expect(inspect(gone)).toBe('Tensor(float32, [2], cpu) <disposed>');
    expect(inspect({ t: tensor([1]) })).toBe('{ t: Tensor(float32, [1], cpu) [ 1 ] }');
  });
});

describe('foreign tensors: the error says what to pass', () => {
  it('tfjs, torch-like, ndarray and plain arrays get a hint', () => {
    const tfjs = { id: 3, shape: [2, 2], dtype: 'float32', dataSync: () => new Float32Array(4), rankType: '2' };
    expectError(() => ops.logSumExp(tfjs as never), 'ERR_ARGUMENT', /expected a Tensor for x but received an object \(a TensorFlow\.js tensor\?\): pass tensor\(t\.dataSync\(\), t\.shape\)/);
    const torch = { shape: [2, 2], dtype: 'float32', data_ptr: () => 0 };
    expectError(() => ops.logSumExp(torch as never), 'ERR_ARGUMENT', /\(a torch-like tensor\?\): pass its values as a TypedArray, tensor\(values, shape\)/);
    const nd = { data: new Float32Array(4), shape: [2, 2], stride: [2, 1], offset: 0 };
    expectError(() => ops.logSumExp(nd as never), 'ERR_ARGUMENT', /\(an ndarray\?\): pass tensor\(a\.data, a\.shape\)/);
    expectError(() => ops.logSumExp(new Float32Array(4) as never), 'ERR_ARGUMENT', /received a Float32Array of length 4: wrap it with tensor\(data, shape\)/);
    expectError(() => ops.logSumExp({ data: new Float32Array(4), dims: [4] } as never), 'ERR_ARGUMENT', /onnxruntime-style tensor needs \{ type, data, dims \}/);
    expectError(() => ops.logSumExp(42 as never), 'ERR_ARGUMENT', /expected a Tensor for x but received number 42$/);
  });
});
