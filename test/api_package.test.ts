/**
 * The package as users see it (issue 12 item 5): the README "Quick look" snippet and
 * examples/dpo-train.ts, type-checked with --strict (no skipLibCheck) against the built
 * declarations only (dist/lib/*.d.ts), in a fresh ESM and a fresh CommonJS project that depends on
 * mmpref by name, then run there with node. Needs `npm run build:ts` first (npm test does it).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const tmp: string[] = [];

/** The first ```ts block of README.md under "## Quick look". */
function readmeSnippet(): string {
  const md = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /## Quick look\s+```ts\n([\s\S]*?)```/.exec(md);
  if (!m) throw new Error('README.md has no ```ts block under "## Quick look"');
  return m[1]!;
}

/** A fresh project in a temp dir: node_modules/mmpref -> this checkout (as an installed package). */
function project(kind: 'esm' | 'cjs', files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), `mmpref-${kind}-`));
  tmp.push(dir);
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'mmpref'), 'dir');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `app-${kind}`, private: true, ...(kind === 'esm' ? { type: 'module' } : {}) }));
  const module = kind === 'esm' ? { module: 'nodenext', moduleResolution: 'nodenext' } : { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true };
  const compilerOptions = {
    target: 'es2022',
    ...module,
    strict: true,
    skipLibCheck: false,
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    outDir: 'out',
  };
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function tsc(dir: string): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run(process.execPath, [TSC, '-p', dir], { cwd: dir });
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const node = (dir: string, file: string, ...args: string[]) => run(process.execPath, [path.join(dir, 'out', file), ...args], { cwd: dir, timeout: 60_000 });

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist', 'lib', 'index.d.ts'))) throw new Error('dist/lib is missing: run npm run build:ts (npm test does)');
});
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

// tsc with full lib checks is slow on a busy machine: a generous per-test limit
describe.concurrent('the package from a fresh project (dist/ declarations, --strict)', { timeout: 300_000 }, () => {
  const snippet = readmeSnippet();
  const imports = snippet.split('\n').filter((l) => l.startsWith('import '));
  const body = snippet.split('\n').filter((l) => !l.startsWith('import ')).join('\n');
  const example = readFileSync(path.join(ROOT, 'examples', 'dpo-train.ts'), 'utf8');
  // type-checked only: it needs the optional @huggingface/transformers and local model files
  const embedExample = readFileSync(path.join(ROOT, 'examples', 'bdhs-sentence-embedding.ts'), 'utf8');

  it('examples/ import only the package by name (and node: modules)', () => {
    for (const [name, src] of [['dpo-train.ts', example], ['bdhs-sentence-embedding.ts', embedExample]] as const)
      for (const m of src.matchAll(/from '([^']+)'/g)) expect(m[1] === 'mmpref' || m[1]!.startsWith('node:'), `examples/${name} imports ${m[1]}`).toBe(true);
    expect(imports.join('\n')).toMatch(/from 'mmpref'/);
  });

  it('ESM: the README snippet (top-level await) type-checks and runs', async () => {
    const dir = project('esm', { 'readme.ts': snippet });
    const t = await tsc(dir);
    expect(t.out).toBe('');
    expect(t.ok).toBe(true);
    const r = await node(dir, 'readme.js');
    expect(r.stdout).toMatch(/Tensor\(float32, \[1024\], cpu\) \[ 10\.37349, 10\.37349, .*, \.\.\. 1016 more \]/);
    expect(r.stdout).toMatch(/0\.693147\d* 0 true/);
    expect(r.stdout).toMatch(/ERR_DTYPE/);
  });

  it('CommonJS: the README snippet and examples/dpo-train.ts type-check and run (examples/bdhs-sentence-embedding.ts type-checks)', async () => {
    const wrapped = `${imports.join('\n')}\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(1); });\n`;
    const dir = project('cjs', { 'readme.ts': wrapped, 'dpo-train.ts': example, 'bdhs-sentence-embedding.ts': embedExample });
    const t = await tsc(dir);
    expect(t.out).toBe('');
    expect(t.ok).toBe(true);
    const r = await node(dir, 'readme.js');
    expect(r.stdout).toMatch(/0\.693147\d* 0 true/);
    const d = await node(dir, 'dpo-train.js', '--steps', '60');
    expect(d.stdout).toMatch(/^step +60 +loss/m);
  });

  it('internals are not part of the declarations (a use of one fails to type-check)', async () => {
    const bad = [
      "import { tensor, Tensor } from 'mmpref';",
      'const t = tensor([1, 2]);',
      'console.log(t._store, t._device, t._code, t.liveStore("x"));',
      'const u = new Tensor();',
    ].join('\n');
    const dir = project('cjs', { 'bad.ts': bad });
    const t = await tsc(dir);
    expect(t.ok).toBe(false);
    for (const name of ['_store', '_device', '_code', 'liveStore']) expect(t.out).toMatch(new RegExp(`Property '${name}' does not exist on type 'Tensor<"float32">'`));
    expect(t.out).toMatch(/Constructor of class 'Tensor<D>' is private/);
  });
});
