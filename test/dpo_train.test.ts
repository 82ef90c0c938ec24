// Runs examples/dpo-train.ts at a small size: the DPO loss must fall and the reward accuracy rise.
import { describe, expect, it } from 'vitest';
import { trainDpo } from '../examples/dpo-train';

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

describe('examples/dpo-train.ts', () => {
  for (const [dtype, type] of [['float32', 'sigmoid'], ['bfloat16', 'sigmoid'], ['float32', 'ipo']] as const)
    it(`trains a bigram policy with DPO (${dtype} logits, ${type})`, () => {
      const res = trainDpo({ steps: 200, pairs: 4, vocab: 16, seqLen: 12, dtype, type, seed: 3, beta: type === 'ipo' ? 0.5 : 0.1 });
      expect(res.losses).toHaveLength(200);
      expect(res.accuracies[0]).toBe(0); // policy == reference: every reward is 0, ties count 0
      if (type === 'sigmoid') expect(res.losses[0]).toBeCloseTo(Math.LN2, 6);
      const first = mean(res.losses.slice(0, 20));
      const last = mean(res.losses.slice(-20));
      expect(last).toBeLessThan(0.75 * first);
      expect(mean(res.accuracies.slice(-20))).toBeGreaterThan(0.9);
      expect(mean(res.margins.slice(-20))).toBeGreaterThan(mean(res.margins.slice(0, 20)));
    });
});
