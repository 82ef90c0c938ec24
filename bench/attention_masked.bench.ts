/**
 * attention.masked: decode (Tq = 1 over a KV cache; memory-bound, GB/s of K/V read vs the read
 * ceiling) and causal prefill (compute-bound: GFLOP/s against the measured FMA ceiling). Baseline:
 * the float64 TS reference of test/reference/attention_masked.ts on a slice of the heads, scaled up
 * (labelled as extrapolated). PyTorch: scaled_dot_product_attention with enable_gqa.
 * Backward (attention.maskedBackward, causal, compute-bound): FLOPs counted as FlashAttention-2's
 * five [T, T, d] products (2.5x the forward's), halved for causal; PyTorch: autograd.grad of SDPA
 * (bench/torch_ops.py sdpa_backward); baseline: the float64 reference backward on one head, scaled.
 */
import { attention, empty, type FloatDType, type Tensor } from '../lib';
import { attentionBackwardRef, attentionRef } from '../test/reference/attention_masked';
import { fillRandom, timeBaselineMs, timeMs, type BenchContext, type Baseline } from './harness';

interface Case {
  kind: 'decode' | 'prefill';
  B: number;
  Hq: number;
  Hkv: number;
  T: number;
  d: number;
  dtype: FloatDType;
}

function host(shape: number[], dtype: FloatDType): Tensor {
  const t = empty(shape, dtype);
  fillRandom(t, 1);
  return t;
}

export function run(ctx: BenchContext): void {
  const cases: Case[] = ctx.quick
    ? [
        { kind: 'decode', B: 2, Hq: 32, Hkv: 8, T: 1024, d: 128, dtype: 'bfloat16' },
        { kind: 'prefill', B: 1, Hq: 8, Hkv: 2, T: 256, d: 128, dtype: 'bfloat16' },
      ]
    : [
        { kind: 'decode', B: 8, Hq: 32, Hkv: 8, T: 4096, d: 128, dtype: 'bfloat16' },
        { kind: 'decode', B: 8, Hq: 32, Hkv: 8, T: 4096, d: 128, dtype: 'float32' },
        { kind: 'prefill', B: 1, Hq: 32, Hkv: 8, T: ctx.device === 'cuda' ? 4096 : 1024, d: 128, dtype: 'bfloat16' },
      ];
  for (const c of cases) {
    const Tq = c.kind === 'decode' ? 1 : c.T;
    const hq = host([c.B, c.Hq, Tq, c.d], c.dtype);
    const hk = host([c.B, c.Hkv, c.T, c.d], c.dtype);
    const hv = host([c.B, c.Hkv, c.T, c.d], c.dtype);
    const [q, k, v] = ctx.device === 'cuda' ? [hq.to('cuda'), hk.to('cuda'), hv.to('cuda')] : [hq, hk, hv];
    const ceiling = c.kind === 'decode' ? 'read' : c.dtype === 'float32' ? 'fma-f32' : 'fma-bf16';
    const ms = timeMs(() => attention.masked(q, k, v, { causal: true }).dispose(), { reps: c.kind === 'prefill' ? 3 : 7, ceiling });
    // baseline: the float64 reference on one batch row (and, for prefill, 4 query heads), scaled
    let baseline: Baseline | undefined;
    if (ctx.device === 'cpu') {
      const heads = c.kind === 'prefill' ? Math.min(4, c.Hq) : c.Hq;
      const G = c.Hq / c.Hkv;
      const kvh = Math.ceil(heads / G);
      const f = (t: Tensor, n: number) => t.toFloat32Array().subarray(0, n);
      const sub = {
        q: f(hq, heads * Tq * c.d),
        k: f(hk, kvh * c.T * c.d),
        v: f(hv, kvh * c.T * c.d),
        B: 1,
        Hq: heads,
        Hkv: kvh,
        Tq,
        T: c.T,
        d: c.d,
        causal: true,
      };
      const refMs = timeBaselineMs(() => attentionRef(sub));
      baseline = { name: 'naive TS (float64)', ms: (refMs * c.B * c.Hq) / heads, extrapolated: { k: heads, n: c.B * c.Hq, unit: '(batch, head) pairs' } };
    }
    // an ideal kernel reads q, k, v once and writes the output once
    const bytes = q.byteLength + k.byteLength + v.byteLength + q.byteLength;
    const flops = 4 * c.B * c.Hq * Tq * c.T * c.d * (c.kind === 'prefill' ? 0.5 : 1);
    ctx.record({
      op: 'attention.masked',
      case: `${c.kind} B${c.B} H${c.Hq}/${c.Hkv} T${c.T} d${c.d} ${c.dtype}`,
      device: ctx.device,
      ms,
      bytes,
      ceiling,
      flops,
      baseline,
      torch: { op: 'sdpa', B: c.B, Hq: c.Hq, Hkv: c.Hkv, Tq, T: c.T, d: c.d, dtype: c.dtype, causal: c.kind === 'prefill' },
    });
    if (q !== hq) for (const t of [q, k, v]) t.dispose();
  }
  runBackward(ctx);
}

interface BackwardCase {
  B: number;
  Hq: number;
  Hkv: number;
  T: number;
  d: number;
  dtype: FloatDType;
}

function runBackward(ctx: BenchContext): void {
  const cases: BackwardCase[] = ctx.quick
    ? [{ B: 1, Hq: 16, Hkv: 4, T: 256, d: 64, dtype: 'float32' }]
    : [
        { B: 1, Hq: 16, Hkv: 4, T: 512, d: 64, dtype: 'float32' },
        { B: 1, Hq: 16, Hkv: 8, T: 1024, d: 128, dtype: 'float32' },
        { B: 1, Hq: 16, Hkv: 4, T: 1024, d: 128, dtype: 'bfloat16' },
        ...(ctx.device === 'cuda' ? [{ B: 1, Hq: 16, Hkv: 4, T: 2048, d: 128, dtype: 'bfloat16' as const }] : []),
      ];
  for (const c of cases) {
    const hq = host([c.B, c.Hq, c.T, c.d], c.dtype);
    const hk = host([c.B, c.Hkv, c.T, c.d], c.dtype);
    const hv = host([c.B, c.Hkv, c.T, c.d], c.dtype);
    const hg = host([c.B, c.Hq, c.T, c.d], c.dtype);
    const [q, k, v, g] = ctx.device === 'cuda' ? [hq, hk, hv, hg].map((t) => t.to('cuda')) as [Tensor, Tensor, Tensor, Tensor] : [hq, hk, hv, hg];
    const { out, lse } = attention.masked(q, k, v, { causal: true, returnLse: true });
    const ceiling = c.dtype === 'float32' ? 'fma-f32' : 'fma-bf16';
    const ms = timeMs(() => {
      const r = attention.maskedBackward(g, q, k, v, out, lse, { causal: true });
      for (const t of [r.dq, r.dk, r.dv]) t.dispose();
    }, { reps: 3, ceiling });
    let baseline: Baseline | undefined;
    if (ctx.device === 'cpu') {
      const f = (t: Tensor, n: number) => t.toFloat32Array().subarray(0, n);
      const sub = { q: f(hq, c.T * c.d), k: f(hk, c.T * c.d), v: f(hv, c.T * c.d), B: 1, Hq: 1, Hkv: 1, Tq: c.T, T: c.T, d: c.d, causal: true };
      const dOut = f(hg, c.T * c.d);
      const refMs = timeBaselineMs(() => attentionBackwardRef(sub, dOut));
      baseline = { name: 'naive TS (float64)', ms: refMs * c.B * c.Hq, extrapolated: { k: 1, n: c.B * c.Hq, unit: '(batch, head) pairs' } };
    }
    ctx.record({
      op: 'attention.maskedBackward',
      case: `causal B${c.B} H${c.Hq}/${c.Hkv} T${c.T} d${c.d} ${c.dtype}`,
      device: ctx.device,
      ms,
      // reads dO, q, k, v, out once and writes dq, dk, dv once
      bytes: 3 * q.byteLength + 2 * k.byteLength + 2 * q.byteLength + 2 * k.byteLength,
      ceiling,
      flops: 10 * c.B * c.Hq * c.T * c.T * c.d * 0.5,
      baseline,
      torch: { op: 'sdpa_backward', B: c.B, Hq: c.Hq, Hkv: c.Hkv, Tq: c.T, T: c.T, d: c.d, dtype: c.dtype, causal: true },
    });
    for (const t of [out, lse]) t.dispose();
    if (q !== hq) for (const t of [q, k, v, g]) t.dispose();
  }
}
