/**
 * dpo.linearStep (fused: hidden states + lm_head -> loss, dHidden, dLmHead, logits only in a
 * chunk buffer) against the unfused path on the same GEMM core: ops.linear (logits [N, V] in the
 * inputs' dtype) -> dpo.step (in place) -> dHidden = G W and dLmHead = G^T X (the internal _gemm,
 * NN and TN layouts; ops.linearBackward does not exist yet). Trainable head: the fused path does 4
 * GEMMs over the rows (pass 2 recomputes the logits), the unfused 3; frozen head (lmHeadGrad:
 * false, LoRA): fused 2 GEMMs, unfused 2 (no dLmHead). Extra memory is MEASURED by the harness
 * (peak RSS growth during one call, outputs included: the note gives the outputs' bytes and the
 * unfused logits + gradient bytes). Every position after a 16-token prompt is scored.
 * Full sizes take minutes per call on a small CPU (4 GEMMs of 2 N V H flops each): the large
 * cases run once (plus the harness's two memory-probe calls).
 */
import { dpo, empty, ops, tensor, type FloatDType, type Tensor } from '../lib';
import { native } from '../lib/native';
import { fillRandom, timeMs, type BenchContext } from './harness';

type GemmFn = (a: Tensor, b: Tensor, c: Tensor, bias: null, ta: boolean, tb: boolean, acc: boolean, isa: number, async: false) => void;
const raw = native as unknown as { _gemm: GemmFn };

type Case = [B: number, T: number, H: number, V: number, dtype: FloatDType];
const GB = 1e9;

export function run(ctx: BenchContext): void {
  if (ctx.device === 'cuda') return; // CPU comparison only (the unfused GEMMs below are the CPU core)
  // MMPREF_BENCH_LINEAR_CASE="B,T,H,V,dtype" runs that one case instead (sizes between quick and full)
  const one = process.env.MMPREF_BENCH_LINEAR_CASE?.split(',');
  const cases: Case[] = one
    ? [[Number(one[0]), Number(one[1]), Number(one[2]), Number(one[3]), (one[4] ?? 'float32') as FloatDType]]
    : ctx.quick
    ? [[4, 256, 512, 32000, 'float32'], [4, 256, 512, 32000, 'bfloat16']]
    : // sizes a 2-core CPU runs in minutes; the (8 x 1024 and 4 x 2048 tokens, H 2048) through
      // MMPREF_BENCH_LINEAR_CASE, several minutes per call there
      [
        [4, 512, 1024, 32000, 'float32'],
        [4, 512, 1024, 128256, 'bfloat16'],
      ];
  for (const [B, T, H, V, dtype] of cases) {
    const N = B * T;
    const hidden = empty([B, T, H], dtype);
    const lmHead = empty([V, H], dtype);
    fillRandom(hidden, 1);
    fillRandom(lmHead, 0.05);
    const lab = new Int32Array(N);
    let s = 12345;
    for (let i = 0; i < N; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      lab[i] = i % T < 16 ? -100 : s % V;
    }
    const labels = tensor(lab, [B, T]);
    const refChosen = tensor(new Float32Array(B / 2).fill(-2000));
    const refRejected = tensor(new Float32Array(B / 2).fill(-2000));
    const item = dtype === 'float32' ? 4 : 2;
    const logitsBytes = N * V * item;
    const outBytes = (lmHeadGrad: boolean) => N * H * item + (lmHeadGrad ? V * H * 4 : 0);
    const inputs = { hidden, lmHead, labels, refChosen, refRejected };
    const big = N * V * H > 1e11;
    const opts = { warmup: big ? 0 : 1, reps: big ? 1 : 3, ceiling: (dtype === 'float32' ? 'fma-f32' : 'fma-bf16') as 'fma-f32' | 'fma-bf16' };
    for (const lmHeadGrad of [true, false]) {
      const label = `[${B}, ${T}] H ${H} V ${V} ${dtype}${lmHeadGrad ? '' : ' frozen head'}`;
      const fusedMs = timeMs(() => {
        const r = dpo.linearStep(inputs, { lmHeadGrad });
        r.dHidden.dispose();
        r.dLmHead?.dispose();
      }, opts);
      ctx.record({
        op: 'dpo.linearStep',
        case: `${label} fused`,
        device: ctx.device,
        ms: fusedMs,
        bytes: hidden.byteLength + lmHead.byteLength + outBytes(lmHeadGrad),
        ceiling: opts.ceiling,
        flops: (lmHeadGrad ? 4 : 2) * 2 * N * V * H,
        note: `outputs ${(outBytes(lmHeadGrad) / GB).toFixed(2)} GB; unfused logits + gradient ${((2 * logitsBytes) / GB).toFixed(1)} GB (in place: ${(logitsBytes / GB).toFixed(1)} GB)`,
      });
      const unfusedMs = timeMs(() => {
        const logits = ops.linear(hidden, lmHead);
        const st = dpo.step({ logits, labels, refChosen, refRejected });
        const g2 = logits.reshape([N, V]);
        const dHidden = empty([N, H], dtype);
        raw._gemm(g2, lmHead, dHidden, null, false, false, false, -1, false);
        if (lmHeadGrad) {
          const dW = empty([V, H], 'float32');
          raw._gemm(g2, hidden.reshape([N, H]), dW, null, true, false, false, -1, false);
          dW.dispose();
        }
        dHidden.dispose();
        st.gradLogits.dispose();
      }, opts);
      ctx.record({
        op: 'dpo.linearStep',
        case: `${label} unfused (linear -> step -> GEMMs)`,
        device: ctx.device,
        ms: unfusedMs,
        bytes: hidden.byteLength + lmHead.byteLength + outBytes(lmHeadGrad) + 2 * logitsBytes,
        ceiling: opts.ceiling,
        flops: (lmHeadGrad ? 3 : 2) * 2 * N * V * H,
        note: `fused / unfused time ${(fusedMs / unfusedMs).toFixed(2)}x`,
      });
    }
  }
}
