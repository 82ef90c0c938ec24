// ops.rmsNorm at a 7B-like decode/prefill shape: memory-bound, so GB/s against the ceilings.
import { empty, ops, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { rmsNormRef } from '../test/reference/rms_norm';
import { benchInput, timeBaselineMs, timeMs, type BenchContext } from './harness';

export function run(ctx: BenchContext): void {
  const rows = ctx.quick ? 64 : 2048;
  const D = 4096;
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const x = benchInput([rows, D], dtype, ctx.device);
    const w = benchInput([D], dtype, ctx.device);
    const out = empty([rows, D], dtype, { device: ctx.device });
    const ms = timeMs(() => ops.rmsNorm(x.t, w.t, { out }), { ceiling: 'copy' });
    let baseline: { name: string; ms: number } | undefined;
    if (ctx.device === 'cpu') {
      const xs = decodeToFloat32(dtype, x.host.data);
      const ws = decodeToFloat32(dtype, w.host.data);
      baseline = { name: 'naive TS', ms: timeBaselineMs(() => rmsNormRef(xs, ws, rows, D, 1e-6)) };
    }
    ctx.record({ op: 'ops.rmsNorm', case: `[${rows}, ${D}] ${dtype}`, device: ctx.device, ms, bytes: 2 * x.t.byteLength, ceiling: 'copy', baseline, torch: { op: 'rms_norm', rows, D, dtype } });

    for (const t of [x.t, w.t, out]) t.dispose();
  }

  // rmsNormBackward: reads dy and x, writes dx (dWeight [D] is negligible); D 2048 and 4096
  for (const D of [2048, 4096])
    for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
      const x = benchInput([rows, D], dtype, ctx.device);
      const dy = benchInput([rows, D], dtype, ctx.device);
      const w = benchInput([D], 'float32', ctx.device);
      const dx = empty([rows, D], dtype, { device: ctx.device });
      const dw = empty([D], 'float32', { device: ctx.device });
      const ms = timeMs(() => ops.rmsNormBackward(dy.t, x.t, w.t, { out: dx, dWeightOut: dw }), { ceiling: 'copy' });
      ctx.record({ op: 'ops.rmsNormBackward', case: `[${rows}, ${D}] ${dtype}`, device: ctx.device, ms, bytes: 3 * x.t.byteLength, ceiling: 'copy', torch: { op: 'rms_norm_backward', rows, D, dtype } });
      for (const t of [x.t, dy.t, w.t, dx, dw]) t.dispose();
    }
}
