/**
 * Runs a snippet in a fresh Node process against the compiled package (dist/lib, built by
 * `npm test`'s tsc step), so a test can check "does not crash" and "throws MmprefError X" where a
 * crash is possible. The snippet gets `m` (the package), `native` (the raw binding) and
 * `report(name, fn)`, which prints "RESULT <name> ok|mmpref:<code>|throw:<ctor>: <message>".
 * Environment (MMPREF_ADDON_PATH, LD_PRELOAD of the ASan run) is inherited.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, __dirname.split(path.sep).includes('dist') ? '../../..' : '../..');
export const DIST_LIB = path.join(ROOT, 'dist', 'lib');

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** name -> outcome from report() lines */
  results: Record<string, string>;
  /** exited normally with status 0 */
  clean: boolean;
}

const PRELUDE = `
const m = require(${JSON.stringify(DIST_LIB)});
const { native } = require(${JSON.stringify(path.join(DIST_LIB, 'native'))});
const report = async (name, fn) => {
  let r;
  try { await fn(); r = 'ok'; }
  catch (e) { r = e instanceof m.MmprefError ? 'mmpref:' + e.code : 'throw:' + (e && e.constructor ? e.constructor.name : typeof e) + ': ' + (e && e.message); }
  process.stdout.write('RESULT ' + name + ' ' + r + '\\n');
};
`;

export function runSnippet(code: string, opts: { env?: Record<string, string>; timeoutMs?: number; nodeArgs?: string[]; prelude?: boolean } = {}): Promise<ChildResult> {
  const src = `${opts.prelude === false ? '' : PRELUDE}(async () => {\n${code}\n})().then(() => process.exit(0), (e) => { console.error(e); process.exit(3); });`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--expose-gc', ...(opts.nodeArgs ?? []), '-e', src], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
    const t = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, opts.timeoutMs ?? 20000);
    p.on('close', (code, signal) => {
      clearTimeout(t);
      const results: Record<string, string> = {};
      for (const line of stdout.split('\n')) {
        const mt = /^RESULT (\S+) (.*)$/.exec(line);
        if (mt) results[mt[1]!] = mt[2]!;
      }
      resolve({ code, signal, timedOut, stdout, stderr, results, clean: code === 0 && !timedOut });
    });
  });
}

/** one-line description of how a child ended, for assertion messages */
export const ending = (r: ChildResult): string =>
  r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : `exit ${r.code}${r.code ? `: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`;

/** true under scripts/test-asan.sh / scripts/fuzz.sh asan (the ASan runtime is preloaded) */
export const UNDER_ASAN = /asan/i.test(process.env.LD_PRELOAD ?? '');
