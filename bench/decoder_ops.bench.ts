// Decoder layer ops at a 7B-like decode/prefill shape: memory-bound, so GB/s against the ceilings.
// Baselines: the TS references on the whole problem. PyTorch: F.rms_norm, F.silu(g) * u, HF-style rotate_half.
import { empty, ops, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { rmsNormRef, swigluRef } from '../test/reference/decoder_ops';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext } from './harness';

function make(shape: number[], dtype: FloatDType, device: 'cpu' | 'cuda'): { t: Tensor; host: Tensor } {
  const host = empty(shape, dtype);
  fillRandom(host, 2);
  return { t: device === 'cuda' ? host.to('cuda') : host, host };
}

export function run(ctx: BenchContext): void {
  const rows = ctx.quick ? 64 : 2048;
  const D = 4096;
  const I = 11008;
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const x = make([rows, D], dtype, ctx.device);
    const w = make([D], dtype, ctx.device);
    const out = empty([rows, D], dtype, { device: ctx.device });
    const ms = timeMs(() => ops.rmsNorm(x.t, w.t, { out }), { ceiling: 'copy' });
    let baseline: { name: string; ms: number } | undefined;
    if (ctx.device === 'cpu') {
      const xs = decodeToFloat32(dtype, x.host.data);
      const ws = decodeToFloat32(dtype, w.host.data);
      baseline = { name: 'naive TS', ms: timeBaselineMs(() => rmsNormRef(xs, ws, rows, D, 1e-6)) };
    }
    ctx.record({ op: 'ops.rmsNorm', case: `[${rows}, ${D}] ${dtype}`, device: ctx.device, ms, bytes: 2 * x.t.byteLength, ceiling: 'copy', baseline, torch: { op: 'rms_norm', rows, D, dtype } });

    const g = make([rows, I], dtype, ctx.device);
    const u = make([rows, I], dtype, ctx.device);
    const o2 = empty([rows, I], dtype, { device: ctx.device });
    const ms2 = timeMs(() => ops.swiglu(g.t, u.t, { out: o2 }), { ceiling: 'copy' });
    let b2: { name: string; ms: number } | undefined;
    if (ctx.device === 'cpu') {
      const gs = decodeToFloat32(dtype, g.host.data);
      const us = decodeToFloat32(dtype, u.host.data);
      b2 = { name: 'naive TS', ms: timeBaselineMs(() => swigluRef(gs, us)) };
    }
    ctx.record({ op: 'ops.swiglu', case: `[${rows}, ${I}] ${dtype}`, device: ctx.device, ms: ms2, bytes: 3 * g.t.byteLength, ceiling: 'copy', baseline: b2, torch: { op: 'swiglu', rows, I, dtype } });

    const q = make([1, 32, rows, 128], dtype, ctx.device);
    const pos = tensor(Int32Array.from({ length: rows }, (_, i) => i), [1, rows]);
    const p = ctx.device === 'cuda' ? pos.to('cuda') : pos;
    const ms3 = timeMs(() => ops.rotary(q.t, { positions: p, inPlace: true }), { ceiling: 'rmw' });
    ctx.record({ op: 'ops.rotary', case: `[1, 32, ${rows}, 128] ${dtype} in place`, device: ctx.device, ms: ms3, bytes: 2 * q.t.byteLength, ceiling: 'rmw', torch: { op: 'rotary', H: 32, T: rows, d: 128, dtype } });
    for (const t of [x.t, w.t, out, g.t, u.t, o2, q.t]) t.dispose();
  }
}
