/**
 * similarity.cosine at BDHS rejection shapes (all-mpnet-base-v2 embeddings, E = 768): candidates x
 * a bank of references (all pairs: compute-bound, GFLOP/s against the FMA ceiling) and paired rows
 * (memory-bound: read ceiling); baseline: the float64 TS reference on a subset of rows, scaled
 * (labelled). Bytes: both embedding matrices read once, the similarities written once.
 * PyTorch: F.normalize + matmul (all pairs) or F.cosine_similarity (paired).
 */
import { empty, similarity } from '../lib';
import { cosineRef } from '../test/reference/cosine';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

export function run(ctx: BenchContext): void {
  const cases: [number, number, number, boolean][] = ctx.quick
    ? [[16, 256, 768, false]]
    : [
        [64, 4096, 768, false],
        [4096, 4096, 768, true],
        [1024, 1024, 768, false],
      ];
  for (const [n, m, e, paired] of cases) {
    const ha = empty([n, e]);
    const hb = empty([m, e]);
    fillRandom(ha, 1);
    fillRandom(hb, 1);
    const dev = ctx.device === 'cuda';
    const [a, b] = dev ? [ha.to('cuda'), hb.to('cuda')] : [ha, hb];
    const ms = timeMs(() => similarity.cosine(a, b, { paired }).dispose(), { ceiling: paired ? 'read' : 'fma-f32' });
    let baseline: Baseline | undefined;
    if (!dev) {
      const sub = paired || n * m <= 64 * 4096 ? n : 4; // whole problem up to about 1 s
      baseline = { name: 'naive TS', ms: (timeBaselineMs(() => cosineRef(ha.data.subarray(0, sub * e), hb.data, sub, paired ? sub : m, e, paired)) * n) / sub, ...(sub < n ? { extrapolated: { k: sub, n, unit: 'rows' } } : {}) };
    }
    const out = paired ? n : n * m;
    ctx.record({ op: 'similarity.cosine', case: `[${n}, ${e}] x [${m}, ${e}]${paired ? ' paired' : ''} float32`, device: ctx.device, ms, bytes: (n * e + m * e + out) * 4, ceiling: paired ? 'read' : 'fma-f32', flops: paired ? undefined : 2 * n * m * e, baseline, torch: { op: 'cosine', n, m, e, paired } });
    if (dev) [a, b].forEach((t) => t.dispose());
  }
}
