import { describe, expect, it } from 'vitest';
import { numThreads, sampling, setNumThreads, tensor, type FloatDType } from '../lib';
import { decodeToFloat32 } from '../lib/dtype';
import { sampleDistRef, sampleRandomRef, walkRef, type SampleRefOptions } from './reference/sample';
import { assertBitEqual, expectError, expectRejection, randomArray, rng } from './helpers';

// ---- helpers ----------------------------------------------------------------------------------

/** Chi-square critical values at alpha = 0.001 (df 1..10); Wilson-Hilferty beyond. */
const CHI2_001 = [10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588];
function chi2Critical(df: number): number {
  if (df <= 10) return CHI2_001[df - 1]!;
  const z = 3.0902; // upper 0.001 quantile of N(0, 1)
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/**
 * Pearson chi-square of observed counts against expected probabilities p (bins with expected
 * count < 5 are pooled). Returns the statistic, the degrees of freedom and the critical value.
 * Tokens with p = 0 must never be drawn (checked separately, exactly).
 */
function chiSquare(counts: ArrayLike<number>, p: ArrayLike<number>, n: number) {
  let stat = 0;
  let df = -1;
  let poolO = 0;
  let poolE = 0;
  for (let j = 0; j < p.length; j++) {
    if (p[j]! === 0) continue;
    const e = n * p[j]!;
    if (e < 5) {
      poolO += counts[j]!;
      poolE += e;
      continue;
    }
    stat += (counts[j]! - e) ** 2 / e;
    df++;
  }
  if (poolE > 0) {
    stat += (poolO - poolE) ** 2 / poolE;
    df++;
  }
  return { stat, df, critical: chi2Critical(Math.max(df, 1)) };
}

function histogram(tokens: Int32Array, V: number): Float64Array {
  const c = new Float64Array(V);
  for (const t of tokens) c[t]!++;
  return c;
}

/** B copies of one row of logits, as a tensor of `dtype`, and the values it holds. */
function repeatRow(row: readonly number[], B: number, dtype: FloatDType = 'float32') {
  const V = row.length;
  const data = new Float32Array(B * V);
  for (let b = 0; b < B; b++) data.set(row, b * V);
  const t = tensor(data, [B, V], { dtype });
  return { t, held: Array.from(decodeToFloat32(dtype, t.data.subarray(0, V) as Float32Array)) };
}

/** Draws B samples of one row and checks support (exactly) and frequencies (chi-square). */
function checkDistribution(row: readonly number[], o: SampleRefOptions & { seed?: number }, B = 20000, dtype: FloatDType = 'float32', steps = 1) {
  const { t, held } = repeatRow(row, B, dtype);
  const history = o.history ? tensor(Int32Array.from({ length: B * o.history.length }, (_, i) => o.history![i % o.history!.length]!), [B, o.history.length], { dtype: 'int32' }) : undefined;
  const { history: _h, seed = 7, ...rest } = o;
  const p = sampleDistRef(held, o);
  const counts = new Float64Array(row.length);
  let r!: ReturnType<typeof sampling.sample>;
  for (let step = 0; step < steps; step++) {
    r = sampling.sample(t, { ...rest, history, seed, step });
    histogram(r.tokens.data, row.length).forEach((c, j) => (counts[j]! += c));
  }
  for (let j = 0; j < row.length; j++) if (p[j] === 0) expect(counts[j], `token ${j} is outside the support`).toBe(0);
  const c = chiSquare(counts, p, B * steps);
  expect(c.stat, `chi-square ${c.stat.toFixed(2)} with ${c.df} df (critical ${c.critical.toFixed(2)} at alpha 0.001)`).toBeLessThan(c.critical);
  // logprobs are log p of the drawn token under the final distribution
  for (let i = 0; i < 50; i++) expect(r.logprobs.data[i]).toBeCloseTo(Math.log(p[r.tokens.data[i]!]!), 5);
  return { counts, p, result: r };
}

const ROW = [1.2, 3.1, -0.5, 2.0, 2.0, -Infinity, 0.3, 2.9, -2.2, 1.7, 0.0, -1.0];

// ---- distribution --------------------------------------------------------------------------

describe('sampling.sample: distribution (chi-square, alpha = 0.001)', () => {
  const settings: (SampleRefOptions & { name: string })[] = [
    { name: 'plain softmax' },
    { name: 'temperature 0.6', temperature: 0.6 },
    { name: 'temperature 2.5', temperature: 2.5 },
    { name: 'topK 5', topK: 5 },
    { name: 'topP 0.8', topP: 0.8 },
    { name: 'minP 0.2', minP: 0.2 },
    { name: 'topK 6 + topP 0.9 + minP 0.05 at temperature 1.3', topK: 6, topP: 0.9, minP: 0.05, temperature: 1.3 },
    { name: 'repetition penalty 1.8 (positive and negative logits, duplicates, padding)', repetitionPenalty: 1.8, history: [1, 8, -1, 1, 7, -1] },
    { name: 'repetition penalty 0.5 (boosts) with topP 0.7', repetitionPenalty: 0.5, history: [2, 9], topP: 0.7 },
  ];
  for (const s of settings)
    it(s.name, () => {
      const { name: _n, ...o } = s;
      checkDistribution(ROW, o);
    });

  it('float16 and bfloat16 logits (the reference sees the rounded values)', () => {
    checkDistribution(ROW, { topP: 0.9, temperature: 0.8 }, 20000, 'float16');
    checkDistribution(ROW, { topK: 7 }, 20000, 'bfloat16');
  });

  it('has the power to reject a wrong distribution', () => {
    const { counts } = checkDistribution(ROW, { topP: 0.8 });
    const unfiltered = sampleDistRef(ROW, {});
    const c = chiSquare(counts, unfiltered.map((x, j) => (counts[j]! > 0 ? x : 0)), 20000);
    expect(c.stat).toBeGreaterThan(c.critical * 10);
    const { counts: t2 } = checkDistribution(ROW, { temperature: 0.9 });
    const c2 = chiSquare(t2, sampleDistRef(ROW, { temperature: 1 }), 20000);
    expect(c2.stat).toBeGreaterThan(c2.critical);
  });

  it('draws over many steps of one batch follow the distribution too (the step is the Philox offset)', () => {
    const V = ROW.length;
    const B = 4;
    const t = repeatRow(ROW, B).t;
    const counts = new Float64Array(V);
    const steps = 3000;
    for (let step = 0; step < steps; step++) {
      const r = sampling.sample(t, { seed: 99, step, topK: 8 });
      for (const x of r.tokens.data) counts[x]!++;
    }
    const c = chiSquare(counts, sampleDistRef(ROW, { topK: 8 }), steps * B);
    expect(c.stat).toBeLessThan(c.critical);
  });

  it('cuts exactly inside one dense radix bin (top-k and top-p refine below the top 11 key bits)', () => {
    const V = 4096;
    const row = Array.from({ length: V }, (_, j) => 5 + j * 1e-4); // all share the top 11 key bits
    const sh = rng(3);
    for (let j = V - 1; j > 0; j--) {
      const k = Math.floor(sh() * (j + 1));
      [row[j], row[k]] = [row[k]!, row[j]!];
    }
    const kept = (o: SampleRefOptions) => sampleDistRef(row, o).reduce((n, x) => n + (x > 0 ? 1 : 0), 0);
    const a = checkDistribution(row, { topK: 100 }, 1000, 'float32', 5);
    expect(kept({ topK: 100 })).toBe(100);
    expect(a.counts.reduce((n, c) => n + (c > 0 ? 1 : 0), 0)).toBe(100); // every kept token is drawn
    // a top-p whose cut lies midway between two consecutive cumulative masses
    const m = Math.max(...row);
    const sorted = row.map((v) => Math.exp(v - m)).sort((x, y) => y - x);
    const z = sorted.reduce((s, x) => s + x, 0);
    let cum = 0;
    for (let i = 0; i < 150; i++) cum += sorted[i]!;
    const topP = (cum + sorted[150]! / 2) / z;
    expect(kept({ topP })).toBe(151);
    checkDistribution(row, { topP }, 1000, 'float32', 6);
  });
});

// ---- boundaries ------------------------------------------------------------------------------

describe('sampling.sample: top-k / top-p / min-p boundaries and greedy', () => {
  const support = (row: number[], o: Omit<SampleRefOptions, 'history'>, B = 4000) => {
    const r = sampling.sample(repeatRow(row, B).t, { ...o, seed: 5 });
    return [...new Set(r.tokens.data)].sort((a, b) => a - b);
  };

  it('top-k keeps every token tied with the k-th largest', () => {
    expect(support([3, 2, 2, 2, 1], { topK: 2 })).toEqual([0, 1, 2, 3]);
    expect(support([5, 1, 5, 0], { topK: 1 })).toEqual([0, 2]);
    checkDistribution([5, 1, 5, 0], { topK: 1 });
  });

  it('topK >= V and topK = 0 are no-ops (identical draws)', () => {
    const t = tensor(Float32Array.from(randomArray(6 * 50, rng(1), 2)), [6, 50]);
    const base = sampling.sample(t, { seed: 3 }).tokens.data;
    assertBitEqual(sampling.sample(t, { seed: 3, topK: 50 }).tokens.data, base);
    assertBitEqual(sampling.sample(t, { seed: 3, topK: 1000 }).tokens.data, base);
    assertBitEqual(sampling.sample(t, { seed: 3, topK: 0 }).tokens.data, base);
  });

  it('topP = 1 is a no-op; topP = 0 keeps only the top token(s)', () => {
    const t = tensor(Float32Array.from(randomArray(6 * 50, rng(2), 2)), [6, 50]);
    assertBitEqual(sampling.sample(t, { seed: 3, topP: 1 }).tokens.data, sampling.sample(t, { seed: 3 }).tokens.data);
    expect(support([1, 4, 4, 2], { topP: 0 })).toEqual([1, 2]);
    expect(support([1, 4, 3, 2], { topP: 0 })).toEqual([1]);
  });

  it('top-p keeps ties at the cut and cuts on the mass strictly above', () => {
    expect(support([0, 0, 0, 0], { topP: 0.3 })).toEqual([0, 1, 2, 3]);
    // masses 1, 1, e^-1, e^-1, e^-2: the two maxima hold 2 / Z = 0.6966 of the mass
    expect(support([0, 0, -1, -1, -2], { topP: 0.69 })).toEqual([0, 1]);
    expect(support([0, 0, -1, -1, -2], { topP: 0.7 })).toEqual([0, 1, 2, 3]);
    // after top-k 2 (renormalised), topP 0.6 keeps both halves of the tie, 0.4 too
    expect(support([0, -1, 0, -3], { topK: 2, topP: 0.4 })).toEqual([0, 2]);
  });

  it('min-p keeps probabilities >= minP * the top one', () => {
    // exp(-1) = 0.3679
    expect(support([0, -1, -1, -2], { minP: 0.36 })).toEqual([0, 1, 2]);
    expect(support([0, -1, -1, -2], { minP: 0.37 })).toEqual([0]);
    expect(support([0, 0, -0.01], { minP: 1 })).toEqual([0, 1]);
    // min-p applies after temperature: at temperature 0.5, exp(-1 / 0.5) = 0.135 < 0.2
    expect(support([0, -1, -3], { minP: 0.2, temperature: 0.5 })).toEqual([0]);
  });

  it('greedy: temperature 0 picks the lowest index of the max with logprob 0, after the repetition penalty', () => {
    const t = tensor([1, 5, 5, 2, -Infinity, 0, 0, -1, 7, 3, 3, 7], [3, 4]);
    const r = sampling.sample(t, { temperature: 0, topK: 3, topP: 0.1, seed: 4 });
    expect(Array.from(r.tokens.data)).toEqual([1, 1, 0]);
    expect(Array.from(r.logprobs.data)).toEqual([0, 0, 0]);
    const h = tensor([1, 2, -1, 0, 0, -1], [3, 2], { dtype: 'int32' });
    const p = sampling.sample(t, { temperature: 0, repetitionPenalty: 3, history: h });
    expect(Array.from(p.tokens.data)).toEqual([3, 1, 3]); // 5/3 < 2; -inf * 3 = -inf; 7/3 < 7
  });

  it('a distribution concentrated on one token always draws it, with logprob 0', () => {
    const r = sampling.sample(repeatRow([-Infinity, 3, -Infinity], 100).t, { seed: 1 });
    expect(new Set(r.tokens.data)).toEqual(new Set([1]));
    expect(new Set(r.logprobs.data)).toEqual(new Set([0]));
    // a token 30 nats below the max has probability < 2^-40 of it and is never drawn
    const far = sampling.sample(repeatRow([0, -30], 2000).t, { seed: 1 });
    expect(new Set(far.tokens.data)).toEqual(new Set([0]));
  });
});

// ---- randomness ------------------------------------------------------------------------------

describe('sampling.sample: seeds, steps and rows', () => {
  const logits = tensor(Float32Array.from(randomArray(64 * 300, rng(11), 1.5)), [64, 300]);

  it('is reproducible and uses the documented Philox words', () => {
    const a = sampling.sample(logits, { seed: 1234, step: 9 });
    const b = sampling.sample(logits, { seed: 1234, step: 9 });
    assertBitEqual(a.tokens.data, b.tokens.data);
    assertBitEqual(a.logprobs.data, b.logprobs.data);
    // token = inverse CDF (index order) at r / 2^64, r = block `row` of Philox(key = seed, counter offset = step), words 0 | 1 << 32
    let agree = 0;
    for (let row = 0; row < 64; row++) {
      const p = sampleDistRef(logits.data.subarray(row * 300, (row + 1) * 300), {});
      if (walkRef(p, sampleRandomRef(1234n, 9n, BigInt(row))) === a.tokens.data[row]) agree++;
    }
    expect(agree).toBe(64);
    const big = sampling.sample(logits, { seed: 2n ** 64n - 1n, step: 2n ** 40n + 3n });
    for (let row = 0; row < 8; row++) {
      const p = sampleDistRef(logits.data.subarray(row * 300, (row + 1) * 300), {});
      expect(walkRef(p, sampleRandomRef(2n ** 64n - 1n, 2n ** 40n + 3n, BigInt(row)))).toBe(big.tokens.data[row]);
    }
  });

  it('different steps and seeds give different draws', () => {
    const a = sampling.sample(logits, { seed: 1, step: 0 }).tokens.data;
    const b = sampling.sample(logits, { seed: 1, step: 1 }).tokens.data;
    const c = sampling.sample(logits, { seed: 2, step: 0 }).tokens.data;
    const same = (x: Int32Array, y: Int32Array) => x.reduce((n, v, i) => n + (v === y[i] ? 1 : 0), 0);
    expect(same(a, b)).toBeLessThan(10); // about 64 * sum p^2 (~1) expected by chance
    expect(same(a, c)).toBeLessThan(10);
  });

  it('one seed gives every row its own stream; a row does not depend on the others', () => {
    const row = Array.from(logits.data.subarray(0, 300));
    const same = sampling.sample(repeatRow(row, 64).t, { seed: 8 }).tokens.data;
    expect(new Set(same).size).toBeGreaterThan(30);
    const a = sampling.sample(logits, { seed: 8, topP: 0.9 });
    const changed = logits.clone();
    changed.data.fill(0, 0, 300 * 10); // rows 0..9 become uniform
    changed.data[300 * 20 + 5] = 40; // row 20 becomes deterministic
    const b = sampling.sample(changed, { seed: 8, topP: 0.9 });
    for (let r = 10; r < 64; r++) if (r !== 20) expect(b.tokens.data[r]).toBe(a.tokens.data[r]);
    expect(b.tokens.data[20]).toBe(5);
  });

  it('per-row seeds: row r with seed s draws what a scalar seed s draws for row r', () => {
    const seeds = Array.from({ length: 64 }, (_, r) => (r * 7919) % 1000);
    const a = sampling.sample(logits, { seed: seeds, step: 3, topK: 40 });
    const viaBigint = sampling.sample(logits, { seed: BigUint64Array.from(seeds.map(BigInt)), step: 3, topK: 40 });
    assertBitEqual(a.tokens.data, viaBigint.tokens.data);
    for (const r of [0, 17, 63]) {
      const scalar = sampling.sample(logits, { seed: seeds[r]!, step: 3, topK: 40 });
      expect(a.tokens.data[r]).toBe(scalar.tokens.data[r]);
    }
  });
});

// ---- larger vocabularies, dtypes, determinism ---------------------------------------------------

describe('sampling.sample: large vocabulary, determinism, errors', () => {
  function vocabCase(B: number, V: number, dtype: FloatDType, seed: number) {
    const t = tensor(Float32Array.from(randomArray(B * V, rng(seed), 2.5)), [B, V], { dtype });
    return { t, held: decodeToFloat32(dtype, t.data as Float32Array) };
  }

  for (const [V, dtype] of [[32000, 'bfloat16'], [50257, 'float32'], [4099, 'float16']] as const)
    it(`draws inside the reference support with its log-probability: V = ${V} ${dtype}`, () => {
      const B = 12;
      const { t, held } = vocabCase(B, V, dtype, V);
      const o = { temperature: 0.7, topK: 200, topP: 0.85, minP: 0.01 };
      const dist = Array.from({ length: B }, (_, b) => sampleDistRef(held.subarray(b * V, (b + 1) * V), o));
      for (let step = 0; step < 4; step++) {
        const r = sampling.sample(t, { ...o, seed: 77, step });
        for (let b = 0; b < B; b++) {
          const p = dist[b]!;
          const tok = r.tokens.data[b]!;
          expect(p[tok]).toBeGreaterThan(0);
          expect(Math.abs(r.logprobs.data[b]! - Math.log(p[tok]!))).toBeLessThan(2e-5);
        }
      }
    });

  it('async gives bit-identical results', async () => {
    const { t } = vocabCase(16, 5000, 'float32', 1);
    const h = tensor(Int32Array.from({ length: 16 * 3 }, (_, i) => i * 37), [16, 3], { dtype: 'int32' });
    const o = { seed: 5, step: 2, topK: 100, topP: 0.9, repetitionPenalty: 1.2, history: h };
    const a = sampling.sample(t, o);
    const b = await sampling.sampleAsync(t, o);
    assertBitEqual(a.tokens.data, b.tokens.data);
    assertBitEqual(a.logprobs.data, b.logprobs.data);
  });

  it('is bit-identical for any thread count', () => {
    const before = numThreads();
    try {
      const { t } = vocabCase(37, 3001, 'bfloat16', 2);
      const o = { seed: 6, topP: 0.95, minP: 0.02 };
      setNumThreads(1);
      const ref = sampling.sample(t, o);
      for (const n of [2, 3, 7]) {
        setNumThreads(n);
        const r = sampling.sample(t, o);
        assertBitEqual(r.tokens.data, ref.tokens.data, `${n} threads`);
        assertBitEqual(r.logprobs.data, ref.logprobs.data, `${n} threads`);
      }
    } finally {
      setNumThreads(before);
    }
  });

  it('does not modify its inputs and handles B = 0', () => {
    const { t } = vocabCase(4, 100, 'float16', 3);
    const h = tensor([1, 2, 3, -1, 5, 5, 6, 7], [4, 2], { dtype: 'int32' });
    const before = [t.data.slice(), h.data.slice()];
    sampling.sample(t, { repetitionPenalty: 1.5, history: h, topK: 5 });
    assertBitEqual(t.data, before[0]! as Uint16Array);
    assertBitEqual(h.data, before[1]! as Int32Array);
    const e = sampling.sample(tensor(new Float32Array(0), [0, 10]));
    expect(e.tokens.shape).toEqual([0]);
  });

  it('rejects bad input with typed errors', async () => {
    const l = tensor([1, 2, 3, 4], [2, 2]);
    const h = (v: number[]) => tensor(v, [2, v.length / 2], { dtype: 'int32' });
    expectError(() => sampling.sample(tensor([1, 2], [1, 2], { dtype: 'int32' })), 'ERR_DTYPE', /expected logits of dtype float32 or float16 or bfloat16 but received int32/);
    expectError(() => sampling.sample(tensor([1, 2, 3])), 'ERR_SHAPE', /expected logits with 2 dimensions but received \[3\]/);
    expectError(() => sampling.sample(tensor(new Float32Array(0), [2, 0])), 'ERR_SHAPE', /1 <= V/);
    expectError(() => sampling.sample(l, { history: h([1, 2, 3, 4, 5, 6]).reshape([3, 2]) }), 'ERR_SHAPE', /expected history of shape \[2, 2\] \(from logits \[2, 2\]\) but received \[3, 2\]/);
    expectError(() => sampling.sample(l, { history: tensor([1, 2], [2, 1]) as never }), 'ERR_DTYPE', /history of dtype int32/);
    expectError(() => sampling.sample(l, { seed: [1, 2, 3] }), 'ERR_SHAPE', /expected 2 seeds/);
    expectError(() => sampling.sample(l, { seed: -1 }), 'ERR_RANGE', /seed/);
    expectError(() => sampling.sample(l, { seed: 'x' as never }), 'ERR_ARGUMENT', /seed/);
    expectError(() => sampling.sample(l, { step: 1.5 }), 'ERR_RANGE', /step/);
    expectError(() => sampling.sample(l, { temperature: -1 }), 'ERR_RANGE', /expected temperature a finite number >= 0 but received -1/);
    expectError(() => sampling.sample(l, { temperature: 1e-60 }), 'ERR_RANGE', /temperature 0 or >=/);
    expectError(() => sampling.sample(l, { topK: 1.5 }), 'ERR_RANGE', /topK an integer/);
    expectError(() => sampling.sample(l, { topP: 1.1 }), 'ERR_RANGE', /topP .*<= 1/);
    expectError(() => sampling.sample(l, { minP: -0.1 }), 'ERR_RANGE', /minP .*>= 0/);
    expectError(() => sampling.sample(l, { repetitionPenalty: 0, history: h([0, 1]) }), 'ERR_RANGE', /repetitionPenalty .*> 0/);
    expectError(() => sampling.sample(l, { repetitionPenalty: 1.2 }), 'ERR_ARGUMENT', /expected history/);
    expectError(() => sampling.sample(l, { top_k: 3 } as never), 'ERR_ARGUMENT', /unknown option 'top_k'/);
    // data-dependent, found by the kernel
    expectError(() => sampling.sample(l, { repetitionPenalty: 1.2, history: h([0, 2]) }), 'ERR_RANGE', /row 1: expected history tokens in \[-1, 2\)/);
    expectError(() => sampling.sample(l, { history: h([-2, 0]) }), 'ERR_RANGE', /row 0: expected history tokens/);
    expectError(() => sampling.sample(tensor([1, 2, NaN, 0], [2, 2])), 'ERR_RANGE', /row 1: expected finite logits .* NaN or \+Infinity/);
    expectError(() => sampling.sample(tensor([Infinity, 2, 0, 0], [2, 2]), { temperature: 0 }), 'ERR_RANGE', /row 0: .*NaN or \+Infinity/);
    expectError(() => sampling.sample(tensor([3e38, 0, 0, 0], [2, 2]), { temperature: 0.5 }), 'ERR_RANGE', /row 0: .*after repetition penalty and temperature/);
    expectError(() => sampling.sample(tensor([0, 0, -Infinity, -Infinity], [2, 2])), 'ERR_RANGE', /row 1: expected at least one logit above -Infinity/);
    const d = tensor([1, 2], [1, 2]);
    d.dispose();
    expectError(() => sampling.sample(d), 'ERR_DETACHED', /disposed/);
    await expectRejection(sampling.sampleAsync(tensor([NaN, 1], [1, 2])), 'ERR_RANGE', /NaN/);
  });

  it('the raw binding re-checks its arguments', async () => {
    const { native } = await import('../lib/native');
    const l = tensor([1, 2, 3, 4], [2, 2]);
    const tok = tensor(new Int32Array(2), [2], { dtype: 'int32' });
    const lp = tensor(new Float32Array(2), [2]);
    const call = (...a: unknown[]) => (native.sample as (...x: unknown[]) => unknown)(...a);
    expectError(() => call(l, null, 1, 1, 0, 1, 0, 0, null, 0, tok, tensor(new Float32Array(3), [3]), false), 'ERR_SHAPE', /expected logprobs of shape \[2\] \(from logits \[2, \d+\]\) but received \[3\]/);
    expectError(() => call(l, null, 1, 1, 0, 2, 0, 0, null, 0, tok, lp, false), 'ERR_RANGE', /topP/);
    expectError(() => call(l, null, 0, 1, 0, 1, 0, 0, null, 0, tok, lp, false), 'ERR_RANGE', /repetitionPenalty/);
    expectError(() => call(l, null, 1, 1e-50, 0, 1, 0, 0, null, 0, tok, lp, false), 'ERR_RANGE', /temperature/);
    expectError(() => call(l, null, 1, 1, -1, 1, 0, 0, null, 0, tok, lp, false), 'ERR_RANGE', /topK/);
    expectError(() => call(l, null, 1, 1, 0, 1, 0, 0, new BigUint64Array(3), 0, tok, lp, false), 'ERR_SHAPE', /seeds/);
    expectError(() => call(l, null, 1, 1, 0, 1, 0, 0, [1, 2], 0, tok, lp, false), 'ERR_ARGUMENT', /BigUint64Array/);
    expectError(() => call(l, tensor([1, 2], [1, 2], { dtype: 'int32' }), 1, 1, 0, 1, 0, 0, null, 0, tok, lp, false), 'ERR_SHAPE', /history/);
    expectError(() => call(tensor([1, 2, 3, 4], [4]), null, 1, 1, 0, 1, 0, 0, null, 0, tok, lp, false), 'ERR_SHAPE', /logits/);
    expectError(() => call(l, null, 1, 1, 0, 1, 0, -1, null, 0, tok, lp, false), 'ERR_RANGE', /seed/);
  });
});
