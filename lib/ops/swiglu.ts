/** SwiGLU: silu(gate) * up, elementwise (the LLaMA MLP activation). Formula: native/cpp/ops/swiglu.h. */
import type { FloatDType } from '../dtype';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { Tensor, TensorLike } from '../tensor';
import { checkOptions, expectShape, outputTensor, sameDevice, shapeStr, tensorArg } from '../validate';
import { SWIGLU } from './swiglu.args';

declare module '../native' {
  interface NativeAddon {
    swiglu: NativeFn<typeof SWIGLU>;
  }
}

export interface ElementwiseOptions {
  /** Write here (same shape and dtype) instead of a new tensor; may be an input (in place). */
  out?: Tensor;
}

/** Two same-shape float inputs and the output (shared by swiglu and add). */
export function elementwisePrep(op: string, an: string, bn: string, a: TensorLike, b: TensorLike, out: unknown, dtypes: readonly FloatDType[]) {
  const x = tensorArg(op, an, a, dtypes);
  const y = tensorArg(op, bn, b, [x.dtype]);
  expectShape(op, bn, y, x.shape, `${an} ${shapeStr(x.shape)}`);
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
