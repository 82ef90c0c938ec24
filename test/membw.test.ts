// The bench ceilings (native/cpp/ops/membw.cc, binding/membw.cc) compute what they claim: the
// read loop sums, the non-temporal copy and write paths store every element (including unaligned
// heads and odd tails), the FMA loops report their work, and the RSS probe sees an allocation.
// Correctness only: speed is measured by `npm run bench`, never asserted here.
import { describe, expect, it } from 'vitest';
import { MmprefError } from '../lib';
import { native } from '../lib/native';

const raw = native as unknown as Record<string, (...a: unknown[]) => unknown>;
const view = (a: Float32Array) => ({ _store: a, _code: 0, shape: [a.length], _device: -1 });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof MmprefError) return e.code;
    return `non-mmpref ${String(e)}`;
  }
  return 'no error';
}

/** Index of the first element that differs (-1: none); a loop, as deep equality on 200k floats is slow. */
function firstMismatch(a: Float32Array, b: Float32Array | number): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== (typeof b === 'number' ? b : b[i])) return i;
  return -1;
}

describe('_membw', () => {
  // lengths around the vector widths and block size (1 << 16 floats), offsets that misalign by 4 bytes
  const lengths = [1, 7, 63, 129, 1000, (1 << 16) + 77, 3 * (1 << 16) + 5];
  for (const n of lengths)
    for (const off of [0, 1, 3])
      it(`copy (non-temporal and memcpy), write and rmw store all ${n} elements at offset ${off}`, () => {
        const src = new Float32Array(new ArrayBuffer(4 * (n + off + 1)), 4 * off, n);
        for (let i = 0; i < n; i++) src[i] = i % 1000;
        for (const kind of [1, 4]) {
          const dst = new Float32Array(new ArrayBuffer(4 * (n + off + 1)), 4 * off, n).fill(-1);
          raw._membw!(kind, view(src), view(dst), 1, false);
          expect(firstMismatch(dst, src)).toBe(-1);
        }
        const w = new Float32Array(new ArrayBuffer(4 * (n + off + 2)), 4 * off, n + 1).fill(-1);
        raw._membw!(3, view(w.subarray(0, n)), null, 1, false);
        expect(firstMismatch(w.subarray(0, n), 1)).toBe(-1);
        expect(w[n]).toBe(-1); // nothing written past the end
        const r = new Float32Array(n).fill(1);
        raw._membw!(2, view(r), null, 1, false); // warm-up + 1 rep: x = 0.999 x + 1e-7, twice
        const once = Math.fround(Math.fround(0.999) + Math.fround(1e-7));
        const twice = Math.fround(Math.fround(Math.fround(0.999) * once) + Math.fround(1e-7));
        expect(firstMismatch(r, twice)).toBe(-1);
      });

  it('read returns a time and accepts every length', () => {
    for (const n of lengths) expect(raw._membw!(0, view(new Float32Array(n).fill(1)), null, 2, false)).toBeGreaterThan(0);
  });

  it('checks its arguments', () => {
    const x = view(new Float32Array(8));
    expect(codeOf(() => raw._membw!(5, x, null, 1, false))).toBe('ERR_RANGE');
    expect(codeOf(() => raw._membw!(1, x, null, 1, false))).toBe('ERR_SHAPE'); // copy without y
    expect(codeOf(() => raw._membw!(4, x, view(new Float32Array(4)), 1, false))).toBe('ERR_SHAPE');
    expect(codeOf(() => raw._membw!(0, x, null, -1, false))).toBe('ERR_RANGE');
    expect(raw._membw!(0, x, null, 0, false)).toBeGreaterThan(0); // reps 0: one pass
  });
});

describe('_flops', () => {
  it('float32 FMA loop: flops = threads x iterations x chains x lanes x 2, on the ISA it names', () => {
    const r = raw._flops!(0, 1 << 12, 1, false) as { seconds: number; flops: number; isa: string };
    expect(['avx512', 'avx2-fma', 'c']).toContain(r.isa);
    expect(r.seconds).toBeGreaterThan(0);
    const perIter = { avx512: 24 * 16 * 2, 'avx2-fma': 12 * 8 * 2, c: 64 * 2 }[r.isa]!;
    expect(r.flops % ((1 << 10) * perIter)).toBe(0); // (iters / 4) x perIter per work item
    expect(r.flops).toBeGreaterThanOrEqual(4 * (1 << 10) * perIter); // >= 1 thread x 4 items
  });

  it('bfloat16 dot loop runs where the CPU has AVX512-BF16 and is ERR_DEVICE elsewhere', () => {
    const code = codeOf(() => raw._flops!(1, 1 << 10, 1, false));
    if (code === 'no error') expect((raw._flops!(1, 1 << 10, 1, false) as { isa: string }).isa).toBe('avx512-bf16');
    else expect(code).toBe('ERR_DEVICE');
  });

  it('checks its arguments', () => {
    expect(codeOf(() => raw._flops!(2, 1, 1, false))).toBe('ERR_RANGE');
    expect(codeOf(() => raw._flops!(0, 0, 1, false))).toBe('ERR_RANGE');
    expect(codeOf(() => raw._flops!(0, 'x', 1, false))).not.toBe('no error');
  });
});

describe('_memprobe', () => {
  it('sees a 32 MiB allocation touched between start and stop', () => {
    const base = raw._memprobe!(0) as number;
    if (base < 0) return; // not Linux: the harness reports "not measured"
    const a = new Float32Array(8 << 20).fill(1);
    const growth = raw._memprobe!(1) as number;
    expect(a[a.length - 1]).toBe(1);
    expect(growth).toBeGreaterThanOrEqual(32 * 2 ** 20 * 0.99);
    expect(raw._memprobe!(1)).toBe(-1); // stopped: nothing to report
  });
});
