/**
 * ops.linear at decoder shapes: decode (M = 1 and 8 rows through a 4096 x 4096 projection, bound by
 * reading the weight: read ceiling) and prefill (M = 512, compute-bound: GFLOP/s against the FMA
 * ceiling of its dtype path). Baseline: the float64 TS reference on a few rows, scaled (labelled).
 * Bytes: x, W and b read once, y written once. PyTorch: F.linear.
 * ops.linearBackward (dx, dW and dBias: two GEMMs and a column sum, 4 m n k + m n flops) at the
 * [512, 2048] x [2048, 2048] shape and a TinyLlama MLP shape (2048 -> 5632), against the compute ceiling of its
 * dtype path; PyTorch: eager autograd of F.linear (torch.autograd.grad, graph kept).
 */
import { empty, ops, type FloatDType } from '../lib';
import { linearRef } from '../test/reference/linear';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

export function run(ctx: BenchContext): void {
  const cases: [number, number, number, FloatDType][] = ctx.quick
    ? [[1, 1024, 1024, 'bfloat16']]
    : [
        [1, 4096, 4096, 'bfloat16'],
        [1, 4096, 4096, 'float32'],
        [8, 4096, 4096, 'bfloat16'],
        [512, 2048, 2048, 'bfloat16'],
        [512, 2048, 2048, 'float32'],
      ];
  for (const [m, n, k, dtype] of cases) {
    const hx = empty([m, k], dtype);
    const hw = empty([n, k], dtype);
    const hb = empty([n], dtype);
    fillRandom(hx, 1);
    fillRandom(hw, 1);
    fillRandom(hb, 1);
    const dev = ctx.device === 'cuda';
    const [x, w, b] = dev ? [hx.to('cuda'), hw.to('cuda'), hb.to('cuda')] : [hx, hw, hb];
    const ceiling = m < 64 ? 'read' : dtype === 'float32' ? 'fma-f32' : 'fma-bf16';
    const ms = timeMs(() => ops.linear(x, w, { bias: b }).dispose(), { reps: m >= 512 && !dev ? 3 : 7, ceiling });
    let baseline: Baseline | undefined;
    if (!dev) {
      const sub = m <= 8 ? m : 1; // whole problem for decode shapes
      const xf = hx.toFloat32Array().subarray(0, sub * k);
      const wf = hw.toFloat32Array();
      const bf = hb.toFloat32Array();
      baseline = { name: 'naive TS', ms: (timeBaselineMs(() => linearRef(xf, wf, bf, sub, n, k)) * m) / sub, ...(sub < m ? { extrapolated: { k: sub, n: m, unit: 'rows' } } : {}) };
    }
    const item = dtype === 'float32' ? 4 : 2;
    const bytes = (m * k + n * k + n + m * n) * item;
    ctx.record({ op: 'ops.linear', case: `[${m}, ${k}] x [${n}, ${k}]^T ${dtype}`, device: ctx.device, ms, bytes, ceiling, flops: 2 * m * n * k, baseline, torch: { op: 'linear', m, n, k, dtype } });
    if (dev) [x, w, b].forEach((t) => t.dispose());
  }
  runBackward(ctx);
}

function runBackward(ctx: BenchContext): void {
  // [M, out, in]
  const cases: [number, number, number, FloatDType][] = ctx.quick
    ? [[128, 512, 512, 'float32']]
    : [
        [512, 2048, 2048, 'float32'],
        [512, 5632, 2048, 'float32'],
        [512, 2048, 2048, 'bfloat16'],
      ];
  for (const [m, n, k, dtype] of cases) {
    const dev = ctx.device === 'cuda';
    const host = [empty([m, n], dtype), empty([m, k], dtype), empty([n, k], dtype)] as const;
    host.forEach((t) => fillRandom(t, 1));
    const [dy, x, w] = dev ? host.map((t) => t.to('cuda')) : host;
    const dxOut = empty([m, k], dtype, { device: dev ? 'cuda' : 'cpu' });
    const dWeightOut = empty([n, k], 'float32', { device: dev ? 'cuda' : 'cpu' });
    const dBiasOut = empty([n], 'float32', { device: dev ? 'cuda' : 'cpu' });
    const ceiling = dtype === 'float32' ? 'fma-f32' : 'fma-bf16';
    const ms = timeMs(() => ops.linearBackward(dy!, x!, w!, { needBias: true, dxOut, dWeightOut, dBiasOut }), { reps: dev ? 7 : 3, ceiling });
    const item = dtype === 'float32' ? 4 : 2;
    // dy read twice, x and W once; dx written, dW and db written in float32
    const bytes = (2 * m * n + m * k + n * k + m * k) * item + (n * k + n) * 4;
    ctx.record({
      op: 'ops.linearBackward',
      case: `dy [${m}, ${n}], x [${m}, ${k}], W [${n}, ${k}] ${dtype} (dx, dW, db)`,
      device: ctx.device,
      ms,
      bytes,
      ceiling,
      flops: 4 * m * n * k + m * n,
      // NB: no PyTorch row for bfloat16 on the CPU: without AVX512-BF16 its bfloat16 matmuls took
      // minutes per call here (bench/gemm.bench.ts skips them the same way)
      ...(dtype === 'float32' || dev ? { torch: { op: 'linear_backward', m, n, k, dtype } } : {}),
    });
    if (dev) [dy, x, w, dxOut, dWeightOut, dBiasOut].forEach((t) => t!.dispose());
  }
}
