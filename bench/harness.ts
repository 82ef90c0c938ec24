/**
 * Benchmark harness. Every figure is reported against ceilings measured in the same run (these
 * machines are noisy): read = sum of a buffer, copy = memcpy (bytes read + written), rmw = an
 * in-place read-modify-write loop (bytes read + written), all native and multithreaded on the CPU,
 * or kernels/cudaMemcpy on a GPU. Speed goals live here, never in tests.
 */
import os from 'node:os';
import { backend, empty, setNumThreads, numThreads, type Tensor } from '../lib';
import { encodeInto } from '../lib/dtype';
import { native } from '../lib/native';

export type BenchDevice = 'cpu' | 'cuda';
export type CeilingKind = 'read' | 'copy' | 'rmw';

export interface Ceilings {
  read: number;
  copy: number;
  rmw: number;
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
  /** which ceiling the bytes are compared with */
  ceiling: CeilingKind;
  /** a baseline measured in the same run: naive TS, PyTorch eager, ... */
  baseline?: { name: string; ms: number };
  note?: string;
}

export interface BenchContext {
  device: BenchDevice;
  quick: boolean;
  ceilings: Ceilings;
  record(row: BenchRow): void;
}

declare module '../lib/native' {
  interface NativeAddon {
    _membw(kind: number, x: Tensor, y: Tensor | null, reps: number, async: false): number;
  }
}

/** Measured ceilings in GB/s (256 MiB buffers on the CPU, 2 GiB on a GPU). */
export function measureCeilings(device: BenchDevice, quick = false): Ceilings {
  const n = device === 'cuda' ? (quick ? 1 << 27 : 1 << 29) : quick ? 1 << 24 : 1 << 26;
  const dev = device === 'cuda' ? 'cuda' : 'cpu';
  const x = empty([n], 'float32', { device: dev });
  const y = empty([n], 'float32', { device: dev });
  if (device === 'cpu') {
    x.data.fill(1);
    y.data.fill(1);
  }
  const reps = quick ? 3 : 7;
  const gbps = (k: number, bytes: number) => bytes / native._membw(k, x, k === 1 ? y : null, reps, false) / 1e9;
  const c = { read: gbps(0, 4 * n), copy: gbps(1, 8 * n), rmw: gbps(2, 8 * n) };
  x.dispose();
  y.dispose();
  return c;
}

/** Median wall milliseconds of fn (after warm-up). GPU ops are synchronous, so this is end to end. */
export function timeMs(fn: () => void, opts: { warmup?: number; reps?: number } = {}): number {
  const { warmup = 2, reps = 7 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

export async function timeMsAsync(fn: () => Promise<unknown>, opts: { warmup?: number; reps?: number } = {}): Promise<number> {
  const { warmup = 2, reps = 7 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

export function machineDescription(device: BenchDevice): string {
  const b = backend();
  const cpu = `${os.cpus()[0]?.model ?? 'unknown CPU'} x${os.cpus().length} (${numThreads()} threads, ${b.cpu.simd}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
  if (device === 'cuda') {
    const d = b.cuda.devices[0];
    return `${d ? `${d.name} (cc ${d.computeCapability}, ${d.multiProcessors} SMs, ${Math.round(d.totalMemory / 2 ** 30)} GiB)` : 'CUDA'}; host ${cpu}`;
  }
  return cpu;
}

export { setNumThreads };

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
