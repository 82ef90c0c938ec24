/**
 * One declaration per native op: its positional arguments (name, kind, allowed dtypes, which are
 * written, which output may be which input exactly, which inputs decide addresses). Everything
 * else derives from it:
 * - the TypeScript type of the raw entry point ({@link NativeFn}) and the argument order of every
 *   call ({@link callOp} puts named values in declaration order: the order is written once);
 * - the dtype sets lib/ops/* validate against ({@link dtypesOf});
 * - the native reader: scripts/gen-args.ts renders each `lib/ops/<stem>.args.ts` into
 *   `native/cpp/binding/args/<stem>.h` (index constants + an argument table), which
 *   native/cpp/binding/op_call.{h,cc} reads generically (test/op_decl.test.ts fails when a
 *   generated header is stale).
 * Declaration files import nothing but this file and dtype.ts, so the generator never loads the addon.
 */
import { DTYPES, type DType, FLOAT_DTYPES } from './dtype';

interface Base<N extends string> {
  readonly name: N;
}
export interface TensorDecl<N extends string = string> extends Base<N> {
  readonly kind: 'tensor';
  readonly dtypes: readonly DType[];
  /** null/undefined allowed (absent). */
  readonly optional: boolean;
  /** Written by the op (an output, or updated in place). */
  readonly write: boolean;
  /** Inputs this output may be exactly (same bytes) because the op works in place; any other overlap is ERR_ARGUMENT. */
  readonly inPlace: readonly string[];
  /** Values decide addresses (token ids, offsets, spans): copied once into native memory, checked and used there. */
  readonly index: boolean;
  /**
   * Shape pattern (absent: any shape): entries are literal sizes, dim names unified across the op's
   * arguments ('D' bound by the first argument that has it, equal everywhere else), and at most one
   * leading '...' (any number of dims, the same group in every argument that uses it).
   */
  readonly shape?: readonly (string | number)[];
  /** Same shape and dtype as this (earlier or later) tensor argument; checked after the patterns. */
  readonly like?: string;
}
/** A number's range (always finite); the same rule and message in TS (numberArg) and native. */
export interface NumberRange {
  readonly min?: number;
  readonly max?: number;
  /** exclusive bounds */
  readonly gt?: number;
  readonly lt?: number;
}
export interface ScalarDecl<N extends string = string> extends Base<N> {
  /** dims: an array of at most 8 integers (a permutation); u64Array: null or a BigUint64Array (copied when read). */
  readonly kind: 'number' | 'integer' | 'boolean' | 'u64' | 'string' | 'dims' | 'u64Array';
  /** integer bounds (inclusive) */
  readonly lo?: number;
  readonly hi?: number;
  /** number: checked range (absent: any number, as before) */
  readonly range?: NumberRange;
}
export type ArgDecl = TensorDecl | ScalarDecl;

export interface OpDecl<Name extends string = string, A extends readonly ArgDecl[] = readonly ArgDecl[]> {
  /** Calls `fn` with the named values in declaration order, then the async flag (no array is built). */
  readonly invoke: (fn: (...a: unknown[]) => unknown, named: Record<string, unknown>, async: boolean) => unknown;
  /** The native export name (camelCase public name, `_`-prefixed for internal ones). */
  readonly name: Name;
  /** The public name messages start with (default: name). */
  readonly label: string;
  readonly args: A;
  /** The shape patterns and ranges compiled once (read by lib/op_call.ts and scripts/gen-args.ts). */
  readonly plan: CheckPlan;
}

/** Pattern entries: a literal size (>= 0), the leading '...' group, or named dim k (NAMED_DIM - k). */
export const ELLIPSIS = -1;
export const NAMED_DIM = -2;

/** What the generic checks need, per argument index. */
export interface CheckPlan {
  /** The named dims of all patterns, in order of first appearance. */
  readonly dims: readonly string[];
  /** Encoded pattern per argument (null: none). */
  readonly patterns: readonly (readonly number[] | null)[];
  /** Index of the `like` reference per argument (-1: none). */
  readonly like: readonly number[];
  /** Argument indices with a pattern, then those with `like`, then numbers with a range: the check order. */
  readonly order: readonly number[];
  /** Range text per argument ("a finite number >= 0"), '' when unchecked. */
  readonly rangeText: readonly string[];
  /** True when nothing is declared (the generic check is skipped). */
  readonly empty: boolean;
  /** The checks in order, one object shape for all (a monomorphic hot loop in lib/op_call.ts). */
  readonly steps: readonly CheckStep[];
}

/** One declared check: a pattern (kind 0), a `like` relation (1) or a number range (2). */
export interface CheckStep {
  readonly kind: 0 | 1 | 2;
  readonly index: number;
  readonly name: string;
  readonly pattern: readonly number[];
  readonly ellipsis: boolean;
  /** pattern entries after the '...' group */
  readonly fixed: number;
  /** kind 1: the reference's name */
  readonly like: string;
  /** kind 2: bounds (NaN when absent) and the rule's words */
  readonly min: number;
  readonly max: number;
  readonly gt: number;
  readonly lt: number;
  readonly text: string;
}

/** The rule as words ("a finite number >= 0 < 1"); lib/validate.ts numberArg's messages use it too. */
export function rangeText(r: NumberRange, what = 'a finite number'): string {
  const parts = [what];
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.gt !== undefined) parts.push(`> ${r.gt}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  if (r.lt !== undefined) parts.push(`< ${r.lt}`);
  return parts.join(' ');
}

function compilePlan(args: readonly ArgDecl[]): CheckPlan {
  const dims: string[] = [];
  const patterns = args.map((a) => {
    if (a.kind !== 'tensor' || !a.shape) return null;
    return a.shape.map((e) => {
      if (typeof e === 'number') return e;
      if (e === '...') return ELLIPSIS;
      if (!dims.includes(e)) dims.push(e);
      return NAMED_DIM - dims.indexOf(e);
    });
  });
  const like = args.map((a) => (a.kind === 'tensor' && a.like !== undefined ? args.findIndex((b) => b.name === a.like) : -1));
  const rangeTexts = args.map((a) => (a.kind === 'number' && a.range ? rangeText(a.range) : ''));
  const order = [
    ...args.flatMap((_, i) => (patterns[i] ? [i] : [])),
    ...args.flatMap((_, i) => (like[i]! >= 0 ? [i] : [])),
    ...args.flatMap((_, i) => (rangeTexts[i] ? [i] : [])),
  ];
  const steps = order.map((i): CheckStep => {
    const a = args[i]!;
    const pattern = patterns[i] ?? [];
    const r = (a.kind !== 'tensor' && a.range) || {};
    return {
      kind: patterns[i] ? 0 : like[i]! >= 0 ? 1 : 2,
      index: i,
      name: a.name,
      pattern,
      ellipsis: pattern[0] === ELLIPSIS,
      fixed: pattern.length - (pattern[0] === ELLIPSIS ? 1 : 0),
      like: like[i]! >= 0 ? args[like[i]!]!.name : '',
      min: r.min ?? NaN,
      max: r.max ?? NaN,
      gt: r.gt ?? NaN,
      lt: r.lt ?? NaN,
      text: rangeTexts[i]!,
    };
  });
  return { dims, patterns, like, order, rangeText: rangeTexts, empty: order.length === 0, steps };
}

export const FLOATS = FLOAT_DTYPES;
export const MASKS: readonly DType[] = ['bool', 'uint8'];
export const LABELS: readonly DType[] = ['int32', 'int64'];

/** float32's largest finite value: the bound of numbers the kernels read as float. */
export const F32_MAX = 3.4028234663852886e38;

/** A shape pattern (see {@link TensorDecl.shape}) or `'like <arg>'` (same shape and dtype). */
export type ShapeSpec = readonly (string | number)[] | `like ${string}`;
interface ShapeOpts {
  optional?: boolean;
  shape?: ShapeSpec;
}
interface TensorOpts<I extends string> extends ShapeOpts {
  inPlace?: readonly I[];
}
function shapeOf(spec: ShapeSpec | undefined): { shape?: readonly (string | number)[]; like?: string } {
  if (spec === undefined) return {};
  if (typeof spec === 'string') return { like: spec.slice(5) };
  return { shape: spec };
}
type Opt<O> = O extends { optional: true } ? { readonly optional: true } : { readonly optional: false };

/** A tensor the op reads. */
export function input<N extends string, const O extends ShapeOpts = {}>(name: N, dtypes: readonly DType[] = DTYPES, opts: O = {} as O): TensorDecl<N> & Opt<O> {
  return { kind: 'tensor', name, dtypes, optional: !!opts.optional, write: false, inPlace: [], index: false, ...shapeOf(opts.shape) } as TensorDecl<N> & Opt<O>;
}
/** A tensor whose values decide addresses; copied once into native memory (see {@link TensorDecl.index}). */
export function index<N extends string, const O extends ShapeOpts = {}>(name: N, dtypes: readonly DType[], opts: O = {} as O): TensorDecl<N> & Opt<O> {
  return { kind: 'tensor', name, dtypes, optional: !!opts.optional, write: false, inPlace: [], index: true, ...shapeOf(opts.shape) } as TensorDecl<N> & Opt<O>;
}
/** A tensor the op writes; `inPlace` names the inputs it may be exactly. */
export function output<N extends string, const O extends TensorOpts<string> = {}>(name: N, dtypes: readonly DType[] = DTYPES, opts: O = {} as O): TensorDecl<N> & Opt<O> {
  return { kind: 'tensor', name, dtypes, optional: !!opts.optional, write: true, inPlace: opts.inPlace ?? [], index: false, ...shapeOf(opts.shape) } as TensorDecl<N> & Opt<O>;
}
/** A number; with `range`, a finite number in it (checked in TS and native with one message). */
export const number = <N extends string>(name: N, range?: NumberRange): ScalarDecl<N> & { kind: 'number' } => (range ? { kind: 'number', name, range } : { kind: 'number', name });
export const integer = <N extends string>(name: N, lo: number, hi: number): ScalarDecl<N> & { kind: 'integer' } => ({ kind: 'integer', name, lo, hi });
export const boolean = <N extends string>(name: N): ScalarDecl<N> & { kind: 'boolean' } => ({ kind: 'boolean', name });
/** A seed/offset: non-negative safe integer or bigint below 2^64. */
export const u64 = <N extends string>(name: N): ScalarDecl<N> & { kind: 'u64' } => ({ kind: 'u64', name });
export const string = <N extends string>(name: N): ScalarDecl<N> & { kind: 'string' } => ({ kind: 'string', name });
export const dims = <N extends string>(name: N): ScalarDecl<N> & { kind: 'dims' } => ({ kind: 'dims', name });
export const u64Array = <N extends string>(name: N): ScalarDecl<N> & { kind: 'u64Array' } => ({ kind: 'u64Array', name });

export function defineOp<const Name extends string, const A extends readonly ArgDecl[]>(name: Name, args: A, label: string = name): OpDecl<Name, A> {
  const seen = new Set<string>();
  for (const a of args) {
    if (seen.has(a.name)) throw new Error(`${name}: argument ${a.name} declared twice`);
    seen.add(a.name);
    if (a.kind === 'tensor') for (const p of a.inPlace) if (!args.some((b) => b.name === p && b.kind === 'tensor' && !b.write)) throw new Error(`${name}: ${a.name} in place of unknown input ${p}`);
  }
  // NB: names were checked above to be unique; they are identifiers (scripts/gen-args.ts checks too)
  for (const a of args) if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(a.name)) throw new Error(`${name}: argument name ${a.name} is not an identifier`);
  checkShapes(name, args);
  const invoke = new Function('fn', 'o', 'a', `return fn(${args.map((a) => `o.${a.name} ?? null`).join(', ')}${args.length ? ', ' : ''}a);`) as OpDecl['invoke'];
  return { name, label, args, invoke, plan: compilePlan(args) };
}

/** Declaration errors in shape patterns (thrown when the op table loads, so a typo never ships). */
function checkShapes(op: string, args: readonly ArgDecl[]): void {
  for (const a of args) {
    if (a.kind !== 'tensor') {
      const r = a.range;
      if (r) for (const v of [r.min, r.max, r.gt, r.lt]) if (v !== undefined && !Number.isFinite(v)) throw new Error(`${op}: ${a.name} has a non-finite bound`);
      continue;
    }
    if (a.shape && a.like) throw new Error(`${op}: ${a.name} has both a shape and like`);
    if (a.like !== undefined && !args.some((b) => b.name === a.like && b.kind === 'tensor' && b !== a && !b.like))
      throw new Error(`${op}: ${a.name} like unknown (or itself like-declared) tensor ${a.like}`);
    const p = a.shape ?? [];
    if (p.length > 8) throw new Error(`${op}: ${a.name} has more than 8 dims`);
    p.forEach((e, i) => {
      if (typeof e === 'number' ? !(Number.isInteger(e) && e >= 0 && e < 2 ** 31) : !(/^[A-Za-z][A-Za-z0-9]*$/.test(e) || (e === '...' && i === 0)))
        throw new Error(`${op}: ${a.name} shape entry ${String(e)} is not a size, a dim name or a leading '...'`);
    });
  }
}

// ---- types ------------------------------------------------------------------------------------

/** The JS value of one argument. */
export type ArgValue<A> = A extends { kind: 'tensor'; optional: true }
  ? NativeTensor | null | undefined
  : A extends { kind: 'tensor' }
    ? NativeTensor
    : A extends { kind: 'number' | 'integer' }
      ? number
      : A extends { kind: 'boolean' }
        ? boolean
        : A extends { kind: 'u64' }
          ? number | bigint
          : A extends { kind: 'dims' }
            ? readonly number[]
            : A extends { kind: 'u64Array' }
              ? BigUint64Array | null | undefined
              : string;

/** What native code reads from a tensor (lib Tensor satisfies it). */
export interface NativeTensor {
  readonly _code: number;
  readonly shape: readonly number[];
  readonly _device: number;
  readonly _store: unknown;
}

type Positional<A extends readonly ArgDecl[]> = { -readonly [K in keyof A]: ArgValue<A[K]> };
/** The raw entry point's type: positional arguments in declaration order, then the async flag. */
export interface NativeFn<D extends OpDecl, R = void> {
  (...args: [...Positional<D['args']>, false]): R;
  (...args: [...Positional<D['args']>, true]): Promise<R>;
}
type Named<A extends readonly ArgDecl[]> = { [X in A[number] as X['name']]: ArgValue<X> };
/** The arguments of {@link callOp}, by name. */
export type NamedArgs<D extends OpDecl> = Named<D['args']>;

/** Allowed dtypes of the argument `name` (the same set native code checks). */
export function dtypesOf(d: OpDecl, name: string): readonly DType[] {
  const a = d.args.find((x) => x.name === name);
  if (!a || a.kind !== 'tensor') throw new Error(`${d.name}: no tensor argument ${name}`);
  return a.dtypes;
}

