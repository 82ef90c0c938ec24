/**
 * The one way lib/ops/* call native code: {@link callOp} passes named arguments in the order of
 * the op's declaration (lib/ops/<stem>.args.ts), and {@link syncAsync} makes an op's `f` and
 * `fAsync` from one preparation function (validation + output allocation), so both forms check
 * the same things and give bit-identical results.
 */
import { fail } from './errors';
import { native, withCallerStack } from './native';
import { ELLIPSIS, NAMED_DIM, type NamedArgs, type OpDecl } from './op_decl';
import { describe } from './tensor';
import { shapeStr } from './validate';

type Raw = (...args: unknown[]) => unknown;

/** Calls the native entry point of `d` with arguments by name (sync: returns its result). */
export function callOp<D extends OpDecl, R = void>(d: D, named: NamedArgs<D>, async: false): R;
export function callOp<D extends OpDecl, R = void>(d: D, named: NamedArgs<D>, async: true): Promise<R>;
export function callOp<D extends OpDecl>(d: D, named: NamedArgs<D>, async: boolean): unknown {
  if (!d.plan.empty) checkDeclared(d, named as Record<string, unknown>);
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
  if (!d.plan.empty) checkDeclared(d, named as Record<string, unknown>);
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

interface Shaped {
  readonly shape: readonly number[];
  readonly dtype?: string;
}
const plural = (n: number): string => `${n} dimension${n === 1 ? '' : 's'}`;

// scratch for the bound dims (ops do not nest: checks finish before any native call)
const bound: number[] = [];
const boundFrom: number[] = [];

/**
 * The declared shape patterns, `like` relations and number ranges of `d` (lib/op_decl.ts), with
 * the messages native/cpp/binding/op_call.cc gives for them: pattern arguments in declaration
 * order bind the named dims and the leading '...' group, then `like` arguments, then numbers.
 * Throws ERR_SHAPE / ERR_DTYPE / ERR_ARGUMENT / ERR_RANGE; absent optional tensors are skipped.
 */
export function checkDeclared(d: OpDecl, named: Record<string, unknown>): void {
  const { plan, args } = d;
  const op = d.label;
  for (let k = 0; k < plan.dims.length; k++) bound[k] = -1;
  let leadFrom = -1;
  let leadLen = 0;
  for (const i of plan.order) {
    const a = args[i]!;
    const v = named[a.name];
    const p = plan.patterns[i];
    if (p) {
      if (v === null || v === undefined) continue;
      const s = (v as Shaped).shape;
      const ell = p[0] === ELLIPSIS;
      const fixed = p.length - (ell ? 1 : 0);
      if (!ell && s.length !== fixed) fail('ERR_SHAPE', op, `expected ${a.name} with ${plural(fixed)} but received ${shapeStr(s)}`);
      if (ell && s.length < fixed)
        fail('ERR_SHAPE', op, `expected ${a.name} with at least ${plural(fixed)} but received ${s.length ? shapeStr(s) : 'a scalar'}`);
      const lead = s.length - fixed;
      let ok = true;
      let from = -1;
      if (ell && leadFrom >= 0) {
        const g = (named[args[leadFrom]!.name] as Shaped).shape;
        if (leadLen !== lead)
          fail('ERR_SHAPE', op, `expected ${a.name} of shape ${shapeStr([...g.slice(0, leadLen), ...s.slice(lead)])} (from ${args[leadFrom]!.name} ${shapeStr(g)}) but received ${shapeStr(s)}`);
        for (let j = 0; j < lead; j++) if (g[j] !== s[j]) (ok = false), (from = leadFrom);
      }
      for (let j = 0; j < fixed && ok; j++) {
        const e = p[j + (ell ? 1 : 0)]!;
        const got = s[lead + j]!;
        if (e >= 0) ok = got === e;
        else if (bound[NAMED_DIM - e]! >= 0 && bound[NAMED_DIM - e] !== got) (ok = false), (from = boundFrom[NAMED_DIM - e]!);
      }
      if (!ok) {
        const want = s.map((x, j) => {
          if (j < lead) return leadFrom >= 0 ? (named[args[leadFrom]!.name] as Shaped).shape[j]! : x;
          const e = p[j - lead + (ell ? 1 : 0)]!;
          return e >= 0 ? e : bound[NAMED_DIM - e]! >= 0 ? bound[NAMED_DIM - e]! : x;
        });
        const f = from >= 0 ? ` (from ${args[from]!.name} ${shapeStr((named[args[from]!.name] as Shaped).shape)})` : '';
        fail('ERR_SHAPE', op, `expected ${a.name} of shape ${shapeStr(want)}${f} but received ${shapeStr(s)}`);
      }
      if (ell && leadFrom < 0) (leadFrom = i), (leadLen = lead);
      for (let j = 0; j < fixed; j++) {
        const e = p[j + (ell ? 1 : 0)]!;
        if (e < 0 && bound[NAMED_DIM - e]! < 0) (bound[NAMED_DIM - e] = s[lead + j]!), (boundFrom[NAMED_DIM - e] = i);
      }
    } else if (plan.like[i]! >= 0) {
      const l = args[plan.like[i]!]!.name;
      const r = named[l] as Shaped | null | undefined;
      if (v === null || v === undefined || r === null || r === undefined) continue;
      const s = (v as Shaped).shape;
      let same = s.length === r.shape.length;
      for (let j = 0; same && j < s.length; j++) same = s[j] === r.shape[j];
      if (!same)
        fail('ERR_SHAPE', op, `expected ${a.name} of shape ${shapeStr(r.shape)} (from ${l}) but received ${shapeStr(s)}`);
      if ((v as Shaped).dtype !== r.dtype) fail('ERR_DTYPE', op, `expected ${a.name} of dtype ${r.dtype} (from ${l}) but received ${(v as Shaped).dtype}`);
    } else {
      if (typeof v !== 'number' || Number.isNaN(v)) fail('ERR_ARGUMENT', op, `expected a number for ${a.name} but received ${describe(v)}`);
      const r = (a as { range?: { min?: number; max?: number; gt?: number; lt?: number } }).range!;
      const bad =
        !Number.isFinite(v) ||
        (r.min !== undefined && v < r.min) ||
        (r.max !== undefined && v > r.max) ||
        (r.gt !== undefined && !(v > r.gt)) ||
        (r.lt !== undefined && !(v < r.lt));
      if (bad) fail('ERR_RANGE', op, `expected ${a.name} ${plan.rangeText[i]} but received ${v}`);
    }
  }
}
