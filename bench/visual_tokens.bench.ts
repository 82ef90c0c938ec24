import { empty, noise, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { visualTokensRef } from '../test/reference/visual_tokens';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

/**
 * NoiseBoost at LLaVA-1.5 shapes: B=16 sequences of L=1024 tokens of D=4096 with N=576 visual
 * tokens each (one span). In place: bytes = visual tokens read + written (rmw ceiling); out of
 * place: the whole tensor read + written (copy ceiling).
 */
export function run(ctx: BenchContext): void {
  const B = ctx.quick ? 2 : 16, L = 1024, N = 576, D = 4096;
  const cases: [FloatDType, boolean, 'absolute' | 'token-std', number][] = ctx.quick
    ? [['bfloat16', true, 'absolute', L]]
    : [
        ['bfloat16', true, 'absolute', L],
        ['float32', true, 'absolute', L],
        ['bfloat16', true, 'token-std', L],
        ['bfloat16', false, 'absolute', L],
        ['bfloat16', true, 'absolute', N], // visual tokens only: x [B, 576, D]
      ];
  for (const [dtype, inPlace, scale, seq] of cases) {
    const host = empty([B, seq, D], dtype);
    fillRandom(host, 1);
    const x = ctx.device === 'cuda' ? host.to('cuda') : host;
    const spans = Array.from({ length: B }, () => [[seq === N ? 0 : 35, N] as [number, number]]);
    const out = inPlace ? undefined : empty([B, seq, D], dtype, { device: x.device });
    const ms = timeMs(() => noise.visualTokens(x, { spans, scale, seed: 1, ...(inPlace ? { inPlace } : { out }) }), { ceiling: inPlace ? 'rmw' : 'copy' });
    const es = dtype === 'float32' ? 4 : 2;
    const bytes = inPlace ? 2 * B * N * D * es : 2 * x.byteLength;
    let baseline: Baseline | undefined;
    if (ctx.device === 'cpu') {
      const sub = 8; // tokens, then scaled to all visual tokens
      const held = decodeToFloat32(dtype, (host.data as Uint16Array).subarray(0, sub * D));
      const t = timeBaselineMs(() => visualTokensRef({ x: held, B: 1, N: sub, D, mask: new Uint8Array(sub).fill(1), sigma: 0.5, scale, prob: 1, seed: 1, offset: 0 }));
      baseline = { name: 'naive TS', ms: (t * B * N) / sub, extrapolated: { k: sub, n: B * N, unit: 'tokens' } };
    }
    ctx.record({ op: 'noise.visualTokens', case: `[${B}, ${seq}, ${D}] ${dtype} ${scale}${inPlace ? ' in place' : ''}`, device: ctx.device, ms, bytes, ceiling: inPlace ? 'rmw' : 'copy', baseline, torch: { op: 'visual_tokens', B, L: seq, D, start: seq === N ? 0 : 35, N, dtype, scale, inPlace, sigma: 0.5 } });
    if (x !== host) x.dispose();
    out?.dispose();
  }
}
