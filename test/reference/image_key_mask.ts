/**
 * Reference BDHS image-key mask, from its definition: key p of batch row b is an image key when
 * it lies in one of row b's [start, length) spans, and is blocked when u < ratio, with
 * u = (word >> 8) * 2^-24 and word = word b * 2^32 + p of the Philox stream (seed, offset).
 * Returns 1 = may attend (AND an optional base mask).
 */
import { philoxWord } from './philox';

export function imageKeyMaskRef(
  spans: ReadonlyArray<ReadonlyArray<readonly [number, number]>>,
  length: number,
  ratio: number,
  seed: number | bigint,
  offset: number | bigint,
  base?: ArrayLike<number>,
): Uint8Array {
  const B = spans.length;
  const out = new Uint8Array(B * length);
  for (let b = 0; b < B; b++)
    for (let p = 0; p < length; p++) {
      let keep = base ? (base[b * length + p] ? 1 : 0) : 1;
      const image = spans[b]!.some(([s, l]) => p >= s && p < s + l);
      if (image) {
        const w = philoxWord(BigInt(seed), BigInt(offset), BigInt(b) * 2n ** 32n + BigInt(p));
        const u = Math.floor(w / 256) / 2 ** 24;
        if (u < ratio) keep = 0;
      }
      out[b * length + p] = keep;
    }
  return out;
}
