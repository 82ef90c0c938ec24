// ops.embeddingBackward at a LLaMA-like shape (vocab 32000, hidden 2048, 2048 tokens, a third of
// them one padding token): zeroing the float32 [V, D] gradient dominates, so GB/s (dy read + the
// table written) against the copy ceiling; PyTorch: aten.embedding_dense_backward, the kernel
// autograd runs for F.embedding.
import { empty, ops, tensor, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { embeddingBackwardRef } from '../test/reference/embedding';
import { benchInput, timeBaselineMs, timeMs, type BenchContext } from './harness';

export function run(ctx: BenchContext): void {
  const N = ctx.quick ? 256 : 2048, V = ctx.quick ? 4000 : 32000, D = ctx.quick ? 512 : 2048;
  let s = 12345;
  const ids = Int32Array.from({ length: N }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % 3 === 0 ? 0 : s % V;
  });
  const tokens = ctx.device === 'cuda' ? tensor(ids).to('cuda') : tensor(ids);
  for (const dtype of ['bfloat16', 'float32'] as FloatDType[]) {
    const dy = benchInput([N, D], dtype, ctx.device);
    const out = empty([V, D], 'float32', { device: ctx.device });
    const ms = timeMs(() => ops.embeddingBackward(dy.t, tokens, { out }), { ceiling: 'copy' });
    let baseline: { name: string; ms: number } | undefined;
    if (ctx.device === 'cpu') {
      const ds = decodeToFloat32(dtype, dy.host.data);
      baseline = { name: 'naive TS', ms: timeBaselineMs(() => embeddingBackwardRef(ds, ids, V, D)) };
    }
    ctx.record({ op: 'ops.embeddingBackward', case: `[${N}, ${D}] -> [${V}, ${D}] ${dtype}`, device: ctx.device, ms, bytes: dy.t.byteLength + out.byteLength, ceiling: 'copy', baseline, torch: { op: 'embedding_backward', N, V, D, dtype } });
    for (const t of [dy.t, out]) t.dispose();
  }
  tokens.dispose();
}
