/**
 * sampling.contrastive: visual contrastive decoding (VCD) logits, (1 + alpha) l - alpha l', keeping
 * only tokens whose clean probability is at least beta times the top one (others -Infinity).
 * docs/methods.md; computed on the raw logits, before the sampler's processors.
 */
import type { Tensor, TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { declaredOutput, prepared, syncAsync } from '../op_call';
import { CONTRASTIVE } from './contrastive.args';
import { checkOptions, sameDevice, tensorArg } from '../validate';

declare module '../native' {
  interface NativeAddon {
    contrastive: NativeFn<typeof CONTRASTIVE>;
  }
}

export interface ContrastiveOptions {
  /** Contrast strength: (1 + alpha) l - alpha l'. Any finite number (negative amplifies the distorted branch); default 1 (VCD paper). */
  alpha?: number;
  /** Plausibility cut: keep tokens with p(clean) >= beta * max p(clean), ties kept. In [0, 1] (0 keeps all); default 0.1 (VCD paper). */
  beta?: number;
  /** bool [...] (the leading dimensions of logits): rows with false are copied through unchanged. Default: all rows active. */
  rowActive?: TensorLike<'bool'>;
  /** Write into this float32 tensor of the logits' shape (same device) instead of a new one. */
  out?: Tensor<'float32'>;
}

const OP = 'contrastive';

function prepare(logits: TensorLike, distortedLogits: TensorLike, options?: ContrastiveOptions) {
  const o = checkOptions(OP, options, ['alpha', 'beta', 'rowActive', 'out']);
  const l = tensorArg(OP, 'logits', logits, CONTRASTIVE.args[0].dtypes);
  const ld = tensorArg(OP, 'distortedLogits', distortedLogits, [l.dtype]);
  const act = o.rowActive === undefined ? null : tensorArg(OP, 'rowActive', o.rowActive, ['bool']);
  sameDevice(OP, { logits: l, distortedLogits: ld, rowActive: act ?? undefined });
  const out = declaredOutput(OP, o.out, () => l.shape, 'float32', l);
  // shapes logits, distortedLogits, out [..., V] and rowActive [...], ranges of alpha and beta: declared (contrastive.args.ts)
  return prepared(CONTRASTIVE, { logits: l, distortedLogits: ld, rowActive: act, alpha: o.alpha === undefined ? 1 : o.alpha, beta: o.beta === undefined ? 0.1 : o.beta, out }, out);
}

/**
 * VCD logits: out = (1 + alpha) logits - alpha distortedLogits where logits >= log(beta) + max(logits)
 * (per row), -Infinity elsewhere. float32/float16/bfloat16 [..., V] in (one dtype), float32 out.
 * +Infinity inputs and results are clamped to the largest float32; -Infinity logits stay -Infinity.
 */
export const [contrastive, contrastiveAsync] = syncAsync(prepare);
