// One training step (forward + backward + AdamW) of the LLaMA-style decoder, issue 15's config:
// 4 layers, hidden 512, 8 query / 2 KV heads, vocabulary 32000, sequence 512, batch 4, with LoRA
// rank 16 on all seven projections and with full fine-tuning; SFT loss (ops.crossEntropy). The
// torch row is transformers' LlamaForCausalLM (+ PEFT LoRA) with torch.optim.AdamW, eager, float32.
// Compared with the FMA ceiling through the GEMM flops (6 N P for full fine-tuning, 4 N P with
// frozen base weights; attention and elementwise work not counted).
import { models, tensor, train, type FloatDType } from '../lib';
import { timeMs, type BenchContext } from './harness';

export function run(ctx: BenchContext): void {
  if (ctx.device !== 'cpu') return; // the model runs where its weights are; CUDA rows need a GPU run
  const [B, T] = ctx.quick ? [1, 128] : [4, 512];
  const cfg = { vocabSize: 32000, hiddenSize: 512, intermediateSize: 1376, numLayers: 4, numHeads: 8, numKvHeads: 2, ropeTheta: 10000, rmsNormEps: 1e-6 };
  const N = B * T;
  const toks = Int32Array.from({ length: N }, (_, i) => (i * 7919 + 13) % cfg.vocabSize);
  const tokens = tensor(toks, [B, T]);
  const labels = tensor(toks, [B, T]);
  const D = cfg.hiddenSize, I = cfg.intermediateSize, d = D / cfg.numHeads;
  const perLayer = D * D * 2 + 2 * D * cfg.numKvHeads * d + 3 * D * I;
  const P = cfg.numLayers * perLayer + cfg.vocabSize * D; // GEMM weights (lm_head included)
  for (const dtype of ['float32', 'bfloat16'] as FloatDType[])
    for (const mode of ['lora', 'full'] as const) {
      const m = models.LlamaModel.random(cfg, { seed: 1, dtype });
      if (mode === 'lora') m.addLora({ rank: 16, alpha: 32, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 2 });
      const opt = new train.AdamW(mode === 'lora' ? m.loraParameters() : m.parameters(), { lr: 1e-5 });
      // activation memory: what forwardTrain keeps per token
      const probe = m.forwardTrain({ tokens }, { logits: 'none' });
      const actPerToken = probe.saved.bytes / N;
      probe.saved.dispose();
      probe.hidden.dispose();
      const ms = timeMs(() => train.sftStep(m, { tokens, labels }, { optimizer: opt }), { warmup: 1, reps: ctx.quick ? 2 : 3, ceiling: 'fma-f32', cold: false });
      const flops = (mode === 'full' ? 6 : 4) * N * P;
      ctx.record({
        op: 'train.sftStep',
        case: `${mode === 'lora' ? 'LoRA r16 all projections' : 'full fine-tuning'}, [${B}, ${T}] ${dtype}${dtype !== 'float32' ? ' + float32 master' : ''}`,
        device: 'cpu',
        ms,
        bytes: 0,
        flops,
        ceiling: 'fma-f32',
        note: `${Math.round(N / (ms / 1e3))} tokens/s; activations kept ${(actPerToken / 1024).toFixed(1)} KiB/token (the fused head holds no logits)`,
        ...(dtype === 'float32' ? { torch: { op: 'train_step', B, T, mode, ...cfg } } : {}),
      });
      opt.dispose();
      m.dispose();
    }
}
