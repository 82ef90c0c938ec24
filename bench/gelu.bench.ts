// ops.gelu / ops.geluBackward at the LLaVA projector's shape (hidden 4096; 2048 rows): memory-bound,
// so GB/s against the ceilings; PyTorch: F.gelu and aten.gelu_backward (the kernel autograd runs).
import { empty, ops, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { geluBackwardRef, geluRef } from '../test/reference/gelu';
import { benchInput, timeBaselineMs, timeMs, type BenchContext } from './harness';

export function run(ctx: BenchContext): void {
  const rows = ctx.quick ? 64 : 2048;
  const D = 4096;
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const x = benchInput([rows, D], dtype, ctx.device);
    const dy = benchInput([rows, D], dtype, ctx.device);
    const out = empty([rows, D], dtype, { device: ctx.device });
    for (const approximate of ['none', 'tanh'] as const) {
      const tanh = approximate === 'tanh';
      const xs = ctx.device === 'cpu' ? decodeToFloat32(dtype, x.host.data) : null;
      const ms = timeMs(() => ops.gelu(x.t, { approximate, out }), { ceiling: 'copy' });
      const b1 = xs ? { name: 'naive TS', ms: timeBaselineMs(() => geluRef(xs, tanh)) } : undefined;
      ctx.record({ op: 'ops.gelu', case: `[${rows}, ${D}] ${dtype} ${approximate}`, device: ctx.device, ms, bytes: 2 * x.t.byteLength, ceiling: 'copy', baseline: b1, torch: { op: 'gelu', rows, D, dtype, approximate } });
      const msb = timeMs(() => ops.geluBackward(dy.t, x.t, { approximate, out }), { ceiling: 'copy' });
      const ds = xs ? decodeToFloat32(dtype, dy.host.data) : null;
      const b2 = xs && ds ? { name: 'naive TS', ms: timeBaselineMs(() => geluBackwardRef(ds, xs, tanh)) } : undefined;
      ctx.record({ op: 'ops.geluBackward', case: `[${rows}, ${D}] ${dtype} ${approximate}`, device: ctx.device, ms: msb, bytes: 3 * x.t.byteLength, ceiling: 'copy', baseline: b2, torch: { op: 'gelu_backward', rows, D, dtype, approximate } });
    }
    for (const t of [x.t, dy.t, out]) t.dispose();
  }
}
