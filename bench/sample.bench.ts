/**
 * sampling.sample at decoder batch shapes (B = 64; V = 32000 LLaMA-2/Vicuna, 128256 LLaMA-3) vs a
 * sort-based TypeScript sampler in Hugging Face order (test/reference/sample.ts) in the same run.
 * Bytes: the logits, read once (an ideal sampler), plus the two outputs.
 */
import { empty, sampling, type FloatDType } from '../lib';
import { sampleSortRef, type SampleRefOptions } from '../test/reference/sample';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

const SETTINGS: [string, Omit<SampleRefOptions, 'history'>][] = [
  ['plain', {}],
  ['topP 0.9', { topP: 0.9 }],
  ['topK 50 topP 0.9 T 0.7', { topK: 50, topP: 0.9, temperature: 0.7 }],
];

export function run(ctx: BenchContext): void {
  const cases: [number, number, FloatDType][] = ctx.quick
    ? [[8, 32000, 'float32']]
    : [
        [64, 32000, 'float32'],
        [64, 32000, 'bfloat16'],
        [64, 128256, 'float32'],
        [64, 128256, 'bfloat16'],
      ];
  for (const [B, V, dtype] of cases) {
    const host = empty([B, V], dtype);
    fillRandom(host, 4);
    const x = ctx.device === 'cuda' ? host.to('cuda') : host;
    for (const [name, o] of ctx.quick ? SETTINGS.slice(1, 2) : SETTINGS) {
      let step = 0;
      const ms = timeMs(
        () => {
          const r = sampling.sample(x, { ...o, seed: 1, step: step++ });
          r.tokens.dispose();
          r.logprobs.dispose();
        },
        { ceiling: 'read' },
      );
      // sort-based TS sampler on a few rows, scaled to the batch
      let baseline: Baseline | undefined;
      if (ctx.device === 'cpu') {
        const sub = ctx.quick ? 1 : 2;
        const f = host.toFloat32Array().subarray(0, sub * V);
        const u = Float64Array.from({ length: sub }, (_, i) => (i + 0.5) / sub);
        baseline = { name: 'sort-based TS', ms: (timeBaselineMs(() => sampleSortRef(f, sub, V, o, u)) * B) / sub, extrapolated: { k: sub, n: B, unit: 'rows' } };
      }
      ctx.record({ op: 'sampling.sample', case: `[${B}, ${V}] ${dtype} ${name}`, device: ctx.device, ms, bytes: x.byteLength + B * 8, ceiling: 'read', baseline, torch: { op: 'sample', B, V, dtype, ...o } });
    }
    if (x !== host) x.dispose();
  }
}
