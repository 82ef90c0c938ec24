/**
 * Test utilities shared by every test/<op>.test.ts (and test/gpu/*.gpu.ts): seeded random data,
 * a verbose allclose, typed-error assertions. No mmpref math here: references live in
 * test/reference/ (float64, plain loops, written from the formulas).
 */
import { MmprefError, type ErrorCode } from '../lib/errors';
import { Tensor } from '../lib/tensor';

/** Tensor's constructor, private in the public types: tests build lying tensors with it (no checks). */
export const RawTensor = Tensor as unknown as new (store: unknown, shape: readonly number[], dtype: string, device: number) => Tensor<'float32'>;

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws from a uniform source (Box-Muller). */
export function randn(r: () => number): number {
  const u = 1 - r();
  const v = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function randomArray(n: number, r: () => number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = randn(r) * scale;
  return a;
}

export interface CloseOptions {
  rtol?: number;
  atol?: number;
  /** what is compared, for the message */
  name?: string;
}

/**
 * Asserts |a - e| <= atol + rtol * |e| elementwise, with NaN == NaN and equal infinities. On failure
 * the message lists the first bad indices and counts NaN/inf apart (Liger's assert_verbose_allclose).
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOptions = {}): void {
  const { rtol = 1e-5, atol = 1e-6, name = 'values' } = opts;
  if (actual.length !== expected.length)
    throw new Error(`${name}: length ${actual.length} != expected ${expected.length}`);
  const bad: string[] = [];
  let count = 0;
  let nanA = 0;
  let nanE = 0;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a)) nanA++;
    if (Number.isNaN(e)) nanE++;
    let ok: boolean;
    if (Number.isNaN(e) || Number.isNaN(a)) ok = Number.isNaN(e) && Number.isNaN(a);
    else if (!Number.isFinite(e) || !Number.isFinite(a)) ok = a === e;
    else {
      const err = Math.abs(a - e);
      ok = err <= atol + rtol * Math.abs(e);
      if (!ok) worst = Math.max(worst, err / (atol + rtol * Math.abs(e)));
    }
    if (!ok) {
      count++;
      if (bad.length < 8) bad.push(`[${i}] got ${a} expected ${e}`);
    }
  }
  if (count)
    throw new Error(
      `${name}: ${count}/${actual.length} mismatches (rtol ${rtol}, atol ${atol}, worst ${worst.toFixed(1)}x tolerance; ` +
        `NaN: ${nanA} got vs ${nanE} expected)\n  ${bad.join('\n  ')}`,
    );
}

/** Asserts bit-identical float32 arrays (NaN payloads included). */
export function assertBitEqual(a: Float32Array | Uint16Array | Int32Array | Uint8Array, b: typeof a, name = 'values'): void {
  const ua = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const ub = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (ua.length !== ub.length) throw new Error(`${name}: byte length ${ua.length} != ${ub.length}`);
  for (let i = 0; i < ua.length; i++)
    if (ua[i] !== ub[i]) throw new Error(`${name}: first differing byte ${i} (element ${Math.floor(i / a.BYTES_PER_ELEMENT)})`);
}

/** Runs fn, expects an MmprefError with `code` whose message matches `re`; returns it. */
export function expectError(fn: () => unknown, code: ErrorCode, re?: RegExp): MmprefError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof MmprefError)) throw new Error(`expected MmprefError ${code} but ${err === undefined ? 'nothing was thrown' : `got ${String(err)}`}`);
  if (err.code !== code) throw new Error(`expected ${code} but got ${err.code}: ${err.message}`);
  if (re && !re.test(err.message)) throw new Error(`message ${JSON.stringify(err.message)} does not match ${re}`);
  return err;
}

/** Async variant of {@link expectError}. */
export async function expectRejection(p: Promise<unknown>, code: ErrorCode, re?: RegExp): Promise<MmprefError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  return expectError(() => {
    if (err !== undefined) throw err;
  }, code, re);
}

/** The code and message of the MmprefError fn throws (to compare two errors, e.g. the TS and the native check of one call). */
export function caught(fn: () => unknown): { code: string; message: string } {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof MmprefError)) throw new Error(`expected an MmprefError but ${err === undefined ? 'nothing was thrown' : `got ${String(err)}`}`);
  return { code: err.code, message: err.message };
}
