/**
 * List arguments of the optim ops (lib/ops/adamw.ts, clip_grad_norm.ts): each list entry is one
 * native call, so the checks that span calls live here: list type and length, and no tensor that
 * the call writes sharing a byte with any other tensor of the call.
 */
import type { AnyStorage } from '../dtype';
import { fail } from '../errors';
import type { Tensor } from '../tensor';
import { describe } from '../tensor';

/** An array argument (optionally of length n). */
export function listArg<T>(op: string, name: string, v: readonly T[] | unknown, n?: number): readonly T[] {
  if (!Array.isArray(v)) fail('ERR_ARGUMENT', op, `expected an array for ${name} but received ${describe(v)}`);
  if (n !== undefined && v.length !== n) fail('ERR_SHAPE', op, `expected ${name} of length ${n} (from params) but received ${v.length}`);
  return v as readonly T[];
}

interface Entry {
  name: string;
  t: Tensor;
  write: boolean;
}

/**
 * ERR_ARGUMENT when a written tensor shares memory with any other entry (written or read):
 * host tensors by ArrayBuffer byte ranges, CUDA tensors by allocation (views share it whole).
 * Per buffer the ranges are sorted by start and swept once.
 */
export function checkDisjoint(op: string, entries: readonly Entry[]): void {
  const groups = new Map<unknown, { lo: number; hi: number; e: Entry }[]>();
  for (const e of entries) {
    const s = e.t.liveStore(op);
    let buf: unknown, lo: number, hi: number;
    if (e.t._device < 0) {
      const a = s as AnyStorage;
      buf = a.buffer;
      lo = a.byteOffset;
      hi = lo + e.t.byteLength;
    } else {
      buf = s;
      lo = 0;
      hi = Number.POSITIVE_INFINITY;
    }
    if (hi <= lo) continue;
    let g = groups.get(buf);
    if (!g) groups.set(buf, (g = []));
    g.push({ lo, hi, e });
  }
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    g.sort((a, b) => a.lo - b.lo);
    let all: (typeof g)[number] | undefined, written: (typeof g)[number] | undefined;
    for (const c of g) {
      const other = c.e.write ? all : written;
      if (other && c.lo < other.hi)
        fail('ERR_ARGUMENT', op, `expected ${c.e.name} and ${other.e.name} in separate memory (${c.e.write ? c.e.name : other.e.name} is updated in place) but received overlapping tensors`);
      if (!all || c.hi > all.hi) all = c;
      if (c.e.write && (!written || c.hi > written.hi)) written = c;
    }
  }
}
