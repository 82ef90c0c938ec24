import { describe, expect, it } from 'vitest';
import { models, tensor, type Tensor } from '../lib';
import { llamaForwardRef, type RefConfig, type RefWeights } from './reference/llama';
import { assertClose, expectError, expectRejection } from './helpers';

const TINY = { vocabSize: 61, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, ropeTheta: 10000, rmsNormEps: 1e-6 };

const f64 = (t: Tensor) => Float64Array.from(t.toFloat32Array());

function refOf(m: models.LlamaModel): { cfg: RefConfig; w: RefWeights } {
  const c = m.config;
  return {
    cfg: { vocabSize: c.vocabSize, hiddenSize: c.hiddenSize, intermediateSize: c.intermediateSize, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, ropeTheta: c.ropeTheta, rmsNormEps: c.rmsNormEps },
    w: {
      embed: f64(m.embed),
      finalNorm: f64(m.finalNorm),
      lmHead: f64(m.lmHead),
      layers: m.layers.map((l) => ({ attnNorm: f64(l.attnNorm), wq: f64(l.wq), wk: f64(l.wk), wv: f64(l.wv), wo: f64(l.wo), mlpNorm: f64(l.mlpNorm), wGate: f64(l.wGate), wUp: f64(l.wUp), wDown: f64(l.wDown) })),
    },
  };
}

const embedRows = (w: RefWeights, D: number, toks: number[]) => toks.map((t) => w.embed.slice(t * D, (t + 1) * D));
const argmax = (r: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < r.length; i++) if (r[i]! > r[b]!) b = i;
  return b;
};

describe('models.LlamaModel', () => {
  const model = models.LlamaModel.random(TINY, { seed: 3, initStd: 0.2 });
  const { cfg, w } = refOf(model);
  const prompt = [[5, 17, 3, 60, 2, 9, 11], [1, 1, 40, 7, 33, 21, 0]];

  it('has deterministic weights for a seed', () => {
    const again = models.LlamaModel.random(TINY, { seed: 3, initStd: 0.2 });
    expect(Array.from(again.layers[1]!.wq.toFloat32Array())).toEqual(Array.from(model.layers[1]!.wq.toFloat32Array()));
    const other = models.LlamaModel.random(TINY, { seed: 4, initStd: 0.2 });
    expect(Array.from(other.embed.toFloat32Array().slice(0, 8))).not.toEqual(Array.from(model.embed.toFloat32Array().slice(0, 8)));
    expect(model.numParameters).toBe(61 * 32 * 2 + 32 + 2 * (32 * 2 + 32 * 32 * 2 + 16 * 32 * 2 + 48 * 32 * 3));
  });

  it('forward matches the float64 reference at every position', () => {
    const cache = model.createCache(2, 16);
    const x = model.embedTokens(tensor(Int32Array.from(prompt.flat()), [2, 7]));
    const { logits } = model.forward(x, cache, { logits: 'all' });
    expect(logits!.shape).toEqual([2, 7, 61]);
    const got = logits!.toFloat32Array();
    prompt.forEach((row, b) => {
      const ref = llamaForwardRef(cfg, w, embedRows(w, 32, row), row.map((_, i) => i));
      assertClose(got.subarray(b * 7 * 61, (b + 1) * 7 * 61), Float64Array.from(ref.flatMap((r) => Array.from(r))), { rtol: 1e-4, atol: 1e-5, name: `row ${b}` });
    });
  });

  it('cached decode equals the full prefill', () => {
    const full = model.forward(model.embedTokens(tensor(Int32Array.from(prompt.flat()), [2, 7])), model.createCache(2, 8), { logits: 'all' }).logits!.toFloat32Array();
    const cache = model.createCache(2, 8);
    const first = prompt.map((r) => r.slice(0, 4));
    model.forward(model.embedTokens(tensor(Int32Array.from(first.flat()), [2, 4])), cache, { logits: 'none' });
    for (let t = 4; t < 7; t++) {
      const step = model.forward(model.embedTokens(tensor(Int32Array.from(prompt.map((r) => r[t]!)), [2, 1])), cache).logits!.toFloat32Array();
      for (let b = 0; b < 2; b++)
        assertClose(step.subarray(b * 61, (b + 1) * 61), full.subarray((b * 7 + t) * 61, (b * 7 + t + 1) * 61), { rtol: 1e-5, atol: 1e-6, name: `t=${t} b=${b}` });
    }
    expect(cache.length).toBe(7);
  });

  it('a per-layer key mask matches the reference with those keys removed', () => {
    const blocked = new Set([1, 2, 3]); // "image" positions, hidden in layer 1 only
    const km = tensor(Uint8Array.from({ length: 2 * 7 }, (_, i) => (blocked.has(i % 7) ? 0 : 1)), [2, 7], { dtype: 'bool' });
    const x = model.embedTokens(tensor(Int32Array.from(prompt.flat()), [2, 7]));
    const got = model.forward(x, model.createCache(2, 7), { logits: 'all', keyMask: (l) => (l === 1 ? km : undefined) }).logits!.toFloat32Array();
    const ref = llamaForwardRef(cfg, w, embedRows(w, 32, prompt[0]!), prompt[0]!.map((_, i) => i), (layer, _q, k) => layer !== 1 || !blocked.has(k));
    assertClose(got.subarray(0, 7 * 61), Float64Array.from(ref.flatMap((r) => Array.from(r))), { rtol: 1e-4, atol: 1e-5 });
  });

  it('rejects bad configurations and inputs', () => {
    expectError(() => models.LlamaModel.random({ numHeads: 6, numKvHeads: 4 }), 'ERR_RANGE', /multiple of numKvHeads/);
    expectError(() => models.LlamaModel.random({ headDim: 7 }), 'ERR_RANGE', /even headDim/);
    expectError(() => models.LlamaModel.random({ bogus: 1 } as never), 'ERR_ARGUMENT', /unknown option 'bogus'/);
    const cache = model.createCache(1, 4);
    expectError(() => model.forward(tensor(new Float32Array(5 * 32), [1, 5, 32]), cache), 'ERR_RANGE', /holds 4 positions/);
    expectError(() => model.forward(tensor(new Float32Array(2 * 32), [2, 1, 32]), cache), 'ERR_SHAPE', /rows/);
    expectError(() => model.embedTokens(tensor([61], undefined, { dtype: 'int32' })), 'ERR_RANGE');
  });
});

describe('models.generate', () => {
  const model = models.LlamaModel.random(TINY, { seed: 3, initStd: 0.2 });
  const { cfg, w } = refOf(model);
  const prompt = [[5, 17, 3, 60, 2], [9, 11, 1, 40, 7]];

  it('greedy decoding follows the reference argmax step by step', async () => {
    const r = await models.generate(model, { tokens: prompt, maxNewTokens: 4 }).result;
    prompt.forEach((row, b) => {
      const seq = [...row];
      for (let s = 0; s < 4; s++) {
        const ref = llamaForwardRef(cfg, w, embedRows(w, 32, seq), seq.map((_, i) => i));
        seq.push(argmax(ref[ref.length - 1]!));
      }
      expect(Array.from(r.tokens[b]!)).toEqual(seq.slice(row.length));
    });
    expect(r.finishReasons).toEqual(['length', 'length']);
    for (const lp of r.logprobs) for (const v of lp) expect(v).toBeLessThanOrEqual(0);
  });

  it('is deterministic for a sampler seed, and seeds differ', async () => {
    const opts = { tokens: prompt, maxNewTokens: 12, sampler: { temperature: 1.5, topP: 0.95, seed: 11 } };
    const a = await models.generate(model, opts).result;
    const b = await models.generate(model, opts).result;
    expect(a.tokens.map((t) => Array.from(t))).toEqual(b.tokens.map((t) => Array.from(t)));
    const c = await models.generate(model, { ...opts, sampler: { ...opts.sampler, seed: 12 } }).result;
    expect(c.tokens.map((t) => Array.from(t))).not.toEqual(a.tokens.map((t) => Array.from(t)));
  });

  it('left-pads ragged prompts: each row decodes as if alone', async () => {
    const rows = [[5, 17, 3, 60, 2], [40, 7]];
    const both = await models.generate(model, { tokens: rows, maxNewTokens: 5 }).result;
    for (let b = 0; b < 2; b++) {
      const alone = await models.generate(model, { tokens: [rows[b]!], maxNewTokens: 5 }).result;
      expect(Array.from(both.tokens[b]!)).toEqual(Array.from(alone.tokens[0]!));
    }
  });

  it('stops rows at stop tokens and emits typed events', async () => {
    const greedy = await models.generate(model, { tokens: prompt, maxNewTokens: 6 }).result;
    const stopTok = greedy.tokens[0]![1]!;
    const run = models.generate(model, { tokens: prompt, maxNewTokens: 6, stopTokens: [stopTok] });
    const events: string[] = [];
    run.on('prefill', (e) => events.push(`prefill ${e.batch}x${e.promptLength}`));
    run.on('token', (e) => events.push(`token ${e.step}`));
    run.on('progress', (d, t) => events.push(`progress ${d}/${t}`));
    const r = await run.result;
    expect(r.finishReasons[0]).toBe('stop');
    expect(r.tokens[0]![r.tokens[0]!.length - 1]).toBe(stopTok);
    expect(events[0]).toBe('prefill 2x5');
    expect(events).toContain('token 0');
    expect(events).toContain('progress 1/6');
  });

  it('image-key masking: ratio 0 changes nothing, ratio 1 equals removing the image keys', async () => {
    const spans = [[[1, 3]], [[0, 2]]];
    const plain = await models.generate(model, { tokens: prompt, maxNewTokens: 5 }).result;
    const r0 = await models.generate(model, { tokens: prompt, maxNewTokens: 5, imageSpans: spans, imageMask: { ratio: 0 } }).result;
    expect(r0.tokens.map((t) => Array.from(t))).toEqual(plain.tokens.map((t) => Array.from(t)));
    const r1 = await models.generate(model, { tokens: prompt, maxNewTokens: 3, imageSpans: spans, imageMask: { ratio: 1 } }).result;
    // reference: image keys 1..3 of row 0 never attended, in every layer and step
    const seq = [...prompt[0]!];
    for (let s = 0; s < 3; s++) {
      const ref = llamaForwardRef(cfg, w, embedRows(w, 32, seq), seq.map((_, i) => i), (_l, _q, k) => k < 1 || k > 3);
      seq.push(argmax(ref[ref.length - 1]!));
    }
    expect(Array.from(r1.tokens[0]!)).toEqual(seq.slice(5));
  });

  it('accepts input embeddings (visual tokens spliced into a prompt)', async () => {
    const x = model.embedTokens(tensor(Int32Array.from(prompt.flat()), [2, 5]));
    const a = await models.generate(model, { inputEmbeds: x, maxNewTokens: 3 }).result;
    const b = await models.generate(model, { tokens: prompt, maxNewTokens: 3 }).result;
    expect(a.tokens.map((t) => Array.from(t))).toEqual(b.tokens.map((t) => Array.from(t)));
  });

  it('can be cancelled with an AbortSignal', async () => {
    const ac = new AbortController();
    const run = models.generate(model, { tokens: prompt, maxNewTokens: 50, signal: ac.signal });
    run.on('token', (e) => {
      if (e.step === 2) ac.abort(new Error('stop now'));
    });
    await expect(run.result).rejects.toThrow('stop now');
    const pre = new AbortController();
    pre.abort();
    await expect(models.generate(model, { tokens: prompt, maxNewTokens: 2, signal: pre.signal }).result).rejects.toThrow();
  });

  it('rejects bad options with typed errors', async () => {
    await expectRejection(models.generate(model, { tokens: prompt, maxNewTokens: 0 }).result, 'ERR_RANGE', /maxNewTokens/);
    await expectRejection(models.generate(model, { maxNewTokens: 2 }).result, 'ERR_ARGUMENT', /exactly one of tokens and inputEmbeds/);
    await expectRejection(models.generate(model, { tokens: prompt, maxNewTokens: 2, imageMask: { ratio: 0.5 } }).result, 'ERR_ARGUMENT', /imageSpans/);
    await expectRejection(models.generate(model, { tokens: prompt, maxNewTokens: 2, imageSpans: [[[0, 2]], [[0, 2]]], imageMask: { ratio: 1.5 } }).result, 'ERR_RANGE');
    await expectRejection(models.generate(model, { tokens: [[1, 99]], maxNewTokens: 1 }).result, 'ERR_RANGE');
  });
});
