import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { native } from '../lib/native';
import type { OpDecl } from '../lib/op_decl';
import { declFiles, headerPath, render } from '../scripts/gen-args';

let mods: { f: string; mod: Record<string, unknown> }[] = [];
beforeAll(async () => {
  mods = await Promise.all(declFiles().map(async (f) => ({ f, mod: (await import(path.join(__dirname, '..', 'lib', 'ops', f))) as Record<string, unknown> })));
});

describe('op declarations (lib/ops/*.args.ts)', () => {
  it('every generated native header is current (npx tsx scripts/gen-args.ts)', () => {
    for (const { f, mod } of mods) expect(fs.readFileSync(headerPath(f), 'utf8'), f).toBe(render(f, mod));
  });

  it('every declared op is exported by the addon, and reads its arguments by the declared count', () => {
    for (const { mod } of mods)
      for (const d of Object.values(mod) as OpDecl[]) {
        const fn = (native as unknown as Record<string, (...a: unknown[]) => unknown>)[d.name];
        expect(typeof fn, d.name).toBe('function');
        // one argument short: the binding names the arity it expects from the declaration
        expect(() => fn!(...new Array(d.args.length - 1).fill(null), false)).toThrow(new RegExp(`expected ${d.args.length + 1} arguments`));
      }
  });

  it('a stale header is detected (the check can fail)', () => {
    const { f, mod } = mods[0]!;
    const d = Object.values(mod)[0] as OpDecl;
    const changed = { X: { ...d, args: [...d.args].reverse() } };
    expect(render(f, changed)).not.toBe(fs.readFileSync(headerPath(f), 'utf8'));
  });
});
