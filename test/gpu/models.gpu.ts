import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { models, tensor } from '../../lib';
import { assertClose } from '../helpers';
import { skip } from './gpu';

const TINY = { vocabSize: 97, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2 };

describe('LlamaModel / generate CUDA vs CPU', { skip }, () => {
  it('forward logits agree (float32 and bfloat16)', () => {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const cpu = models.LlamaModel.random(TINY, { seed: 1, initStd: 0.2, dtype });
      const gpu = models.LlamaModel.random(TINY, { seed: 1, initStd: 0.2, dtype, device: 'cuda' });
      const toks = tensor(Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 13) % 97), [2, 9]);
      const a = cpu.forward(cpu.embedTokens(toks), cpu.createCache(2, 9), { logits: 'all' }).logits!.toFloat32Array();
      const b = gpu.forward(gpu.embedTokens(toks.to('cuda')), gpu.createCache(2, 9), { logits: 'all' }).logits!.toFloat32Array();
      assertClose(b, a, dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 5e-2, atol: 5e-2 });
      gpu.dispose();
    }
  });

  it('greedy generation with an image mask picks the same tokens', async () => {
    const cpu = models.LlamaModel.random(TINY, { seed: 2, initStd: 0.3 });
    const gpu = models.LlamaModel.random(TINY, { seed: 2, initStd: 0.3, device: 'cuda' });
    const opts = { tokens: [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], maxNewTokens: 6, imageSpans: [[[1, 3]], [[0, 4]]], imageMask: { ratio: 0.5, seed: 3 } };
    const a = await models.generate(cpu, opts).result;
    const b = await models.generate(gpu, opts).result;
    assert.deepEqual(b.tokens.map((t) => Array.from(t)), a.tokens.map((t) => Array.from(t)));
    gpu.dispose();
  });
});
