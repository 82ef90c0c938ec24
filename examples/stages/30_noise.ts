/**
 * Demo stage: the perturbations behind NoiseBoost, VCD / BPO image weakening, NEFTune and DEEM at
 * LLaVA-1.5 shapes: hidden states [16, 1024, 4096] bfloat16 with 576 visual tokens per sequence,
 * CLIP images 16x3x336x336, SD latents 16x4x64x64. CPU, and CUDA when there is a GPU.
 */
import { cudaAvailable, noise, random, tensor, type Tensor } from '../../lib';
import { section, timed } from './util';

const B = 16, L = 1024, N = 576, D = 4096, FIRST = 35; // visual tokens at [35, 611) of each sequence

function pixels(): Tensor<'uint8'> {
  const d = new Uint8Array(B * 3 * 336 * 336);
  let s = 7;
  for (let i = 0; i < d.length; i++) d[i] = (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24;
  return tensor(d, [B, 3, 336, 336], { dtype: 'uint8' });
}

const gbps = (bytes: number, ms: number): string => `${(bytes / ms / 1e6).toFixed(1)} GB/s`;

export async function run(): Promise<void> {
  section('noise: NoiseBoost, diffusion noising (VCD/BPO/DEEM), NEFTune, noise-prediction loss');
  const spans = Array.from({ length: B }, () => [[FIRST, N] as [number, number]]);
  const chosen = Array.from({ length: B }, (_, b) => b < B / 2); // DPO: rows [chosen..., rejected...]

  // 1. NoiseBoost on the chosen rows of a DPO batch, in place, sigma 0.5
  const h = random.normal([B, L, D], { dtype: 'bfloat16', seed: 1 }); // hidden states of unit scale
  const before = (h.data as Uint16Array).slice(0, L * D);
  const [nb, nbMs] = await timed(() => noise.visualTokens(h, { spans, rows: chosen, sigma: 0.5, inPlace: true }));
  const text = (h.data as Uint16Array).subarray(0, FIRST * D).every((v, i) => v === before[i]);
  let sq = 0;
  const row = h.toFloat32Array().subarray(FIRST * D, (FIRST + N) * D);
  const orig = tensor(before.subarray(FIRST * D, (FIRST + N) * D), [N * D], { dtype: 'bfloat16' }).toFloat32Array();
  for (let i = 0; i < row.length; i++) sq += (row[i]! - orig[i]!) ** 2;
  console.log(
    `visualTokens [${B}, ${L}, ${D}] bf16, ${N} visual tokens x ${B / 2} chosen rows, in place: ${nbMs.toFixed(1)} ms (${gbps(2 * (B / 2) * N * D * 2, nbMs)});` +
      ` noise std ${Math.sqrt(sq / row.length).toFixed(3)} (sigma 0.5), text tokens untouched: ${text}, seed ${nb.seed}`,
  );
  const [, asyncMs] = await timed(() => noise.visualTokensAsync(h, { spans, scale: 'token-std', sigma: 0.1, inPlace: true, seed: nb.seed }));
  console.log(`visualTokensAsync, 'token-std' scale: ${asyncMs.toFixed(1)} ms, off the main thread`);

  // 2. VCD (t = 500) and BPO (t = 900) image weakening from raw CLIP pixels, one pass each
  const img = pixels();
  const sched = noise.schedule('vcd-sigmoid');
  for (const t of [500, 900]) {
    const [d, ms] = await timed(() => noise.diffuse(img, { t, normalize: 'clip', seed: 1 }));
    console.log(
      `diffuse uint8 [${B}, 3, 336, 336] -> float32 at t = ${t} (sqrt(abar) ${sched.sqrtAlphasCumprod[t]!.toFixed(4)}, sqrt(1 - abar) ${sched.sqrtOneMinusAlphasCumprod[t]!.toFixed(4)}): ${ms.toFixed(1)} ms (${gbps(img.byteLength * 5, ms)})`,
    );
    d.xt.dispose();
  }

  // 3. DEEM-style: noise latents at per-sample t, predict, weighted loss + gradient
  const z0 = random.normal([B, 4, 64, 64], { seed: 4 });
  const ts = Array.from({ length: B }, (_, b) => (b * 61) % 1000);
  const [lat, latMs] = await timed(() => noise.diffuse(z0, { t: ts, schedule: 'scaled-linear', returnNoise: true, seed: 2 }));
  const epsPred = random.normal([B, 4, 64, 64], { seed: 3, std: 0.1 });
  for (let i = 0; i < epsPred.numel; i++) epsPred.data[i]! += lat.eps!.data[i]!; // a "good" prediction
  const [loss, lossMs] = await timed(() => noise.predictionLoss(epsPred, lat.eps!, { minSnrGamma: 5, t: ts, schedule: 'scaled-linear' }));
  console.log(`diffuse latents [${B}, 4, 64, 64] + eps: ${latMs.toFixed(2)} ms; predictionLoss (min-SNR-5) + grad: ${lossMs.toFixed(2)} ms, loss ${loss.loss.data[0]!.toFixed(5)} (noise 0.1 -> mse ~0.01)`);

  // 4. NEFTune on padded embeddings, in place
  const lengths = Array.from({ length: B }, (_, b) => 640 + ((b * 97) % 385));
  const [nf, nfMs] = await timed(() => noise.neftune(h, { lengths, alpha: 5, inPlace: true }));
  console.log(`neftune [${B}, ${L}, ${D}] bf16, alpha 5, right padding: ${nfMs.toFixed(1)} ms, seed ${nf.seed}`);

  // 5. Counter-based randomness: same (seed, offset) -> same bits anywhere
  const [z, zMs] = await timed(() => random.normal([N * D * 4], { seed: 42 }));
  console.log(`random.normal ${z.numel} floats: ${zMs.toFixed(1)} ms (${(z.numel / zMs / 1e6).toFixed(2)} G/s)`);

  if (cudaAvailable()) {
    const gh = h.to('cuda');
    noise.visualTokens(gh, { spans, inPlace: true, seed: 1 });
    const [, gMs] = await timed(() => noise.visualTokens(gh, { spans, inPlace: true, seed: 1 }));
    const gimg = img.to('cuda');
    noise.diffuse(gimg, { t: 500, normalize: 'clip', seed: 1 }).xt.dispose();
    const [gd, gdMs] = await timed(() => noise.diffuse(gimg, { t: 500, normalize: 'clip', seed: 1 }));
    const cpuD = noise.diffuse(img, { t: 500, normalize: 'clip', seed: 1 }).xt.data as Float32Array;
    const gpuD = gd.xt.to('cpu').data as Float32Array;
    let diff = 0;
    for (let i = 0; i < cpuD.length; i++) diff = Math.max(diff, Math.abs(cpuD[i]! - gpuD[i]!));
    const bits = random.bits([1 << 20], { seed: 9, device: 'cuda' }).to('cpu').data;
    const same = random.bits([1 << 20], { seed: 9 }).data.every((v, i) => v === bits[i]);
    console.log(
      `CUDA: visualTokens in place ${gMs.toFixed(2)} ms (${gbps(2 * B * N * D * 2, gMs)}), diffuse uint8 images ${gdMs.toFixed(2)} ms (${gbps(img.byteLength * 5, gdMs)}),` +
        ` max |GPU - CPU| ${diff.toExponential(1)}, Philox bits identical: ${same}`,
    );
    gh.dispose();
    gimg.dispose();
    gd.xt.dispose();
  }
}
