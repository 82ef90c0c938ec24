/**
 * Philox4x32-10 (Salmon et al., SC'11; Random123 `philox4x32`), float64-free integer reference in
 * plain TS: 32x32 -> 64-bit products are formed from 16-bit halves so every step is exact.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** [hi, lo] of the 64-bit product a * b (a, b uint32). */
export function mulhilo32(a: number, b: number): [number, number] {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  const mid = Math.floor(ll / 65536) + (lh % 65536) + (hl % 65536);
  const hi = hh + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536);
  const lo = ((mid % 65536) * 65536 + (ll % 65536)) >>> 0;
  return [hi >>> 0, lo];
}

/** philox4x32-10 of counter (c0..c3) under key (k0, k1): four uint32 words. */
export function philox4x32_10(ctr: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = ctr.map((x) => x >>> 0) as [number, number, number, number];
  let [k0, k1] = key.map((x) => x >>> 0) as [number, number];
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo32(M0, c0);
    const [hi1, lo1] = mulhilo32(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

const lo32 = (x: bigint): number => Number(x & 0xffffffffn);
const hi32 = (x: bigint): number => Number((x >> 32n) & 0xffffffffn);

/**
 * Word `index` of the mmpref stream (seed, offset): word index mod 4 of the block
 * floor(index / 4), whose counter is {block lo, block hi, offset lo, offset hi} and key {seed lo, seed hi}.
 */
export function philoxWord(seed: bigint, offset: bigint, index: bigint): number {
  const block = index / 4n;
  const words = philox4x32_10([lo32(block), hi32(block), lo32(offset), hi32(offset)], [lo32(seed), hi32(seed)]);
  return words[Number(index % 4n)]!;
}
