/**
 * Reference Philox4x32-10 stream (Salmon et al., SC'11; Random123) and the element transforms of
 * random.bits / uniform / normal, written from the definitions in docs/noise.md with plain
 * numbers, never by calling mmpref. Values are float64 except where the definition itself rounds
 * to float32 (the Box-Muller u, which is a float32 value by definition).
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO32 = 4294967296;

/** [hi, lo] of the 64-bit product of two uint32. */
function mulhilo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  // a * b = a*bh*2^16 + a*bl; hi = floor((a*bh + floor(a*bl / 2^16)) / 2^16), every term exact
  const hi = Math.floor((a * bh + Math.floor((a * bl) / 65536)) / 65536) >>> 0;
  return [hi, lo];
}

/** Philox4x32-10 of counter (c0..c3) and key (k0, k1): four uint32 words. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): [number, number, number, number] {
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

const lo32 = (v: bigint): number => Number(v & 0xffffffffn);
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);

/** A stream (seed, offset): block b = philox({b_lo, b_hi, offset_lo, offset_hi}, {seed_lo, seed_hi}). */
export class Stream {
  private readonly k0: number;
  private readonly k1: number;
  private readonly o0: number;
  private readonly o1: number;
  constructor(seed: number | bigint, offset: number | bigint = 0) {
    const s = BigInt(seed);
    const o = BigInt(offset);
    this.k0 = lo32(s);
    this.k1 = hi32(s);
    this.o0 = lo32(o);
    this.o1 = hi32(o);
  }
  /** Block b (a number below 2^53 or a bigint below 2^64). */
  block(b: number | bigint): [number, number, number, number] {
    const c0 = typeof b === 'bigint' ? lo32(b) : b % TWO32;
    const c1 = typeof b === 'bigint' ? hi32(b) : Math.floor(b / TWO32);
    return philox4x32(c0, c1, this.o0, this.o1, this.k0, this.k1);
  }
  /** Word i. */
  word(i: number): number {
    return this.block(Math.floor(i / 4))[i % 4]!;
  }
  /** Words i0 .. i0 + n - 1. */
  words(i0: number, n: number): Uint32Array {
    const out = new Uint32Array(n);
    let cached = -1;
    let w: number[] = [];
    for (let j = 0; j < n; j++) {
      const i = i0 + j;
      const b = Math.floor(i / 4);
      if (b !== cached) {
        w = this.block(b);
        cached = b;
      }
      out[j] = w[i % 4]!;
    }
    return out;
  }
  /** Normals i0 .. i0 + n - 1 (float64, from the float32 u of the definition). */
  normals(i0: number, n: number): Float64Array {
    const out = new Float64Array(n);
    let cached = -1;
    let z: [number, number, number, number] = [0, 0, 0, 0];
    for (let j = 0; j < n; j++) {
      const i = i0 + j;
      const b = Math.floor(i / 4);
      if (b !== cached) {
        const w = this.block(b);
        const [a0, a1] = boxMuller(w[0], w[1]);
        const [a2, a3] = boxMuller(w[2], w[3]);
        z = [a0, a1, a2, a3];
        cached = b;
      }
      out[j] = z[i % 4]!;
    }
    return out;
  }
  /** Uniforms in [0, 1) of words i0 .. */
  uniforms(i0: number, n: number): Float64Array {
    return Float64Array.from(this.words(i0, n), uniformOf);
  }
  /** Symmetric uniforms in (-1, 1) of words i0 .. */
  pm1s(i0: number, n: number): Float64Array {
    return Float64Array.from(this.words(i0, n), pm1Of);
  }
}

/** uniform in [0, 1): the top 24 bits times 2^-24. */
export const uniformOf = (w: number): number => (w >>> 8) * 2 ** -24;

/** symmetric uniform in (-1, 1): (w >> 8) 2^-23 - (1 - 2^-24). */
export const pm1Of = (w: number): number => (w >>> 8) * 2 ** -23 - (1 - 2 ** -24);

/** Box-Muller on words (wa, wb): u = fl32(fl32(wa >> 1) 2^-31 + 2^-32), theta = 2 pi (wb >> 8) 2^-24. */
export function boxMuller(wa: number, wb: number): [number, number] {
  const u = Math.fround(Math.fround(wa >>> 1) * 2 ** -31 + 2 ** -32);
  const r = Math.sqrt(-2 * Math.log(u));
  const theta = 2 * Math.PI * (wb >>> 8) * 2 ** -24;
  return [r * Math.cos(theta), r * Math.sin(theta)];
}
