import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backend, cudaAvailable, numThreads, tensor } from '../lib';
import { addonPath } from '../lib/native';
import { expectError } from './helpers';

const root = path.join(__dirname, '..');
const node = (code: string, env: Record<string, string> = {}) =>
  execFileSync(process.execPath, ['-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });

describe('loading and backend report', () => {
  it('loads the addon through node-gyp-build', () => {
    expect(addonPath).toMatch(/mmpref(\.napi)?\.node$/);
  });

  it('reports version, CPU and CUDA facts', () => {
    const r = backend();
    expect(r.version).toBe(require('../package.json').version);
    expect(r.cpu.threads).toBeGreaterThanOrEqual(1);
    expect(['avx512', 'avx2', 'baseline']).toContain(r.cpu.simd);
    expect(typeof r.cuda.available).toBe('boolean');
    expect(Array.isArray(r.cuda.devices)).toBe(true);
    if (r.cuda.available) {
      expect(r.cuda.reason).toBeNull();
      expect(r.cuda.devices.length).toBeGreaterThan(0);
      expect(r.defaultDevice).toBe('cuda');
    } else {
      // the reason is a sentence, not a code
      expect(r.cuda.reason).toMatch(/\w+ \w+/);
      expect(r.cuda.devices).toEqual([]);
      expect(r.defaultDevice).toBe('cpu');
    }
  });

  it('MMPREF_DEVICE=cpu forces the CPU and says so', () => {
    const out = JSON.parse(node("console.log(JSON.stringify(require('./dist/lib').backend()))", { MMPREF_DEVICE: 'cpu' }));
    expect(out.cuda.available).toBe(false);
    expect(out.cuda.reason).toBe('disabled by MMPREF_DEVICE=cpu');
    expect(out.defaultDevice).toBe('cpu');
    const err = node(
      "try { require('./dist/lib').tensor([1]).to('cuda') } catch (e) { console.log(e.code + ' ' + e.message) }",
      { MMPREF_DEVICE: 'cpu' },
    );
    expect(err).toMatch(/ERR_DEVICE .*MMPREF_DEVICE=cpu/);
  });

  it('MMPREF_NUM_THREADS sets the pool size', () => {
    expect(node("console.log(require('./dist/lib').backend().cpu.threads)", { MMPREF_NUM_THREADS: '3' }).trim()).toBe('3');
    expect(numThreads()).toBeGreaterThanOrEqual(1);
  });

  it('the CLI prints the report in words and as JSON', () => {
    const cli = path.join(root, 'dist/lib/cli.js');
    const text = execFileSync(process.execPath, [cli, 'info'], { encoding: 'utf8' });
    expect(text).toMatch(/^mmpref \d+\.\d+\.\d+/);
    expect(text).toMatch(/CPU: +\d+ threads, SIMD/);
    expect(text).toMatch(/CUDA: +(available|unavailable \(.+\))/);
    const json = JSON.parse(execFileSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' }));
    expect(json.cpu.threads).toBeGreaterThan(0);
    expect(() => execFileSync(process.execPath, [cli, 'bogus'], { stdio: 'pipe' })).toThrow();
  });

  it.skipIf(cudaAvailable())('without CUDA, .to("cuda") is a typed error with the reason', () => {
    expectError(() => tensor([1]).to('cuda'), 'ERR_DEVICE', /CUDA is not available: .+/);
  });
});
