import { empty, noise } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { neftuneRef } from '../test/reference/neftune';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

/** NEFTune in place on token embeddings [16, 1024, 4096] bfloat16 with right padding: bytes = real positions read + written (rmw). */
export function run(ctx: BenchContext): void {
  const B = ctx.quick ? 2 : 16, L = 1024, D = 4096;
  const host = empty([B, L, D], 'bfloat16');
  fillRandom(host, 1);
  const x = ctx.device === 'cuda' ? host.to('cuda') : host;
  const lengths = Array.from({ length: B }, (_, b) => 600 + ((b * 97) % 425));
  const ms = timeMs(() => noise.neftune(x, { lengths, alpha: 5, seed: 1, inPlace: true }), { ceiling: 'rmw' });
  const real = lengths.reduce((a, b) => a + b, 0);
  let baseline: Baseline | undefined;
  if (ctx.device === 'cpu') {
    const sub = 8;
    const held = decodeToFloat32('bfloat16', (host.data as Uint16Array).subarray(0, sub * D));
    baseline = { name: 'naive TS', ms: (timeBaselineMs(() => neftuneRef({ x: held, B: 1, L: sub, D, alpha: 5, norm: 'length', seed: 1, offset: 0 })) * real) / sub, extrapolated: { k: sub, n: real, unit: 'tokens' } };
  }
  ctx.record({ op: 'noise.neftune', case: `[${B}, ${L}, ${D}] bfloat16 in place`, device: ctx.device, ms, bytes: 2 * real * D * 2, ceiling: 'rmw', baseline, torch: { op: 'neftune', B, L, D, lengths, alpha: 5 } });
  if (x !== host) x.dispose();
}
