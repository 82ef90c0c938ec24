/**
 * The one way lib/ops/* call native code: {@link callOp} passes named arguments in the order of
 * the op's declaration (lib/ops/<stem>.args.ts), and {@link syncAsync} makes an op's `f` and
 * `fAsync` from one preparation function (validation + output allocation), so both forms check
 * the same things and give bit-identical results.
 */
import { fail } from './errors';
import { native, withCallerStack } from './native';
import { type CheckStep, NAMED_DIM as NAMED_DIM_DECL, type NamedArgs, type OpDecl } from './op_decl';
import type { DType } from './dtype';
import { describe, empty, type Tensor } from './tensor';
import { sameDevice, shapeStr, tensorArg } from './validate';

type Raw = (...args: unknown[]) => unknown;

/** Calls the native entry point of `d` with arguments by name (sync: returns its result). */
export function callOp<D extends OpDecl, R = void>(d: D, named: NamedArgs<D>, async: false): R;
export function callOp<D extends OpDecl, R = void>(d: D, named: NamedArgs<D>, async: true): Promise<R>;
export function callOp<D extends OpDecl>(d: D, named: NamedArgs<D>, async: boolean): unknown {
  checkArgs(d, named as Record<string, unknown>);
  return d.invoke((native as unknown as Record<string, Raw>)[d.name]!, named as Record<string, unknown>, async);
}

/** What an op's preparation returns: the call to make and the value the op returns. */
export interface Prepared<R> {
  /** Runs the native call (sync: async = false; Async: returns its Promise). */
  run(async: boolean): unknown;
  /** The op's return value once the call has run. */
  result(): R;
}

/**
 * A prepared native call of `d` returning `result` (e.g. the output tensor). `then` runs after the
 * declared checks passed: the op's relations the declaration cannot state (its prepare's checks in
 * binding/<stem>.cc, with the same messages and in the same order).
 */
export function prepared<D extends OpDecl, R>(d: D, named: NamedArgs<D>, result: R, then?: () => void): Prepared<R> {
  checkArgs(d, named as Record<string, unknown>);
  then?.();
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
 * An output whose shape the declaration states: a given `out` is checked here for being a tensor
 * of `dtype` on like's device, and its shape by the declared pattern (the native message, "(from
 * <arg> [...])"); otherwise a new tensor of `shape()` on like's device. `shape` is only called
 * when no `out` is given and may assume nothing: a shape it cannot compute (wrong input ranks,
 * which the declared check then reports) is returned as [0].
 */
export function declaredOutput<D extends DType>(op: string, out: unknown, shape: () => readonly number[] | null, dtype: D, like: Tensor, name = 'out'): Tensor<D> {
  if (out !== undefined) {
    const t = tensorArg(op, name, out, [dtype]);
    sameDevice(op, { input: like, [name]: t });
    return t as Tensor<D>;
  }
  return empty(shape() ?? [0], dtype, { device: like._device < 0 ? 'cpu' : `cuda:${like._device}` });
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

// NB: read once into module constants: an ESM import compiled to CommonJS (tsx, vitest) is a getter
// call on every use, which made this hot check cost hundreds of ns per op
const NAMED_DIM = NAMED_DIM_DECL;

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
  const plan = d.plan;
  const steps = plan.steps;
  for (let k = 0; k < plan.dims.length; k++) bound[k] = -1;
  let leadFrom = '';
  let leadLen = 0;
  for (let n = 0; n < steps.length; n++) {
    const st = steps[n]!;
    const v = named[st.name];
    if (st.kind === 0) {
      if (v === null || v === undefined) continue;
      const s = (v as Shaped).shape;
      const p = st.pattern;
      const ell = st.ellipsis;
      const fixed = st.fixed;
      if (!ell && s.length !== fixed) fail('ERR_SHAPE', d.label, `expected ${st.name} with ${plural(fixed)} but received ${shapeStr(s)}`);
      if (ell && s.length < fixed)
        fail('ERR_SHAPE', d.label, `expected ${st.name} with at least ${plural(fixed)} but received ${s.length ? shapeStr(s) : 'a scalar'}`);
      const lead = s.length - fixed;
      const off = ell ? 1 : 0;
      let ok = true;
      let from = -1;
      if (ell && leadFrom !== '') {
        const g = (named[leadFrom] as Shaped).shape;
        if (leadLen !== lead)
          fail('ERR_SHAPE', d.label, `expected ${st.name} of shape ${shapeStr([...g.slice(0, leadLen), ...s.slice(lead)])} (from ${leadFrom} ${shapeStr(g)}) but received ${shapeStr(s)}`);
        for (let j = 0; j < lead; j++) if (g[j] !== s[j]) ok = false;
      }
      for (let j = 0; j < fixed && ok; j++) {
        const e = p[j + off]!;
        const got = s[lead + j]!;
        if (e >= 0) ok = got === e;
        else if (bound[NAMED_DIM - e]! >= 0 && bound[NAMED_DIM - e] !== got) (ok = false), (from = boundFrom[NAMED_DIM - e]!);
      }
      if (!ok) shapeError(d, named, st, s, lead, leadFrom, from);
      if (ell && leadFrom === '') (leadFrom = st.name), (leadLen = lead);
      for (let j = 0; j < fixed; j++) {
        const e = p[j + off]!;
        if (e < 0 && bound[NAMED_DIM - e]! < 0) (bound[NAMED_DIM - e] = s[lead + j]!), (boundFrom[NAMED_DIM - e] = st.index);
      }
    } else if (st.kind === 1) {
      const r = named[st.like] as Shaped | null | undefined;
      if (v === null || v === undefined || r === null || r === undefined) continue;
      const s = (v as Shaped).shape;
      let same = s.length === r.shape.length;
      for (let j = 0; same && j < s.length; j++) same = s[j] === r.shape[j];
      if (!same) fail('ERR_SHAPE', d.label, `expected ${st.name} of shape ${shapeStr(r.shape)} (from ${st.like}) but received ${shapeStr(s)}`);
      if ((v as Shaped).dtype !== r.dtype) fail('ERR_DTYPE', d.label, `expected ${st.name} of dtype ${r.dtype} (from ${st.like}) but received ${(v as Shaped).dtype}`);
    } else {
      if (typeof v !== 'number' || Number.isNaN(v)) fail('ERR_ARGUMENT', d.label, `expected a number for ${st.name} but received ${describe(v)}`);
      // NB: a NaN bound compares false, so an absent bound never rejects
      if (!Number.isFinite(v) || v < st.min || v > st.max || v <= st.gt || v >= st.lt)
        fail('ERR_RANGE', d.label, `expected ${st.name} ${st.text} but received ${v}`);
    }
  }
}

/** The "expected <name> of shape [...] (from <arg> [...])" error of a pattern mismatch. */
function shapeError(d: OpDecl, named: Record<string, unknown>, st: CheckStep, s: readonly number[], lead: number, leadFrom: string, from: number): never {
  const g = leadFrom !== '' ? (named[leadFrom] as Shaped).shape : null;
  let fromName = from >= 0 ? d.args[from]!.name : '';
  if (g && s.slice(0, lead).some((x, j) => x !== g[j])) fromName = leadFrom;
  const want = s.map((x, j) => {
    if (j < lead) return g ? g[j]! : x;
    const e = st.pattern[j - lead + (st.ellipsis ? 1 : 0)]!;
    return e >= 0 ? e : bound[NAMED_DIM - e]! >= 0 ? bound[NAMED_DIM - e]! : x;
  });
  const f = fromName ? ` (from ${fromName} ${shapeStr((named[fromName] as Shaped).shape)})` : '';
  fail('ERR_SHAPE', d.label, `expected ${st.name} of shape ${shapeStr(want)}${f} but received ${shapeStr(s)}`);
}

/** The declared checks of `d` on named values (what {@link prepared} and {@link callOp} run first). */
export function checkArgs(d: OpDecl, named: Record<string, unknown>): void {
  if (!d.plan.empty) fastCheck(d)(named);
}

// ---- the compiled form of checkDeclared ----------------------------------------------------------

type Checker = (named: Record<string, unknown>) => void;
const compiled = new WeakMap<OpDecl, Checker>();

/**
 * checkDeclared compiled once per op into straight-line code that reads each argument by its
 * property name (monomorphic loads, no per-call allocation). It only detects a violation; the
 * message then comes from {@link checkDeclared}, so both forms give one set of messages.
 */
function fastCheck(d: OpDecl): Checker {
  let f = compiled.get(d);
  if (f) return f;
  const L: string[] = ['let v, r, s, q;', ...d.plan.dims.map((_, k) => `let d${k} = -1;`), 'let G = null, GL = -1;'];
  const prop = (n: string): string => `o[${JSON.stringify(n)}]`;
  for (const st of d.plan.steps) {
    if (st.kind === 0) {
      const off = st.ellipsis ? 1 : 0;
      L.push(`v = ${prop(st.name)};`, 'if (v !== null && v !== undefined) {', ' s = v.shape;');
      L.push(st.ellipsis ? ` if (s.length < ${st.fixed}) return slow(d, o);` : ` if (s.length !== ${st.fixed}) return slow(d, o);`);
      L.push(` const lead = s.length - ${st.fixed};`);
      if (st.ellipsis) L.push(' if (G === null) { G = s; GL = lead; } else { if (GL !== lead) return slow(d, o); for (let j = 0; j < lead; j++) if (G[j] !== s[j]) return slow(d, o); }');
      for (let j = 0; j < st.fixed; j++) {
        const e = st.pattern[j + off]!;
        const at = `s[lead + ${j}]`;
        if (e >= 0) L.push(` if (${at} !== ${e}) return slow(d, o);`);
        else {
          const k = NAMED_DIM - e;
          L.push(` if (d${k} < 0) d${k} = ${at}; else if (d${k} !== ${at}) return slow(d, o);`);
        }
      }
      L.push('}');
    } else if (st.kind === 1) {
      L.push(`v = ${prop(st.name)}; r = ${prop(st.like)};`, 'if (v !== null && v !== undefined && r !== null && r !== undefined) {');
      L.push(' s = v.shape; q = r.shape;', ' if (s.length !== q.length || v.dtype !== r.dtype) return slow(d, o);', ' for (let j = 0; j < s.length; j++) if (s[j] !== q[j]) return slow(d, o);', '}');
    } else {
      const c = [`typeof v !== 'number'`, '!(v - v === 0)'];
      if (!Number.isNaN(st.min)) c.push(`v < ${st.min}`);
      if (!Number.isNaN(st.max)) c.push(`v > ${st.max}`);
      if (!Number.isNaN(st.gt)) c.push(`v <= ${st.gt}`);
      if (!Number.isNaN(st.lt)) c.push(`v >= ${st.lt}`);
      L.push(`v = ${prop(st.name)};`, `if (${c.join(' || ')}) return slow(d, o);`);
    }
  }
  const body = new Function('slow', 'd', `return function check(o) {\n${L.join('\n')}\n};`) as (slow: typeof checkDeclared, d: OpDecl) => Checker;
  f = body(checkDeclared, d);
  compiled.set(d, f);
  return f;
}
