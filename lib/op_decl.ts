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
}
export interface ScalarDecl<N extends string = string> extends Base<N> {
  /** dims: an array of at most 8 integers (a permutation); u64Array: null or a BigUint64Array (copied when read). */
  readonly kind: 'number' | 'integer' | 'boolean' | 'u64' | 'string' | 'dims' | 'u64Array';
  /** integer bounds (inclusive) */
  readonly lo?: number;
  readonly hi?: number;
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
}

export const FLOATS = FLOAT_DTYPES;
export const MASKS: readonly DType[] = ['bool', 'uint8'];
export const LABELS: readonly DType[] = ['int32', 'int64'];

interface TensorOpts<I extends string> {
  optional?: boolean;
  inPlace?: readonly I[];
}
type Opt<O> = O extends { optional: true } ? { readonly optional: true } : { readonly optional: false };

/** A tensor the op reads. */
export function input<N extends string, const O extends { optional?: boolean } = {}>(name: N, dtypes: readonly DType[] = DTYPES, opts: O = {} as O): TensorDecl<N> & Opt<O> {
  return { kind: 'tensor', name, dtypes, optional: !!opts.optional, write: false, inPlace: [], index: false } as TensorDecl<N> & Opt<O>;
}
/** A tensor whose values decide addresses; copied once into native memory (see {@link TensorDecl.index}). */
export function index<N extends string, const O extends { optional?: boolean } = {}>(name: N, dtypes: readonly DType[], opts: O = {} as O): TensorDecl<N> & Opt<O> {
  return { kind: 'tensor', name, dtypes, optional: !!opts.optional, write: false, inPlace: [], index: true } as TensorDecl<N> & Opt<O>;
}
/** A tensor the op writes; `inPlace` names the inputs it may be exactly. */
export function output<N extends string, const O extends TensorOpts<string> = {}>(name: N, dtypes: readonly DType[] = DTYPES, opts: O = {} as O): TensorDecl<N> & Opt<O> {
  return { kind: 'tensor', name, dtypes, optional: !!opts.optional, write: true, inPlace: opts.inPlace ?? [], index: false } as TensorDecl<N> & Opt<O>;
}
export const number = <N extends string>(name: N): ScalarDecl<N> & { kind: 'number' } => ({ kind: 'number', name });
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
  const invoke = new Function('fn', 'o', 'a', `return fn(${args.map((a) => `o.${a.name} ?? null`).join(', ')}${args.length ? ', ' : ''}a);`) as OpDecl['invoke'];
  return { name, label, args, invoke };
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

