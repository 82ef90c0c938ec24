import { empty, random, type FloatDType } from '../lib';
import { Stream } from '../test/reference/random_fill';
import { timeMs, type BenchContext } from './harness';

/** random.normal / uniform / bits into a preallocated tensor: bytes written, against the copy ceiling. */
export function run(ctx: BenchContext): void {
  const n = ctx.quick ? 1 << 22 : 16 * 576 * 4096; // NoiseBoost noise for B=16, N=576, D=4096
  const cases: ['normal' | 'uniform' | 'bits', FloatDType | 'int32'][] = ctx.quick
    ? [['normal', 'float32']]
    : [['normal', 'float32'], ['normal', 'bfloat16'], ['uniform', 'float32'], ['bits', 'int32']];
  const dev = ctx.device === 'cuda' ? 'cuda' : 'cpu';
  for (const [kind, dtype] of cases) {
    const out = empty([n], dtype, { device: dev });
    const f =
      kind === 'bits'
        ? () => random.bits([n], { seed: 1, out: out as never })
        : kind === 'uniform'
          ? () => random.uniform([n], { seed: 1, out })
          : () => random.normal([n], { seed: 1, out });
    const ms = timeMs(f);
    let baseline: { name: string; ms: number } | undefined;
    if (ctx.device === 'cpu') {
      const sub = 1 << 16;
      const s = new Stream(1, 0);
      const g = kind === 'bits' ? () => s.words(0, sub) : kind === 'uniform' ? () => s.uniforms(0, sub) : () => s.normals(0, sub);
      baseline = { name: 'naive TS', ms: (timeMs(g, { warmup: 1, reps: 3 }) * n) / sub };
    }
    ctx.record({ op: `random.${kind}`, case: `[${n}] ${dtype}`, device: ctx.device, ms, bytes: out.byteLength, ceiling: 'copy', baseline, note: `${(n / ms / 1e6).toFixed(2)} G values/s; bytes = written only` });
    out.dispose();
  }
}
