// ops.rotary in place at a 7B-like prefill shape: memory-bound, so GB/s against the ceilings.
import { empty, ops, tensor, type FloatDType, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { fillRandom, timeMs, type BenchContext } from './harness';

function make(shape: number[], dtype: FloatDType, device: 'cpu' | 'cuda'): { t: Tensor; host: Tensor } {
  const host = empty(shape, dtype);
  fillRandom(host, 2);
  return { t: device === 'cuda' ? host.to('cuda') : host, host };
}

export function run(ctx: BenchContext): void {
  const rows = ctx.quick ? 64 : 2048;
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const q = make([1, 32, rows, 128], dtype, ctx.device);
    const pos = tensor(Int32Array.from({ length: rows }, (_, i) => i), [1, rows]);
    const p = ctx.device === 'cuda' ? pos.to('cuda') : pos;
    const ms3 = timeMs(() => ops.rotary(q.t, { positions: p, inPlace: true }), { ceiling: 'rmw' });
    ctx.record({ op: 'ops.rotary', case: `[1, 32, ${rows}, 128] ${dtype} in place`, device: ctx.device, ms: ms3, bytes: 2 * q.t.byteLength, ceiling: 'rmw', torch: { op: 'rotary', H: 32, T: rows, d: 128, dtype } });
    q.t.dispose();
  }
}
