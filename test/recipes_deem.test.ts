/**
 * recipes.deemStep: mmpref noises x0, calls the user's denoiser, computes the noise-prediction
 * loss and hands its gradient to the user's backward. A one-parameter denoiser (epsPred = w * xt)
 * trained by plain gradient descent through that gradient lowers the loss.
 */
import { describe, expect, it } from 'vitest';
import { recipes, tensor, type Tensor } from '../lib';

describe('recipes.deemStep', () => {
  it('trains a user denoiser through the gradient it hands back', async () => {
    const x0 = tensor(Float32Array.from({ length: 4 * 32 }, (_, i) => Math.sin(i)), [4, 32]);
    let w = 0;
    let lastX: Float32Array = new Float32Array();
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const r = await recipes.deemStep({
        x0,
        seed: 3,
        step,
        t: 900,
        denoiser: (xt) => {
          lastX = Float32Array.from(xt.toFloat32Array());
          return tensor(lastX.map((v) => w * v), xt.shape);
        },
        backward: (g: Tensor) => {
          const gv = g.toFloat32Array();
          w -= 0.5 * gv.reduce((s, v, i) => s + v * lastX[i]!, 0); // d loss / dw = sum(g * xt)
        },
      });
      expect(r.t).toEqual(Int32Array.from([900, 900, 900, 900]));
      expect(r.perSample).toHaveLength(4);
      losses.push(r.loss);
    }
    expect(losses[0]).toBeGreaterThan(0.5); // w = 0 predicts nothing: the loss is the noise's mean square, ~1
    expect(losses[19]!).toBeLessThan(losses[0]! * 0.5);
    expect(w).toBeGreaterThan(0.5); // at t = 900 x_t is mostly noise
  });

  it('draws t per sample from the seed and step; bad use is typed', async () => {
    const x0 = tensor(new Float32Array(3 * 4), [3, 4]);
    const run = (step: number) => recipes.deemStep({ x0, seed: 1, step, denoiser: (xt) => xt, backward: () => {} });
    const a = await run(0), b = await run(0), c = await run(1);
    expect(a.t).toEqual(b.t);
    expect(a.t).not.toEqual(c.t);
    for (const v of a.t) expect(v >= 0 && v < 1000).toBe(true);
    await expect(recipes.deemStep({ x0, denoiser: 1 as never, backward: () => {} })).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
  });
});
