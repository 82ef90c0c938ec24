/** Comparison helpers for the random / noise GPU tests: float32 ulp distances. */
import assert from 'node:assert/strict';

const f = new Float32Array(1);
const u = new Int32Array(f.buffer);

/** Position of a float32 on the integer line (monotonic; +0 and -0 both 0). */
function ordinal(x: number): number {
  f[0] = x;
  const i = u[0]!;
  return i < 0 ? -(i & 0x7fffffff) : i;
}

/** Largest ulp distance between two float32 arrays (NaN must match NaN). */
export function maxUlp(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      assert.ok(Number.isNaN(x) && Number.isNaN(y), `NaN mismatch at ${i}`);
      continue;
    }
    m = Math.max(m, Math.abs(ordinal(x) - ordinal(y)));
  }
  return m;
}

/** Number of bit-identical elements. */
export function exactCount(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += Object.is(a[i], b[i]) ? 1 : 0;
  return n;
}
