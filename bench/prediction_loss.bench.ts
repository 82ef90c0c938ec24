import { empty, noise, type FloatDType, type Tensor } from '../lib';
import { predictionLossRef } from '../test/reference/prediction_loss';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext } from './harness';

/**
 * Noise-prediction MSE with its gradient (DEEM feedback): latents [16, 4, 64, 64] and pixel-space
 * [16, 3, 336, 336]. bytes = both inputs read + gradient written (copy ceiling); without the
 * gradient, both inputs read (read ceiling).
 */
export function run(ctx: BenchContext): void {
  const cases: [number[], FloatDType, boolean][] = ctx.quick
    ? [[[16, 4, 64, 64], 'float32', true]]
    : [
        [[16, 4, 64, 64], 'float32', true],
        [[16, 3, 336, 336], 'float32', true],
        [[16, 3, 336, 336], 'bfloat16', true],
        [[16, 3, 336, 336], 'float32', false],
      ];
  for (const [shape, dtype, grad] of cases) {
    const mk = (): Tensor => {
      const h = empty(shape, dtype);
      fillRandom(h, 1);
      return ctx.device === 'cuda' ? h.to('cuda') : h;
    };
    const p = mk();
    const e = mk();
    const ms = timeMs(
      () => {
        const r = noise.predictionLoss(p, e, { grad, minSnrGamma: 5, t: 500 });
        if (ctx.device === 'cuda') for (const t of [r.loss, r.perSample, r.weights, r.grad]) t?.dispose();
      },
      { ceiling: grad ? 'copy' : 'read' },
    );
    let baseline: { name: string; ms: number } | undefined;
    if (ctx.device === 'cpu') {
      const pf = p.toFloat32Array();
      const ef = e.toFloat32Array();
      baseline = { name: 'naive TS', ms: timeBaselineMs(() => predictionLossRef(pf, ef, shape[0]!, null)) };
    }
    const bytes = p.byteLength * (grad ? 3 : 2);
    ctx.record({ op: 'noise.predictionLoss', case: `[${shape.join(', ')}] ${dtype}${grad ? ' + grad' : ''}`, device: ctx.device, ms, bytes, ceiling: grad ? 'copy' : 'read', baseline, torch: { op: 'prediction_loss', shape, dtype, grad } });
    if (ctx.device === 'cuda') {
      p.dispose();
      e.dispose();
    }
  }
}
