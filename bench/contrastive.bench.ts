/**
 * sampling.contrastive (VCD) at decoding shapes: two logit matrices read, one float32 written
 * (ceiling: copy, read + write). Baseline: the float64 TS reference on a subset of rows, scaled
 * (labelled). PyTorch: the VCD formula in eager ops (cutoff, difference, mask).
 */
import { empty, sampling, type FloatDType } from '../lib';
import { contrastiveRef } from '../test/reference/contrastive';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

export function run(ctx: BenchContext): void {
  const cases: [number, number, FloatDType][] = ctx.quick ? [[8, 32000, 'float32']] : [[64, 32000, 'bfloat16'], [64, 128256, 'float32']];
  for (const [B, V, dtype] of cases) {
    const hl = empty([B, V], dtype);
    const hd = empty([B, V], dtype);
    fillRandom(hl, 4);
    fillRandom(hd, 4);
    const dev = ctx.device === 'cuda';
    const [l, d] = dev ? [hl.to('cuda'), hd.to('cuda')] : [hl, hd];
    const ms = timeMs(() => sampling.contrastive(l, d, { alpha: 1, beta: 0.1 }).dispose(), { ceiling: 'copy' });
    let baseline: Baseline | undefined;
    if (!dev) {
      const sub = B; // the whole problem (about 0.2 s)
      const lf = hl.toFloat32Array().subarray(0, sub * V);
      const df = hd.toFloat32Array().subarray(0, sub * V);
      baseline = { name: 'naive TS', ms: (timeBaselineMs(() => contrastiveRef(lf, df, sub, V, 1, 0.1)) * B) / sub, ...(sub < B ? { extrapolated: { k: sub, n: B, unit: 'rows' } } : {}) };
    }
    ctx.record({ op: 'sampling.contrastive', case: `[${B}, ${V}] ${dtype}`, device: ctx.device, ms, bytes: l.byteLength * 2 + B * V * 4, ceiling: 'copy', baseline, torch: { op: 'vcd', B, V, dtype, alpha: 1, beta: 0.1 } });
    if (dev) [l, d].forEach((t) => t.dispose());
  }
}
