// optim.adamw on ~100M parameters in ~200 tensors (LLaMA-like sizes): memory-bound, so GB/s against
// the read-modify-write ceiling; PyTorch torch.optim.AdamW (foreach, and fused) side by side. Also
// optim.clipGradNorm over the same gradients (against the read ceiling: one read pass + one rmw pass
// when it clips; here maxNorm is large, so it only reads).
import { optim, type Tensor } from '../lib';
import { benchInput, timeMs, type BenchContext } from './harness';

/** ~total parameters as `count` tensors: alternating square-ish matrices and small vectors. */
function sizes(total: number, count: number): number[] {
  const out: number[] = [];
  const big = Math.floor((total - (count / 2) * 4096) / (count / 2));
  for (let i = 0; i < count; i++) out.push(i % 2 ? 4096 + (i % 7) : big - (i % 5) * 64);
  return out;
}

export function run(ctx: BenchContext): void {
  const total = ctx.quick ? 4_000_000 : 100_000_000;
  const count = ctx.quick ? 20 : 200;
  const ns = sizes(total, count);
  const n = ns.reduce((a, b) => a + b, 0);
  for (const [dtype, master] of [['float32', false], ['bfloat16', true]] as const) {
    const params: Tensor[] = ns.map((k) => benchInput([k], dtype, ctx.device).t);
    const grads: Tensor[] = ns.map((k) => benchInput([k], dtype, ctx.device).t);
    const state = optim.adamwState(params, { masterWeights: master });
    let step = 0;
    // read param (or master), grad, m, v; write param, m, v (and master)
    const item = dtype === 'float32' ? 4 : 2;
    const bytes = master ? n * (item + item + 4 + 4 + 4) + n * (item + 4 + 4 + 4) : n * 4 * 4 + n * 4 * 3;
    const label = `${count} tensors, ${(n / 1e6).toFixed(1)}M params ${dtype}${master ? ' + float32 master' : ''}`;
    // one row per PyTorch variant (foreach, fused), each with its own timing of ours
    for (const fused of [false, true]) {
      const ms = timeMs(() => optim.adamw(params, grads, state, { step: ++step, lr: 1e-4, weightDecay: 0.01 }), { ceiling: 'rmw' });
      ctx.record({ op: 'optim.adamw', case: `${label}, torch ${fused ? 'fused' : 'foreach'}`, device: ctx.device, ms, bytes, ceiling: 'rmw', torch: { op: 'adamw', sizes: ns, dtype, master, fused } });
    }
    if (dtype === 'float32') {
      const msc = timeMs(() => optim.clipGradNorm(grads, 1e30), { ceiling: 'read' });
      ctx.record({ op: 'optim.clipGradNorm', case: `${count} tensors, ${(n / 1e6).toFixed(1)}M float32, no clipping`, device: ctx.device, ms: msc, bytes: n * 4, ceiling: 'read', torch: { op: 'clip_grad_norm', sizes: ns, dtype } });
    }
    for (const t of [...params, ...grads, ...state.m, ...state.v, ...(state.master ?? [])]) t.dispose();
  }
}
