/**
 * Benchmark harness: ceilings that are real upper bounds, measured next to each op.
 *
 * Writing a bench (the API every bench/*.bench.ts uses; bench/run.ts loads them all):
 *
 *   export function run(ctx: BenchContext): void | Promise<void> {
 *     const ms = timeMs(() => ops.foo(x, { out }), { ceiling: 'read' });   // or timeMsAsync
 *     ctx.record({ op: 'ops.foo', case: '[4096, 32000] float32', device: ctx.device, ms,
 *                  bytes, ceiling: 'read', baseline, torch });
 *   }
 *
 * - `bytes`: what an ideal kernel must move, bytes read + bytes written (each input read once, each
 *   output written once); compute-bound rows also give `flops` and a compute ceiling.
 * - Ceilings (CeilingKind), all measured by native loops over a working set of at least 4x the
 *   last-level cache (size read from sysfs), with all pool threads:
 *     read   sum with 8 independent vector accumulators          bytes = read
 *     copy   max(non-temporal-store copy, memcpy)                 bytes = read + written
 *     rmw    x = a x + b in place                                 bytes = read + written
 *     write  fill with non-temporal stores                        bytes = written
 *     fma-f32   GFLOP/s of independent float32 FMAs (AVX-512 or AVX2, chosen at run time)
 *     fma-bf16  max(fma-f32, AVX512-BF16 vdpbf16ps where the CPU has it): the fastest way this
 *               CPU can multiply-add bfloat16 data
 * - `timeMs(fn, { ceiling })` measures that ceiling right before and right after the timed calls
 *   (ceiling-op-ceiling; the row keeps the larger), starts every call with cold caches (a read
 *   sweep over the 4x-LLC ceiling buffer), and, on the CPU, measures the call's extra memory: peak
 *   RSS growth during one call (malloc_trim, then a native thread samples the RSS every 100 us
 *   while the call runs; the smaller of two tries). Outputs the call allocates count as extra.
 *   Ceilings are the fastest of their reps; op times are medians.
 *   Without `ceiling` (older benches, baselines) it is a plain cold median, and record() measures
 *   the row's ceiling right after the op.
 * - A row above 1.0x of its ceiling is flagged as a measurement error, never reported as a ratio.
 * - `baseline.extrapolated = { k, n, unit }` when the baseline ran on k of n units and was scaled;
 *   the table says so. Without it the baseline was timed on the whole problem.
 * - `torch`: a spec for bench/torch_ops.py (the equivalent PyTorch eager call on the same shapes);
 *   `npm run bench -- --torch` times it in the same run.
 */
import fs from 'node:fs';
import os from 'node:os';
import { backend, empty, setNumThreads, numThreads, type FloatDType, type Tensor } from '../lib';
import { encodeInto } from '../lib/dtype';
import { native } from '../lib/native';

export type BenchDevice = 'cpu' | 'cuda';
export type MemoryCeiling = 'read' | 'copy' | 'rmw' | 'write';
export type ComputeCeiling = 'fma-f32' | 'fma-bf16';
export type CeilingKind = MemoryCeiling | ComputeCeiling;
export const COMPUTE_CEILINGS: readonly ComputeCeiling[] = ['fma-f32', 'fma-bf16'];
export const isCompute = (k: CeilingKind): k is ComputeCeiling => (COMPUTE_CEILINGS as readonly string[]).includes(k);

/** GB/s for memory kinds, GFLOP/s for compute kinds (NaN where not measurable, e.g. compute on a GPU). */
export type Ceilings = Record<CeilingKind, number>;

/** The PyTorch equivalent of a row, for bench/torch_ops.py: `op` names a function there. */
export interface TorchSpec {
  op: string;
  [param: string]: unknown;
}

export interface Baseline {
  name: string;
  ms: number;
  /** set when the baseline ran on k of n units (rows, heads, values, ...) and was scaled by n / k */
  extrapolated?: { k: number; n: number; unit: string };
}

export interface BenchRow {
  /** op name, as in the public API */
  op: string;
  /** shape / dtype / variant */
  case: string;
  device: BenchDevice;
  /** median milliseconds per call */
  ms: number;
  /** bytes an ideal kernel must move (each input read once, each output written once) */
  bytes: number;
  /** which ceiling the row is compared with (compute kinds compare flops) */
  ceiling: CeilingKind;
  /** floating-point operations of one call (required for compute ceilings) */
  flops?: number;
  /** a baseline measured in the same run: naive TS, ... */
  baseline?: Baseline;
  /** the PyTorch eager equivalent, timed with --torch */
  torch?: TorchSpec;
  note?: string;
}

export interface BenchContext {
  device: BenchDevice;
  quick: boolean;
  /** ceilings measured when the device's run started (information; rows use interleaved ones) */
  ceilings: Ceilings;
  record(row: BenchRow): void;
}

declare module '../lib/native' {
  interface NativeAddon {
    _membw(kind: number, x: Tensor, y: Tensor | null, reps: number, async: false): number;
    _flops(kind: number, iters: number, reps: number, async: false): { seconds: number; flops: number; isa: string };
    /** 0: start sampling the RSS (returns it), 1: stop (returns the peak growth); -1: unsupported */
    _memprobe(cmd: 0 | 1): number;
  }
}

const MEMBW = { read: 0, copy: 1, rmw: 2, write: 3, copyLib: 4 } as const;

/** Last-level cache of CPU 0 in bytes, from sysfs; 64 MiB (and a note) where sysfs cannot say. */
export function lastLevelCache(): { bytes: number; source: string } {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  let best = { level: 0, bytes: 0 };
  try {
    for (const e of fs.readdirSync(dir)) {
      if (!e.startsWith('index')) continue;
      const rd = (f: string) => fs.readFileSync(`${dir}/${e}/${f}`, 'utf8').trim();
      if (rd('type') === 'Instruction') continue;
      const level = Number(rd('level'));
      const m = /^(\d+)([KMG]?)/.exec(rd('size'));
      if (!m) continue;
      const bytes = Number(m[1]) * ({ '': 1, K: 1024, M: 2 ** 20, G: 2 ** 30 } as Record<string, number>)[m[2]!]!;
      if (level > best.level) best = { level, bytes };
    }
  } catch {
    /* no sysfs */
  }
  return best.bytes ? { bytes: best.bytes, source: `L${best.level} ${best.bytes / 2 ** 20} MiB (sysfs)` } : { bytes: 64 * 2 ** 20, source: 'unknown, 64 MiB assumed' };
}

interface Session {
  device: BenchDevice;
  quick: boolean;
  x: Tensor;
  y: Tensor;
  n: number;
  llc: { bytes: number; source: string };
  flopsIters: number;
  isa: Partial<Record<ComputeCeiling, string>>;
  /** the ceilings measured around the last timeMs({ ceiling }) call, for record() */
  last?: { kind: CeilingKind; before: number; after: number; extraBytes?: number };
}

let session: Session | undefined;

/** Allocates the ceiling buffers (4x LLC each on the CPU, 2 GiB on a GPU) and calibrates the FMA loop. */
export function openSession(device: BenchDevice, quick = false): Session {
  closeSession();
  const llc = lastLevelCache();
  // at least 4x the LLC and at least 128 MiB, a multiple of 1 Mi floats
  const n = device === 'cuda' ? (quick ? 1 << 27 : 1 << 29) : Math.max(1 << 25, Math.ceil(llc.bytes / 2 ** 20) * 2 ** 20);
  const x = empty([n], 'float32', { device });
  const y = empty([n], 'float32', { device });
  if (device === 'cpu') {
    x.data.fill(1);
    y.data.fill(1);
  }
  session = { device, quick, x, y, n, llc, flopsIters: 1 << 20, isa: {} };
  if (device === 'cpu') {
    // calibrate: one call of about 40 ms
    const r = native._flops(0, 1 << 20, 1, false);
    session.flopsIters = Math.max(1 << 16, Math.round(((1 << 20) * 0.04) / Math.max(r.seconds, 1e-6)));
    session.isa['fma-f32'] = r.isa;
    try {
      session.isa['fma-bf16'] = native._flops(1, 1 << 12, 1, false).isa;
    } catch {
      session.isa['fma-bf16'] = `${r.isa} (no AVX512-BF16)`;
    }
  }
  return session;
}

export function closeSession(): void {
  if (!session) return;
  session.x.dispose();
  session.y.dispose();
  session = undefined;
}

function need(): Session {
  if (!session) throw new Error('bench harness: no session (bench/run.ts opens one per device)');
  return session;
}

/** One measurement of one ceiling now (GB/s or GFLOP/s; NaN where it cannot be measured). */
export function measureCeiling(kind: CeilingKind, reps = 3): number {
  const s = need();
  const bw = (k: number, bytes: number) => bytes / native._membw(k, s.x, k === MEMBW.copy || k === MEMBW.copyLib ? s.y : null, reps, false) / 1e9;
  switch (kind) {
    case 'read':
      return bw(MEMBW.read, 4 * s.n);
    case 'copy':
      return Math.max(bw(MEMBW.copy, 8 * s.n), bw(MEMBW.copyLib, 8 * s.n));
    case 'rmw':
      return bw(MEMBW.rmw, 8 * s.n);
    case 'write':
      return bw(MEMBW.write, 4 * s.n);
    case 'fma-f32':
    case 'fma-bf16': {
      if (s.device !== 'cpu') return NaN;
      const f = (k: number) => {
        const r = native._flops(k, s.flopsIters, reps, false);
        return r.flops / r.seconds / 1e9;
      };
      const f32 = f(0);
      if (kind === 'fma-f32' || !s.isa['fma-bf16']?.startsWith('avx512-bf16')) return f32;
      return Math.max(f32, f(1));
    }
  }
}

/** Every ceiling once (the run's header line). */
export function measureCeilings(device: BenchDevice, quick = false): Ceilings {
  if (!session || session.device !== device) openSession(device, quick);
  const kinds: CeilingKind[] = ['read', 'copy', 'rmw', 'write', 'fma-f32', 'fma-bf16'];
  return Object.fromEntries(kinds.map((k) => [k, measureCeiling(k, quick ? 2 : 5)])) as Ceilings;
}

/** Evicts the caches: one read sweep over the ceiling buffer (>= 4x LLC). No-op without a session. */
export function flushCaches(): void {
  if (session) native._membw(MEMBW.read, session.x, null, 0, false);
}

export interface TimeOptions {
  warmup?: number;
  reps?: number;
  /** measure this ceiling before and after (for the row record() gets next), and the extra memory */
  ceiling?: CeilingKind;
  /** start each call with cold caches (default true while a session is open) */
  cold?: boolean;
}

/** Peak RSS growth during one call (sampled natively every 100 us), the smaller of two tries. */
function peakGrowth(call: () => void): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < 2; i++) {
    if (native._memprobe(0) < 0) return undefined;
    call();
    const growth = native._memprobe(1);
    if (growth < 0) return undefined;
    best = Math.min(best ?? Infinity, growth);
  }
  return best;
}

/** Median wall milliseconds of fn (after warm-up). GPU ops are synchronous, so this is end to end. */
export function timeMs(fn: () => void, opts: TimeOptions = {}): number {
  const { warmup = 2, reps = 7, ceiling } = opts;
  const cold = (opts.cold ?? true) && !!session;
  const before = ceiling && session ? measureCeiling(ceiling) : NaN;
  for (let i = 0; i < warmup; i++) {
    if (cold) flushCaches();
    fn();
  }
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    if (cold) flushCaches();
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (ceiling && session) {
    const after = measureCeiling(ceiling);
    const extraBytes = session.device === 'cpu' ? peakGrowth(fn) : undefined;
    session.last = { kind: ceiling, before, after, extraBytes };
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/**
 * Baselines (slow reference code): warm caches, no ceiling. One call if the first takes >= 300 ms
 * (its JIT warm-up is then negligible), else the median of 3 further calls.
 */
export function timeBaselineMs(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  const first = Number(process.hrtime.bigint() - t0) / 1e6;
  if (first >= 300) return first;
  return timeMs(fn, { warmup: 0, reps: 3, cold: false });
}

export async function timeMsAsync(fn: () => Promise<unknown>, opts: TimeOptions = {}): Promise<number> {
  const { warmup = 2, reps = 7, ceiling } = opts;
  const cold = (opts.cold ?? true) && !!session;
  const before = ceiling && session ? measureCeiling(ceiling) : NaN;
  for (let i = 0; i < warmup; i++) {
    if (cold) flushCaches();
    await fn();
  }
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    if (cold) flushCaches();
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (ceiling && session) {
    const after = measureCeiling(ceiling);
    let extraBytes: number | undefined;
    if (session.device === 'cpu') {
      for (let i = 0; i < 2; i++) {
        if (native._memprobe(0) < 0) break;
        await fn();
        const growth = native._memprobe(1);
        if (growth >= 0) extraBytes = Math.min(extraBytes ?? Infinity, growth);
      }
    }
    session.last = { kind: ceiling, before, after, extraBytes };
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

/**
 * The ceiling for a row being recorded: the pair measured around the last timeMs({ ceiling }) of
 * the same kind (then consumed), else one measurement now, right after the op.
 */
export function ceilingForRow(kind: CeilingKind): { value: number; before?: number; after: number; extraBytes?: number } {
  const s = need();
  const last = s.last;
  s.last = undefined;
  if (last && last.kind === kind) return { value: Math.max(last.before, last.after), before: last.before, after: last.after, extraBytes: last.extraBytes };
  const after = measureCeiling(kind);
  return { value: after, after };
}

export function sessionInfo(): { llc: string; isa: Partial<Record<ComputeCeiling, string>>; ceilingBytes: number } | undefined {
  return session && { llc: session.llc.source, isa: session.isa, ceilingBytes: 4 * session.n };
}

export function machineDescription(device: BenchDevice): string {
  const b = backend();
  const cpu = `${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length} (${numThreads()} threads, ${b.cpu.simd}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, LLC ${lastLevelCache().source}`;
  if (device === 'cuda') {
    const d = b.cuda.devices[0];
    return `${d ? `${d.name} (cc ${d.computeCapability}, ${d.multiProcessors} SMs, ${Math.round(d.totalMemory / 2 ** 30)} GiB)` : 'CUDA'}; host ${cpu}`;
  }
  return cpu;
}

export { setNumThreads };

/** A random float input on `device`; `host` is the CPU copy its baselines read (bench data, not tests). */
export function benchInput(shape: number[], dtype: FloatDType, device: 'cpu' | 'cuda'): { t: Tensor; host: Tensor } {
  const host = empty(shape, dtype);
  fillRandom(host, 2);
  return { t: device === 'cuda' ? host.to('cuda') : host, host };
}

/** Fills a CPU float tensor's storage with pseudo-random values cheaply (bench data, not tests). */
export function fillRandom(t: Tensor, scale = 4): void {
  const d = t.data as ArrayLike<number> & { [i: number]: number };
  let s = 0x9e3779b9;
  if (t.dtype === 'float32') {
    for (let i = 0; i < d.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      d[i] = (s / 4294967296 - 0.5) * 2 * scale;
    }
  } else if (t.dtype === 'bfloat16' || t.dtype === 'float16') {
    // a table of 4096 encoded uniform(-scale, scale) values, picked by the LCG: fast and in range
    const table = new Uint16Array(4096);
    encodeInto(t.dtype, table, Array.from({ length: 4096 }, (_, i) => ((i + 0.5) / 4096 - 0.5) * 2 * scale));
    for (let i = 0; i < d.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      d[i] = table[s >>> 20]!;
    }
  } else {
    throw new Error(`fillRandom: ${t.dtype}`);
  }
}
