/**
 * Deterministic randomness for the fuzz harness: case i of seed S draws from mulberry32 keyed by a
 * hash of (S, i), so a case is the same whatever batch or child process runs it.
 */
import { rng as mulberry32 } from '../helpers';
export interface Rng {
  /** uniform in [0, 1) */
  (): number;
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
  bool(p?: number): boolean;
  /** index drawn with the given weights */
  weighted(ws: readonly number[]): number;
}


/** splitmix-style 32-bit mix of (seed, index) */
export function caseKey(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index >>> 0, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function makeRng(seed: number): Rng {
  const next = mulberry32(seed);
  const r = (() => next()) as Rng;
  r.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  r.pick = (xs) => xs[Math.floor(next() * xs.length)]!;
  r.bool = (p = 0.5) => next() < p;
  r.weighted = (ws) => {
    const total = ws.reduce((a, b) => a + b, 0);
    let x = next() * total;
    for (let i = 0; i < ws.length; i++) {
      x -= ws[i]!;
      if (x < 0) return i;
    }
    return ws.length - 1;
  };
  return r;
}

/** share of cases that are races (worker threads, transfers during Async): slower than the rest */
export const RACE_SHARE = 0.04;

/**
 * Whether case i of seed is a race, without building it (the runner gives races their own small
 * batches: a use-after-free in a race can corrupt the heap and crash a LATER case of its process).
 * Mirrors buildCase: draw 1 picks the op, draw 2 decides a race.
 */
export function isRace(seed: number, index: number): boolean {
  const r = makeRng(caseKey(seed, index));
  r();
  return r() < RACE_SHARE;
}
