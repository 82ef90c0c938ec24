/**
 * The one way lib/ops/* call native code: {@link callOp} passes named arguments in the order of
 * the op's declaration (lib/ops/<stem>.args.ts), and {@link syncAsync} makes an op's `f` and
 * `fAsync` from one preparation function (validation + output allocation), so both forms check
 * the same things and give bit-identical results.
 */
import { native, withCallerStack } from './native';
import type { NamedArgs, OpDecl } from './op_decl';

type Raw = (...args: unknown[]) => unknown;

/** Calls the native entry point of `d` with arguments by name (sync: returns its result). */
export function callOp<D extends OpDecl, R = void>(d: D, named: NamedArgs<D>, async: false): R;
export function callOp<D extends OpDecl, R = void>(d: D, named: NamedArgs<D>, async: true): Promise<R>;
export function callOp<D extends OpDecl>(d: D, named: NamedArgs<D>, async: boolean): unknown {
  return d.invoke((native as unknown as Record<string, Raw>)[d.name]!, named as Record<string, unknown>, async);
}

/** What an op's preparation returns: the call to make and the value the op returns. */
export interface Prepared<R> {
  /** Runs the native call (sync: async = false; Async: returns its Promise). */
  run(async: boolean): unknown;
  /** The op's return value once the call has run. */
  result(): R;
}

/** A prepared native call of `d` returning `result` (e.g. the output tensor). */
export function prepared<D extends OpDecl, R>(d: D, named: NamedArgs<D>, result: R): Prepared<R> {
  return new PreparedCall(d, named as Record<string, unknown>, result);
}

class PreparedCall<R> implements Prepared<R> {
  constructor(
    private readonly d: OpDecl,
    private readonly named: Record<string, unknown>,
    private readonly value: R,
  ) {}
  run(async: boolean): unknown {
    return this.d.invoke((native as unknown as Record<string, Raw>)[this.d.name]!, this.named, async);
  }
  result(): R {
    return this.value;
  }
}

/**
 * `f` and `fAsync` from one preparation: `fAsync` validates inside its Promise (so errors reject),
 * runs the call on a libuv thread and gives a rejection the caller's stack.
 */
export function syncAsync<P extends unknown[], R>(prepare: (...args: P) => Prepared<R>): [(...args: P) => R, (...args: P) => Promise<R>] {
  const sync = (...args: P): R => {
    const p = prepare(...args);
    p.run(false);
    return p.result();
  };
  const async = async (...args: P): Promise<R> => {
    const stack = new Error().stack;
    const p = prepare(...args);
    await withCallerStack(p.run(true) as Promise<unknown>, stack);
    return p.result();
  };
  return [sync, async];
}
