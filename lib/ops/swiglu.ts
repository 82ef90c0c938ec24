/** SwiGLU: silu(gate) * up, elementwise (the LLaMA MLP activation). Formula: native/cpp/ops/swiglu.h. */
import type { FloatDType } from '../dtype';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { checkOptions, outputTensor, sameDevice, tensorArg } from '../validate';
import { SWIGLU, SWIGLU_BACKWARD } from './swiglu.args';

declare module '../native' {
  interface NativeAddon {
    swiglu: NativeFn<typeof SWIGLU>;
    swigluBackward: NativeFn<typeof SWIGLU_BACKWARD>;
  }
}

export interface ElementwiseOptions {
  /** Write here (same shape and dtype) instead of a new tensor; may be an input (in place). */
  out?: Tensor;
}

/** Two same-shape float inputs and the output (shared by swiglu and add). */
export function elementwisePrep(op: string, an: string, bn: string, a: TensorLike, b: TensorLike, out: unknown, dtypes: readonly FloatDType[]) {
  const x = tensorArg(op, an, a, dtypes);
  const y = tensorArg(op, bn, b, dtypes); // same shape and dtype: declared `like` (swiglu.args.ts, add.args.ts)
  sameDevice(op, { [an]: x, [bn]: y });
  return { x, y, out: outputTensor(op, out, x.shape, x.dtype as FloatDType, x) };
}

function prepare(gate: TensorLike, up: TensorLike, options?: ElementwiseOptions) {
  const o = checkOptions('swiglu', options, ['out']);
  const p = elementwisePrep('swiglu', 'gate', 'up', gate, up, o.out, SWIGLU.args[0].dtypes as readonly FloatDType[]);
  return prepared(SWIGLU, { gate: p.x, up: p.y, out: p.out }, p.out);
}

/** silu(gate) * up, elementwise (the LLaMA MLP activation); `out` may be gate or up. */
export const [swiglu, swigluAsync] = syncAsync(prepare);

export interface SwigluBackwardOptions {
  /** Write dGate here (same shape and dtype as gate) instead of a new tensor; may be gate or dy. */
  dGateOut?: Tensor;
  /** Write dUp here (same shape and dtype as up) instead of a new tensor; may be up. */
  dUpOut?: Tensor;
}

/** Gradients of {@link swiglu}. */
export interface SwigluGrads {
  dGate: Tensor;
  dUp: Tensor;
}

function prepareBackward(dy: TensorLike, gate: TensorLike, up: TensorLike, options?: SwigluBackwardOptions) {
  const op = 'swigluBackward';
  const o = checkOptions(op, options, ['dGateOut', 'dUpOut']);
  const dtypes = SWIGLU_BACKWARD.args[1].dtypes;
  const x = tensorArg(op, 'gate', gate, dtypes);
  const u = tensorArg(op, 'up', up, dtypes);
  const g = tensorArg(op, 'dy', dy, dtypes);
  sameDevice(op, { dy: g, gate: x, up: u });
  const dGate = outputTensor(op, o.dGateOut, x.shape, x.dtype as FloatDType, x, 'dGateOut');
  const dUp = outputTensor(op, o.dUpOut, x.shape, x.dtype as FloatDType, x, 'dUpOut');
  return prepared(SWIGLU_BACKWARD, { dy: g, gate: x, up: u, dGate, dUp }, { dGate, dUp } as SwigluGrads);
}

/**
 * Gradients of {@link swiglu} from dy: dUp = dy silu(gate), dGate = dy up s (1 + gate (1 - s)),
 * s = sigmoid(gate); dGateOut may be gate or dy, dUpOut may be up (in place).
 */
export const [swigluBackward, swigluBackwardAsync] = syncAsync(prepareBackward);
