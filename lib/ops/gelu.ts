/**
 * GELU and its gradient (the LLaVA projector's activation), elementwise, float32/float16/bfloat16
 * in, the math in float32, the result rounded once to the input's dtype; CPU and CUDA give the same
 * bits. Formulas: native/cpp/ops/gelu.h.
 *   'none' (exact, LLaVA-1.5):  gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2)),  gelu'(x) = Φ(x) + x·φ(x)
 *   'tanh':                     gelu(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
 */
import type { FloatDType } from '../dtype';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { checkOptions, enumOpt, outputTensor, tensorArg } from '../validate';
import { elementwisePrep } from './swiglu';
import { GELU, GELU_BACKWARD } from './gelu.args';

declare module '../native' {
  interface NativeAddon {
    gelu: NativeFn<typeof GELU>;
    geluBackward: NativeFn<typeof GELU_BACKWARD>;
  }
}

export const GELU_APPROXIMATIONS = ['none', 'tanh'] as const;
export type GeluApproximation = (typeof GELU_APPROXIMATIONS)[number];

export interface GeluOptions {
  /** 'none' (default): exact GELU through erf (LLaVA-1.5, PyTorch's default); 'tanh': the tanh approximation (PyTorch approximate='tanh'). */
  approximate?: GeluApproximation;
  /** Write here (same shape and dtype) instead of a new tensor; may be the input (in place). */
  out?: Tensor;
}

function prepare(x: TensorLike, options?: GeluOptions) {
  const op = 'gelu';
  const o = checkOptions(op, options, ['approximate', 'out']);
  const t = tensorArg(op, 'x', x, GELU.args[0].dtypes);
  const tanh = enumOpt(op, 'approximate', o.approximate, GELU_APPROXIMATIONS, 'none') === 'tanh';
  const out = outputTensor(op, o.out, t.shape, t.dtype as FloatDType, t);
  return prepared(GELU, { x: t, out, tanh }, out);
}

/** gelu(x), elementwise; `out` may be x. Limits where PyTorch gives NaN: gelu(-inf) = -0. */
export const [gelu, geluAsync] = syncAsync(prepare);

function prepareBackward(dy: TensorLike, x: TensorLike, options?: GeluOptions) {
  const op = 'geluBackward';
  const o = checkOptions(op, options, ['approximate', 'out']);
  const tanh = enumOpt(op, 'approximate', o.approximate, GELU_APPROXIMATIONS, 'none') === 'tanh';
  const p = elementwisePrep(op, 'dy', 'x', dy, x, o.out, GELU_BACKWARD.args[0].dtypes as readonly FloatDType[]);
  return prepared(GELU_BACKWARD, { dy: p.x, x: p.y, out: p.out, tanh }, p.out);
}

/**
 * dx = dy·gelu'(x) for the forward's input x (same shape and dtype as dy); `out` may be dy or x.
 * gelu'(+inf) = 1 and gelu'(-inf) = 0 (PyTorch: NaN).
 */
export const [geluBackward, geluBackwardAsync] = syncAsync(prepareBackward);
