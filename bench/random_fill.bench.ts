import { empty, random, type FloatDType } from '../lib';
import { Stream } from '../test/reference/random_fill';
import { timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

/**
 * random.normal / uniform / bits into a preallocated tensor: bytes written, against the write ceiling
 * (non-temporal fill). Baseline: the TS Philox stream on 2^16 values, scaled (labelled).
 * PyTorch: torch.randn / rand / randint with out= (its own generator, not Philox-compatible).
 */
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
    const ms = timeMs(f, { ceiling: 'write' });
    let baseline: Baseline | undefined;
    if (ctx.device === 'cpu') {
      const sub = 1 << 16;
      const s = new Stream(1, 0);
      const g = kind === 'bits' ? () => s.words(0, sub) : kind === 'uniform' ? () => s.uniforms(0, sub) : () => s.normals(0, sub);
      baseline = { name: 'naive TS', ms: (timeBaselineMs(g) * n) / sub, extrapolated: { k: sub, n, unit: 'values' } };
    }
    ctx.record({ op: `random.${kind}`, case: `[${n}] ${dtype}`, device: ctx.device, ms, bytes: out.byteLength, ceiling: 'write', baseline, torch: { op: 'random', kind, n, dtype }, note: `${(n / ms / 1e6).toFixed(2)} G values/s` });
    out.dispose();
  }
}
