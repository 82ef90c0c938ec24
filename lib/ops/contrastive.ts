/**
 * sampling.contrastive: visual contrastive decoding (VCD) logits, (1 + alpha) l - alpha l', keeping
 * only tokens whose clean probability is at least beta times the top one (others -Infinity).
 * docs/methods.md; computed on the raw logits, before the sampler's processors.
 */
import { FLOAT_DTYPES, type FloatDType } from '../dtype';
import { fail } from '../errors';
import { withCallerStack } from '../native';
import type { Tensor, TensorLike } from '../tensor';
import type { NativeFn } from '../op_decl';
import { callOp } from '../op_call';
import { CONTRASTIVE } from './contrastive.args';
import { checkOptions, expectShape, numberOpt, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';

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
const FLOATS = FLOAT_DTYPES;

function prepare(logits: TensorLike, distortedLogits: TensorLike, options?: ContrastiveOptions) {
  const o = checkOptions(OP, options, ['alpha', 'beta', 'rowActive', 'out']);
  const l = tensorArg(OP, 'logits', logits, FLOATS);
  if (l.ndim < 1) fail('ERR_SHAPE', OP, 'expected logits with at least 1 dimension but received a scalar (shape [])');
  const ld = tensorArg(OP, 'distortedLogits', distortedLogits, [l.dtype]);
  expectShape(OP, 'distortedLogits', ld, l.shape, `logits ${shapeStr(l.shape)}`);
  const alpha = numberOpt(OP, 'alpha', o.alpha, 1);
  if (!Number.isFinite(Math.fround(alpha))) fail('ERR_RANGE', OP, `expected alpha to be a finite float32 but received ${alpha}`);
  const beta = numberOpt(OP, 'beta', o.beta, 0.1, { min: 0, max: 1 });
  let act: Tensor | null = null;
  if (o.rowActive !== undefined) {
    act = tensorArg(OP, 'rowActive', o.rowActive, ['bool']);
    expectShape(OP, 'rowActive', act, l.shape.slice(0, -1), `logits ${shapeStr(l.shape)}`);
  }
  sameDevice(OP, { logits: l, distortedLogits: ld, rowActive: act ?? undefined });
  const out = outputTensor(OP, o.out, l.shape, 'float32', l);
  return { l, ld, act, alpha, beta, out };
}

/**
 * VCD logits: out = (1 + alpha) logits - alpha distortedLogits where logits >= log(beta) + max(logits)
 * (per row), -Infinity elsewhere. float32/float16/bfloat16 [..., V] in (one dtype), float32 out.
 * +Infinity inputs and results are clamped to the largest float32; -Infinity logits stay -Infinity.
 */
export function contrastive(logits: TensorLike, distortedLogits: TensorLike, options?: ContrastiveOptions): Tensor<'float32'> {
  const p = prepare(logits, distortedLogits, options);
  callOp(CONTRASTIVE, { logits: p.l, distortedLogits: p.ld, rowActive: p.act, alpha: p.alpha, beta: p.beta, out: p.out }, false);
  return p.out;
}

/** {@link contrastive} off the main thread; bit-identical results. */
export async function contrastiveAsync(logits: TensorLike, distortedLogits: TensorLike, options?: ContrastiveOptions): Promise<Tensor<'float32'>> {
  const stack = new Error().stack;
  const p = prepare(logits, distortedLogits, options);
  await withCallerStack(callOp(CONTRASTIVE, { logits: p.l, distortedLogits: p.ld, rowActive: p.act, alpha: p.alpha, beta: p.beta, out: p.out }, true), stack);
  return p.out;
}
