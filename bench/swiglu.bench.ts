// ops.swiglu at a 7B-like MLP shape: memory-bound, so GB/s against the ceilings.
import { empty, ops, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { swigluRef } from '../test/reference/swiglu';
import { benchInput, timeBaselineMs, timeMs, type BenchContext } from './harness';

export function run(ctx: BenchContext): void {
  const rows = ctx.quick ? 64 : 2048;
  const I = 11008;
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const g = benchInput([rows, I], dtype, ctx.device);
    const u = benchInput([rows, I], dtype, ctx.device);
    const o2 = empty([rows, I], dtype, { device: ctx.device });
    const ms2 = timeMs(() => ops.swiglu(g.t, u.t, { out: o2 }), { ceiling: 'copy' });
    let b2: { name: string; ms: number } | undefined;
    if (ctx.device === 'cpu') {
      const gs = decodeToFloat32(dtype, g.host.data);
      const us = decodeToFloat32(dtype, u.host.data);
      b2 = { name: 'naive TS', ms: timeBaselineMs(() => swigluRef(gs, us)) };
    }
    ctx.record({ op: 'ops.swiglu', case: `[${rows}, ${I}] ${dtype}`, device: ctx.device, ms: ms2, bytes: 3 * g.t.byteLength, ceiling: 'copy', baseline: b2, torch: { op: 'swiglu', rows, I, dtype } });

    for (const t of [g.t, u.t, o2]) t.dispose();
  }

  // swigluBackward: reads dy, gate, up, writes dGate, dUp
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const g = benchInput([rows, I], dtype, ctx.device);
    const u = benchInput([rows, I], dtype, ctx.device);
    const dy = benchInput([rows, I], dtype, ctx.device);
    const dg = empty([rows, I], dtype, { device: ctx.device });
    const du = empty([rows, I], dtype, { device: ctx.device });
    const ms = timeMs(() => ops.swigluBackward(dy.t, g.t, u.t, { dGateOut: dg, dUpOut: du }), { ceiling: 'copy' });
    ctx.record({ op: 'ops.swigluBackward', case: `[${rows}, ${I}] ${dtype}`, device: ctx.device, ms, bytes: 5 * g.t.byteLength, ceiling: 'copy', torch: { op: 'swiglu_backward', rows, I, dtype } });
    for (const t of [g.t, u.t, dy.t, dg, du]) t.dispose();
  }
}
