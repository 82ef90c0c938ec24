// ops.rotary in place at a 7B-like prefill shape: memory-bound, so GB/s against the ceilings.
import { ops, tensor, type FloatDType } from '../lib';
import { benchInput, timeMs, type BenchContext } from './harness';

export function run(ctx: BenchContext): void {
  const rows = ctx.quick ? 64 : 2048;
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const q = benchInput([1, 32, rows, 128], dtype, ctx.device);
    const pos = tensor(Int32Array.from({ length: rows }, (_, i) => i), [1, rows]);
    const p = ctx.device === 'cuda' ? pos.to('cuda') : pos;
    const ms3 = timeMs(() => ops.rotary(q.t, { positions: p, inPlace: true }), { ceiling: 'rmw' });
    ctx.record({ op: 'ops.rotary', case: `[1, 32, ${rows}, 128] ${dtype} in place`, device: ctx.device, ms: ms3, bytes: 2 * q.t.byteLength, ceiling: 'rmw', torch: { op: 'rotary', H: 32, T: rows, d: 128, dtype } });
    q.t.dispose();
  }

  // rotaryBackward in place on dy (the inverse rotation): read + write of dy
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const dy = benchInput([1, 32, rows, 128], dtype, ctx.device);
    const pos = tensor(Int32Array.from({ length: rows }, (_, i) => i), [1, rows]);
    const p = ctx.device === 'cuda' ? pos.to('cuda') : pos;
    const ms = timeMs(() => ops.rotaryBackward(dy.t, { positions: p, inPlace: true }), { ceiling: 'rmw' });
    ctx.record({ op: 'ops.rotaryBackward', case: `[1, 32, ${rows}, 128] ${dtype} in place`, device: ctx.device, ms, bytes: 2 * dy.t.byteLength, ceiling: 'rmw', torch: { op: 'rotary_backward', H: 32, T: rows, d: 128, dtype } });
    dy.t.dispose();
  }
}
