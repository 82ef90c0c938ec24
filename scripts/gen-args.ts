/**
 * Renders each op declaration file lib/ops/<stem>.args.ts into native/cpp/binding/args/<stem>.h:
 * index constants and the ArgDecl table that native/cpp/binding/op_call.h reads. The output is
 * committed (the native build needs no Node step); test/op_decl.test.ts fails when it is stale.
 *
 *   npx tsx scripts/gen-args.ts          write every header
 *   npx tsx scripts/gen-args.ts --check  exit 1 when a header differs
 */
import fs from 'node:fs';
import path from 'node:path';
import { DTYPE_CODES } from '../lib/dtype';
import type { ArgDecl, OpDecl } from '../lib/op_decl';

const ROOT = path.join(__dirname, '..');
export const DECL_DIR = path.join(ROOT, 'lib', 'ops');
export const OUT_DIR = path.join(ROOT, 'native', 'cpp', 'binding', 'args');

const CXX_RESERVED = new Set(['and', 'auto', 'bool', 'case', 'char', 'class', 'const', 'default', 'delete', 'do', 'double', 'else', 'enum', 'float', 'for', 'if', 'int', 'long', 'new', 'not', 'or', 'private', 'public', 'register', 'return', 'short', 'signed', 'sizeof', 'static', 'struct', 'switch', 'template', 'this', 'union', 'unsigned', 'void', 'while', 'xor', 'kCount', 'kArgs', 'kDecl']);

const snake = (s: string): string => s.replace(/^_/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The declaration files, by stem. */
export function declFiles(): string[] {
  return fs
    .readdirSync(DECL_DIR)
    .filter((f) => f.endsWith('.args.ts'))
    .sort();
}

function isDecl(v: unknown): v is OpDecl {
  return typeof v === 'object' && v !== null && typeof (v as OpDecl).name === 'string' && Array.isArray((v as OpDecl).args);
}

function kindOf(a: ArgDecl): string {
  return { tensor: 'kTensor', number: 'kNumber', integer: 'kInteger', boolean: 'kBoolean', u64: 'kU64', string: 'kString', dims: 'kDims', u64Array: 'kU64Array' }[a.kind];
}

function i64(v: number): string {
  if (!Number.isSafeInteger(v) && Math.abs(v) !== 2 ** 53) throw new Error(`integer bound ${v} is not exact`);
  return v < 0 ? `-INT64_C(${-v})` : `INT64_C(${v})`;
}

function renderOp(d: OpDecl): string {
  const args = d.args;
  for (const a of args)
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(a.name) || CXX_RESERVED.has(a.name)) throw new Error(`${d.name}: argument name ${a.name} is not usable in C++`);
  const rows = args.map((a) => {
    let flags = '0';
    let dtypes = '0';
    let inPlace = '0';
    if (a.kind === 'tensor') {
      const f = [a.optional && 'kOptional', a.write && 'kWrite', a.index && 'kIndex'].filter(Boolean);
      flags = f.length ? f.join(' | ') : '0';
      dtypes = `0x${a.dtypes.reduce((m, t) => m | (1 << DTYPE_CODES[t]), 0).toString(16)}u`;
      inPlace = `0x${a.inPlace.reduce((m, n) => m | (1 << args.findIndex((b) => b.name === n)), 0).toString(16)}u`;
    }
    const lo = a.kind === 'integer' ? i64(a.lo!) : '0';
    const hi = a.kind === 'integer' ? i64(a.hi!) : '0';
    const i = args.indexOf(a);
    const pat = d.plan.patterns[i];
    const extra = pat
      ? `, kShape_${a.name}, ${pat.length}`
      : d.plan.like[i]! >= 0
        ? `, nullptr, 0, ${d.plan.like[i]}`
        : d.plan.rangeText[i]
          ? `, nullptr, 0, -1, &kRange_${a.name}`
          : '';
    return `      {"${a.name}", ArgKind::${kindOf(a)}, ${flags}, ${dtypes}, ${inPlace}, ${lo}, ${hi}${extra}},`;
  });
  const consts: string[] = [];
  if (d.plan.dims.length) consts.push(`  struct dim {`, `    enum : int { ${d.plan.dims.join(', ')}, kCount };`, `  };`, `  static constexpr const char* kDimNames[] = {${d.plan.dims.map((n) => `"${n}"`).join(', ')}};`);
  args.forEach((a, i) => {
    const pat = d.plan.patterns[i];
    if (pat) consts.push(`  static constexpr int32_t kShape_${a.name}[] = {${pat.join(', ')}};  // [${(a as unknown as { shape: unknown[] }).shape.join(', ')}]`);
    if (a.kind === 'number' && a.range) {
      const r = a.range;
      const has = [r.min !== undefined && 'kHasMin', r.max !== undefined && 'kHasMax', r.gt !== undefined && 'kHasGt', r.lt !== undefined && 'kHasLt'].filter(Boolean);
      consts.push(`  static constexpr NumRange kRange_${a.name} = {${[r.min, r.max, r.gt, r.lt].map((v) => String(v ?? 0)).join(', ')}, ${has.join(' | ') || '0'}, "${d.plan.rangeText[i]}"};`);
    }
  });
  return [
    `// ${d.name}(${[...args.map((a) => a.name), 'async'].join(', ')})`,
    `struct ${snake(d.name)} {`,
    `  enum : int { ${args.map((a) => a.name).join(', ')}, kCount };`,
    ...consts,
    `  static constexpr ArgDecl kArgs[kCount] = {`,
    ...rows,
    `  };`,
    `  static constexpr OpDecl kDecl = {"${d.name}", "${d.label}", kArgs, kCount${d.plan.dims.length ? ', kDimNames, dim::kCount' : ''}};`,
    `};`,
  ].join('\n');
}

/** The header for one declaration file's exports. */
export function render(file: string, mod: Record<string, unknown>): string {
  const decls = Object.values(mod).filter(isDecl).sort((a, b) => (a.name < b.name ? -1 : 1)); // ESM namespaces sort their keys
  if (!decls.length) throw new Error(`${file}: exports no op declaration`);
  return [
    `// Generated by scripts/gen-args.ts from lib/ops/${file}; do not edit (npx tsx scripts/gen-args.ts).`,
    '#pragma once',
    '',
    '#include "../op_call.h"',
    '',
    'namespace mmpref::napi::args {',
    '',
    decls.map(renderOp).join('\n\n'),
    '',
    '}  // namespace mmpref::napi::args',
    '',
  ].join('\n');
}

export const headerPath = (file: string): string => path.join(OUT_DIR, file.replace(/\.args\.ts$/, '.h'));

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  fs.mkdirSync(OUT_DIR, { recursive: true });
  let stale = 0;
  for (const f of declFiles()) {
    const text = render(f, (await import(path.join(DECL_DIR, f))) as Record<string, unknown>);
    const out = headerPath(f);
    const old = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    if (old === text) continue;
    stale++;
    if (check) console.error(`stale: ${path.relative(ROOT, out)}`);
    else fs.writeFileSync(out, text), console.log(`wrote ${path.relative(ROOT, out)}`);
  }
  if (check && stale) process.exit(1);
}

if (process.argv[1] && /gen-args\.ts$/.test(process.argv[1])) void main();
