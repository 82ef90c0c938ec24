import { empty, ops, type FloatDType } from '../lib';
import { logSumExpRef } from '../test/reference/log_sum_exp';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

export function run(ctx: BenchContext): void {
  const cases: [number, number, FloatDType][] = ctx.quick
    ? [[256, 32000, 'float32']]
    : [
        [4096, 32000, 'float32'],
        [4096, 32000, 'bfloat16'],
        [8, 1 << 20, 'float32'],
      ];
  for (const [rows, cols, dtype] of cases) {
    const host = empty([rows, cols], dtype);
    fillRandom(host);
    const x = ctx.device === 'cuda' ? host.to('cuda') : host;
    const out = empty([rows], 'float32', { device: ctx.device });
    const ms = timeMs(() => ops.logSumExp(x, { out }), { ceiling: 'read' });
    // naive TS baseline on the CPU (float64 loops), on a slice of rows, scaled to the full size
    let baseline: Baseline | undefined;
    if (ctx.device === 'cpu') {
      const sub = rows * cols <= 1.2e7 ? rows : Math.max(1, Math.floor(4e6 / cols));
      const f = host.toFloat32Array().subarray(0, sub * cols);
      baseline = { name: 'naive TS', ms: (timeBaselineMs(() => logSumExpRef(f, sub, cols)) * rows) / sub, ...(sub < rows ? { extrapolated: { k: sub, n: rows, unit: 'rows' } } : {}) };
    }
    ctx.record({ op: 'ops.logSumExp', case: `[${rows}, ${cols}] ${dtype}`, device: ctx.device, ms, bytes: x.byteLength + rows * 4, ceiling: 'read', baseline, torch: { op: 'logsumexp', rows, cols, dtype } });
    if (x !== host) x.dispose();
    out.dispose();
  }
}
