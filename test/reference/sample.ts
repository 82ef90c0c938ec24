/**
 * float64 references for sampling.sample, written from the Hugging Face processors (never by
 * calling mmpref): the final distribution of one row after repetition penalty, temperature,
 * top-k, top-p and min-p (with a full sort, as HF does), a sort-based sampler (the bench
 * baseline), and Philox4x32-10 for checking the documented random stream.
 */
export interface SampleRefOptions {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  /** this row's history, -1 = padding */
  history?: ArrayLike<number>;
}

/** Processed logits (steps 1-2): penalty for each distinct history token, then / temperature. */
export function processedRef(row: ArrayLike<number>, o: SampleRefOptions): Float64Array {
  const l = Float64Array.from(row);
  const pen = o.repetitionPenalty ?? 1;
  if (o.history) {
    const seen = new Set<number>();
    for (let i = 0; i < o.history.length; i++) {
      const h = o.history[i]!;
      if (h === -1 || seen.has(h)) continue;
      seen.add(h);
      l[h] = l[h]! < 0 ? l[h]! * pen : l[h]! / pen;
    }
  }
  const t = o.temperature ?? 1;
  if (t > 0) for (let j = 0; j < l.length; j++) l[j] = l[j]! / t;
  return l;
}

/**
 * The final distribution of one row (probabilities summing to 1, 0 for removed tokens). Greedy
 * (temperature 0) is a point mass on the lowest index of the max.
 */
export function sampleDistRef(row: ArrayLike<number>, o: SampleRefOptions = {}): Float64Array {
  const V = row.length;
  const l = processedRef(row, o);
  const p = new Float64Array(V);
  if ((o.temperature ?? 1) === 0) {
    let best = 0;
    for (let j = 1; j < V; j++) if (l[j]! > l[best]!) best = j;
    p[best] = 1;
    return p;
  }
  const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => l[b]! - l[a]!);
  const keep = new Uint8Array(V).fill(1);
  // top-k: remove l < (k-th largest): ties at the cut stay
  const k = o.topK ?? 0;
  if (k > 0 && k < V) {
    const kth = l[order[k - 1]!]!;
    for (let j = 0; j < V; j++) if (l[j]! < kth) keep[j] = 0;
  }
  const m = l[order[0]!]!;
  // top-p on the distribution renormalised over the top-k set: keep j iff the mass of tokens
  // strictly larger than j is < topP (ties share that mass), the top token(s) always
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let z = 0;
    for (let j = 0; j < V; j++) if (keep[j]) z += Math.exp(l[j]! - m);
    let above = 0; // mass strictly above the current value group
    let i = 0;
    while (i < V && keep[order[i]!]) {
      const v = l[order[i]!]!;
      let group = 0;
      let e = i;
      while (e < V && l[order[e]!]! === v) group += Math.exp(v - m), e++;
      const drop = above > 0 && !(above / z < topP);
      for (let g = i; g < e; g++) if (drop) keep[order[g]!] = 0;
      above += group;
      i = e;
    }
  }
  // min-p relative to the top token
  const minP = o.minP ?? 0;
  if (minP > 0) for (let j = 0; j < V; j++) if (Math.exp(l[j]! - m) < minP) keep[j] = 0;
  let z = 0;
  for (let j = 0; j < V; j++) if (keep[j]) z += Math.exp(l[j]! - m);
  for (let j = 0; j < V; j++) p[j] = keep[j] ? Math.exp(l[j]! - m) / z : 0;
  return p;
}

/** Sort-based sampler (HF order), the bench baseline: one token per row from uniforms u[r] in [0, 1). */
export function sampleSortRef(logits: ArrayLike<number>, rows: number, vocab: number, o: SampleRefOptions, u: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const p = sampleDistRef(Array.prototype.slice.call(logits, r * vocab, (r + 1) * vocab) as number[], o);
    let acc = 0;
    let j = 0;
    for (; j < vocab - 1; j++) {
      acc += p[j]!;
      if (acc > u[r]!) break;
    }
    while (p[j] === 0 && j > 0) j--;
    out[r] = j;
  }
  return out;
}

// ---- Philox4x32-10 (Salmon et al. 2011), for the documented stream ---------------------------

function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a) * BigInt(b);
  return [Number(p >> 32n), Number(p & 0xffffffffn)];
}

/** philox4x32_10(counter, key) -> 4 words. */
export function philoxRef(c: [number, number, number, number], k: [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = c;
  let [k0, k1] = k;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** The 64-bit random word of row `row` at `step` with `seed`: block `row` of stream (seed, offset = step), words 0 | 1 << 32. */
export function sampleRandomRef(seed: bigint, step: bigint, row: bigint): bigint {
  const lo = (x: bigint) => Number(x & 0xffffffffn);
  const hi = (x: bigint) => Number((x >> 32n) & 0xffffffffn);
  const w = philoxRef([lo(row), hi(row), lo(step), hi(step)], [lo(seed), hi(seed)]);
  return BigInt(w[0]) | (BigInt(w[1]) << 32n);
}

/** The token the inverse-CDF walk picks for the uniform u = r / 2^64 under distribution p (index order). */
export function walkRef(p: ArrayLike<number>, r: bigint): number {
  const u = Number(r) / 2 ** 64;
  let acc = 0;
  let last = 0;
  for (let j = 0; j < p.length; j++) {
    if (p[j]! <= 0) continue;
    last = j;
    acc += p[j]!;
    if (acc > u) return j;
  }
  return last;
}
