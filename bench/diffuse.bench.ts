import { empty, noise, tensor, type Tensor } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { alphasCumprodRef, betasRef, diffuseRef } from '../test/reference/diffuse';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

/**
 * Diffusion forward noising: VCD/BPO on a batch of CLIP images 16x3x336x336 (uint8 pixels ->
 * normalised float32 x_t in one pass, or float32 already normalised) and DEEM-style latents
 * 16x4x64x64 with the noise returned. bytes = inputs read + outputs written (copy ceiling).
 */
export function run(ctx: BenchContext): void {
  const B = ctx.quick ? 4 : 16;
  const abar = alphasCumprodRef(betasRef('vcd-sigmoid', 1000));
  const cases: [string, Tensor, boolean][] = [];
  const r = new Uint8Array(B * 3 * 336 * 336);
  let s = 12345;
  for (let i = 0; i < r.length; i++) r[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
  cases.push(['uint8 -> float32 clip', tensor(r, [B, 3, 336, 336], { dtype: 'uint8' }), false]);
  if (!ctx.quick) {
    const f = empty([B, 3, 336, 336]);
    fillRandom(f, 2);
    cases.push(['float32', f, false]);
    const lat = empty([B, 4, 64, 64], 'bfloat16');
    fillRandom(lat, 1);
    cases.push(['latents bfloat16 + eps', lat, true]);
  }
  for (const [name, host, returnNoise] of cases) {
    const x = ctx.device === 'cuda' ? host.to('cuda') : host;
    const u8 = host.dtype === 'uint8';
    const out = empty(host.shape, u8 ? 'float32' : host.dtype, { device: x.device }); // x_t preallocated (a training loop reuses it)
    const opts = { t: 500, seed: 1, returnNoise, out, ...(u8 ? { normalize: 'clip' as const } : {}) };
    const ms = timeMs(
      () => {
      const res = noise.diffuse(x, opts);
        if (ctx.device === 'cuda') res.eps?.dispose();
      },
      { ceiling: 'copy' },
    );
    const outBytes = host.numel * (u8 ? 4 : host.dtype === 'float32' ? 4 : 2) + (returnNoise ? host.numel * 4 : 0);
    let baseline: Baseline | undefined;
    if (ctx.device === 'cpu') {
      const S = host.numel / B;
      const held = u8 ? (host.data as Uint8Array).subarray(0, S) : decodeToFloat32(host.dtype, (host.data as Float32Array).subarray(0, S));
      const norm = u8 ? { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711], channel: (j: number) => Math.floor(j / (336 * 336)) } : undefined;
      baseline = { name: 'naive TS', ms: timeBaselineMs(() => diffuseRef({ x: held, B: 1, t: [500], abar, seed: 1, offset: 0, norm })) * B, extrapolated: { k: 1, n: B, unit: 'images' } };
    }
    ctx.record({ op: 'noise.diffuse', case: `[${host.shape.join(', ')}] ${name}`, device: ctx.device, ms, bytes: host.byteLength + outBytes, ceiling: 'copy', baseline, torch: { op: 'diffuse', shape: host.shape, dtype: host.dtype, returnNoise } });
    if (x !== host) x.dispose();
    out.dispose();
  }
}
