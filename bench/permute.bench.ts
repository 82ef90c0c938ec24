// permute [B, T, H, d] -> [B, H, T, d] (the decoder's q/k/v layout change): a copy, vs the copy ceiling.
import { empty, ops } from '../lib';
import { permuteRef } from '../test/reference/permute';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext } from './harness';

export function run(ctx: BenchContext): void {
  const shape = ctx.quick ? [1, 256, 32, 128] : [8, 1024, 32, 128];
  const host = empty(shape, 'bfloat16');
  fillRandom(host);
  const x = ctx.device === 'cuda' ? host.to('cuda') : host;
  const out = empty([shape[0]!, shape[2]!, shape[1]!, shape[3]!], 'bfloat16', { device: ctx.device });
  const ms = timeMs(() => ops.permute(x, [0, 2, 1, 3], { out }), { ceiling: 'copy' });
  const baseline = ctx.device === 'cpu' ? { name: 'naive TS', ms: timeBaselineMs(() => permuteRef(host.data, shape, [0, 2, 1, 3])) } : undefined;
  ctx.record({ op: 'ops.permute', case: `[${shape}] bf16 by [0,2,1,3]`, device: ctx.device, ms, bytes: 2 * x.byteLength, ceiling: 'copy', baseline, torch: { op: 'permute', shape, dtype: 'bfloat16' } });
  out.dispose();
  if (x !== host) x.dispose();
}
