/**
 * ops.crossEntropy at LLaMA-like [N, V] = [4096, 32000] and [2048, 128256], float32 and bfloat16,
 * every row scored, reduction 'mean':
 * - forward only ('read' ceiling: the logits are read once);
 * - forward + gradient written over the logits in the same call ('rmw' ceiling: one read and one
 *   write of the logits, the least any fused loss + gradient can move).
 * Baseline: the float64 reference loops of test/reference (a straightforward TS implementation)
 * on a slice of rows, scaled (labelled). PyTorch (--torch): eager F.cross_entropy on the logits
 * upcast to float32 as Hugging Face's ForCausalLMLoss does, then .backward() for the second row.
 */
import { empty, ops, tensor, type FloatDType, type Tensor } from '../lib';
import { crossEntropyGradRef, crossEntropyRef } from '../test/reference/cross_entropy';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

type Case = [N: number, V: number, dtype: FloatDType];

/** Logit-like data: float32 uniform in [-4, 4] (harness fillRandom); bfloat16 with |x| in [2^-7, 8). */
function fillLogits(t: Tensor): void {
  if (t.dtype === 'float32') return fillRandom(t);
  const d = t.data as Uint16Array;
  let s = 0x9e3779b9;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = ((120 + ((s >>> 16) % 10)) << 7) | (s & 0x7f) | (s & 0x8000);
  }
}

export function run(ctx: BenchContext): void {
  const cases: Case[] = ctx.quick
    ? [[512, 32000, 'float32'], [512, 32000, 'bfloat16']]
    : [[4096, 32000, 'float32'], [4096, 32000, 'bfloat16'], [2048, 128256, 'float32'], [2048, 128256, 'bfloat16']];
  for (const [N, V, dtype] of cases) {
    const host = empty([N, V], dtype);
    fillLogits(host);
    const lab = new Int32Array(N);
    let s = 12345;
    for (let i = 0; i < N; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      lab[i] = s % V;
    }
    const cuda = ctx.device === 'cuda';
    const x: Tensor = cuda ? host.to('cuda') : host;
    const labels: Tensor = cuda ? tensor(lab, [N]).to('cuda') : tensor(lab, [N]);
    const caseName = `[${N}, ${V}] ${dtype}`;
    const torch = { op: 'cross_entropy', N, V, dtype };

    let fwdBase: Baseline | undefined;
    let bwdBase: Baseline | undefined;
    if (!cuda) {
      const k = Math.max(2, Math.floor(1.5e6 / V));
      const f = host.toFloat32Array().subarray(0, k * V);
      const sub = Array.from(lab.subarray(0, k));
      const L = { rows: k, vocab: V, seqLen: k };
      const extrapolated = { k, n: N, unit: 'rows' };
      fwdBase = { name: 'naive TS', ms: (timeBaselineMs(() => crossEntropyRef(f, sub, L)) * N) / k, extrapolated };
      bwdBase = { name: 'naive TS', ms: (timeBaselineMs(() => crossEntropyGradRef(f, sub, L)) * N) / k, extrapolated };
    }

    const fwdMs = timeMs(() => void ops.crossEntropy(x, labels), { warmup: 1, reps: 5, ceiling: 'read' });
    ctx.record({ op: 'ops.crossEntropy', case: `${caseName} loss`, device: ctx.device, ms: fwdMs, bytes: x.byteLength + N * 4, ceiling: 'read', baseline: fwdBase, torch: { ...torch, grad: false } });

    // NB: in place, so every call after the first runs on the previous gradient; the work per
    // element does not depend on the values (no row leaves the fast path)
    const bwdMs = timeMs(() => void ops.crossEntropy(x, labels, { grad: true, inPlace: true }), { warmup: 1, reps: 5, ceiling: 'rmw' });
    ctx.record({ op: 'ops.crossEntropy', case: `${caseName} loss + grad in place`, device: ctx.device, ms: bwdMs, bytes: 2 * x.byteLength + N * 4, ceiling: 'rmw', baseline: bwdBase, torch: { ...torch, grad: true } });

    if (cuda) {
      x.dispose();
      labels.dispose();
    }
  }
}
