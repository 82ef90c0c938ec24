/** Residual add: a + alpha * b, elementwise. Formula: native/cpp/ops/add.h. */
import type { FloatDType } from '../dtype';
import type { NativeFn } from '../op_decl';
import { prepared, syncAsync } from '../op_call';
import type { TensorLike } from '../tensor';
import { checkOptions } from '../validate';
import { ADD } from './add.args';
import { type ElementwiseOptions, elementwisePrep } from './swiglu';

declare module '../native' {
  interface NativeAddon {
    add: NativeFn<typeof ADD>;
  }
}

export interface AddOptions extends ElementwiseOptions {
  /** Scale of b (default 1). */
  alpha?: number;
}

function prepare(a: TensorLike, b: TensorLike, options?: AddOptions) {
  const o = checkOptions('add', options, ['out', 'alpha']);
  const p = elementwisePrep('add', 'a', 'b', a, b, o.out, ADD.args[0].dtypes as readonly FloatDType[]);
  return prepared(ADD, { a: p.x, b: p.y, out: p.out, alpha: o.alpha === undefined ? 1 : o.alpha }, p.out);
}

/** a + alpha * b, elementwise, same shapes (no broadcasting); `out: a` accumulates in place. */
export const [add, addAsync] = syncAsync(prepare);
