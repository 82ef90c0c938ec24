/**
 * Strict parsing of the environment variables mmpref reads. A malformed value never changes
 * behaviour silently: it is ignored with a printed warning (process.emitWarning, code
 * MMPREF_ENV) that names the variable, the value and what is used instead.
 *   MMPREF_NUM_THREADS  an integer in [1, 1024] (decimal digits only): initial CPU thread count
 *   MMPREF_DEVICE       'cpu' (CUDA off) or 'cuda' (CUDA expected: warns when it is unavailable)
 */
import os from 'node:os';

export const MAX_THREADS = 1024;

/** The thread count MMPREF_NUM_THREADS asks for, or undefined when unset; warns on a bad value. */
export function envThreads(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.MMPREF_NUM_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const v = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (Number.isInteger(v) && v >= 1 && v <= MAX_THREADS) return v;
  const used = defaultThreads();
  warn(`ignoring MMPREF_NUM_THREADS=${JSON.stringify(raw)}: expected an integer in [1, ${MAX_THREADS}]; using ${used} threads (the usable CPUs)`);
  return used;
}

/** The CPUs this process may use (what the native pool uses without MMPREF_NUM_THREADS). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(MAX_THREADS, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
}

/** MMPREF_DEVICE: 'cpu', 'cuda' or undefined (unset); warns on anything else. */
export function envDevice(env: NodeJS.ProcessEnv = process.env): 'cpu' | 'cuda' | undefined {
  const raw = env.MMPREF_DEVICE;
  if (raw === undefined || raw === '') return undefined;
  const v = raw.trim().toLowerCase();
  if (v === 'cpu' || v === 'cuda') return v;
  warn(`ignoring MMPREF_DEVICE=${JSON.stringify(raw)}: expected 'cpu' or 'cuda'; using the default device choice`);
  return undefined;
}

export function warn(message: string): void {
  process.emitWarning(`mmpref: ${message}`, { code: 'MMPREF_ENV' });
}
