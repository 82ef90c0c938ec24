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
    const changed = { X: defineOp(d.name, [...d.args].reverse(), d.label) };
    expect(render(f, changed)).not.toBe(fs.readFileSync(headerPath(f), 'utf8'));
  });
});

// ---- shape patterns and number ranges (one declaration, checked in TS and native alike) ----------

import { ops, tensor, zeros } from '../lib';
import { caught } from './helpers';
import { checkArgs, checkDeclared } from '../lib/op_call';
import { defineOp, index as indexArg, input, number, output } from '../lib/op_decl';
import { ADD } from '../lib/ops/add.args';
import { EMBEDDING, EMBEDDING_BACKWARD } from '../lib/ops/embedding.args';
import { GELU_BACKWARD } from '../lib/ops/gelu.args';
import { LOG_SUM_EXP } from '../lib/ops/log_sum_exp.args';
import { RMS_NORM, RMS_NORM_BACKWARD } from '../lib/ops/rms_norm.args';
import { ROTARY } from '../lib/ops/rotary.args';
import { SWIGLU } from '../lib/ops/swiglu.args';

const rawFn = native as unknown as Record<string, (...a: unknown[]) => unknown>;
describe('declared shapes and ranges', () => {
  it('the public op (TS check) and the raw binding (native check) reject the same bad call with the same code and message', () => {
    const x = zeros([2, 4]);
    const q = zeros([1, 2, 3, 4]);
    const cases: [() => unknown, OpDecl, unknown[], RegExp][] = [
      [() => ops.rmsNorm(x, zeros([3])), RMS_NORM, [x, zeros([3]), zeros([2, 4]), 1e-6], /^rmsNorm: expected weight of shape \[4\] \(from x \[2, 4\]\) but received \[3\]$/],
      [() => ops.rmsNorm(tensor([1], []), zeros([1])), RMS_NORM, [tensor([1], []), zeros([1]), tensor([1], []), 1e-6], /^rmsNorm: expected x with at least 1 dimension but received a scalar$/],
      [() => ops.rmsNorm(x, zeros([4]), { eps: -1 }), RMS_NORM, [x, zeros([4]), zeros([2, 4]), -1], /^rmsNorm: expected eps a finite number >= 0 <= 3.4028234663852886e\+38 but received -1$/],
      [() => ops.rmsNorm(x, zeros([4]), { eps: 1e-7 - 1 }), RMS_NORM, [x, zeros([4]), zeros([2, 4]), 1e-7 - 1], /received -0.9999999$/],
      [() => ops.rmsNorm(x, zeros([4]), { eps: NaN }), RMS_NORM, [x, zeros([4]), zeros([2, 4]), NaN], /^rmsNorm: expected a number for eps but received number NaN$/],
      [() => ops.rmsNormBackward(zeros([2, 3]), x, zeros([4])), RMS_NORM_BACKWARD, [zeros([2, 3]), x, zeros([4]), zeros([2, 4]), zeros([4]), 1e-6, false], /^rmsNormBackward: expected dy of shape \[2, 4\] \(from x\) but received \[2, 3\]$/],
      [() => ops.rmsNormBackward(zeros([2, 4], 'float16'), x, zeros([4])), RMS_NORM_BACKWARD, [zeros([2, 4], 'float16'), x, zeros([4]), zeros([2, 4]), zeros([4]), 1e-6, false], /^rmsNormBackward: expected dy of dtype float32 \(from x\) but received float16$/],
      [() => ops.add(zeros([2]), zeros([3])), ADD, [zeros([2]), zeros([3]), zeros([2]), 1], /^add: expected b of shape \[2\] \(from a\) but received \[3\]$/],
      [() => ops.add(zeros([2]), zeros([2]), { alpha: Infinity }), ADD, [zeros([2]), zeros([2]), zeros([2]), Infinity], /^add: expected alpha a finite number/],
      [() => ops.swiglu(zeros([2, 2]), zeros([4])), SWIGLU, [zeros([2, 2]), zeros([4]), zeros([2, 2])], /^swiglu: expected up of shape \[2, 2\] \(from gate\) but received \[4\]$/],
      [() => ops.geluBackward(zeros([2]), zeros([3])), GELU_BACKWARD, [zeros([2]), zeros([3]), zeros([2]), false], /^geluBackward: expected x of shape \[2\] \(from dy\) but received \[3\]$/],
      [() => ops.rotary(zeros([1, 2, 3])), ROTARY, [zeros([1, 2, 3]), zeros([1, 2, 3]), null, 0, 10000], /^rotary: expected x with 4 dimensions but received \[1, 2, 3\]$/],
      [() => ops.rotary(q, { positions: zeros([1, 2], 'int32') }), ROTARY, [q, zeros([1, 2, 3, 4]), zeros([1, 2], 'int32'), 0, 10000], /^rotary: expected positions of shape \[1, 3\] \(from x \[1, 2, 3, 4\]\) but received \[1, 2\]$/],
      [() => ops.rotary(q, { theta: 0 }), ROTARY, [q, zeros([1, 2, 3, 4]), null, 0, 0], /^rotary: expected theta a finite number > 0 but received 0$/],
      [() => ops.embedding(zeros([5]), zeros([2], 'int32')), EMBEDDING, [zeros([5]), zeros([2], 'int32'), zeros([2, 0])], /^embedding: expected table with 2 dimensions but received \[5\]$/],
      [() => ops.embeddingBackward(zeros([2, 4]), zeros([3], 'int32'), { vocabSize: 4 }), EMBEDDING_BACKWARD, [zeros([2, 4]), zeros([3], 'int32'), zeros([4, 4]), false], /^embeddingBackward: expected tokens of shape \[2\] \(from dy \[2, 4\]\) but received \[3\]$/],
      [() => ops.logSumExp(tensor([1], [])), LOG_SUM_EXP, [tensor([1], []), tensor([0], [])], /^logSumExp: expected x with at least 1 dimension but received a scalar$/],
    ];
    for (const [ts, decl, rawArgs, re] of cases) {
      const a = caught(ts);
      expect(a.message).toMatch(re);
      // the TS check alone (compiled and generic forms), without the native call behind it
      const named = Object.fromEntries(decl.args.map((x, i) => [x.name, rawArgs[i]]));
      expect(caught(() => checkArgs(decl, named)), a.message).toEqual(a);
      expect(caught(() => checkDeclared(decl, named)), a.message).toEqual(a);
      // the native check alone (the raw binding)
      expect(caught(() => rawFn[decl.name]!(...rawArgs, false)), a.message).toEqual(a);
    }
    // a relation the declaration cannot state (rotary's even head dim): the wrapper and prepare, one message
    const odd = zeros([1, 1, 2, 3]);
    const a = caught(() => ops.rotary(odd));
    expect(a.message).toBe('rotary: expected an even head dimension but received x of shape [1, 1, 2, 3]');
    expect(caught(() => rawFn.rotary!(odd, zeros([1, 1, 2, 3]), null, 0, 10000, false))).toEqual(a);
  });

  it("a leading '...' group is the same in every argument that uses it (native and TS)", () => {
    const x = zeros([2, 3, 5]);
    const msg = 'logSumExp: expected out of shape [2, 3] (from x [2, 3, 5]) but received ';
    expect(() => rawFn.logSumExp!(x, zeros([3, 2]), false)).toThrow(msg + '[3, 2]');
    expect(() => rawFn.logSumExp!(x, zeros([6]), false)).toThrow(msg + '[6]');
    expect(() => checkDeclared(LOG_SUM_EXP, { x, out: zeros([3, 2]) })).toThrow(msg + '[3, 2]');
    expect(() => checkDeclared(LOG_SUM_EXP, { x, out: zeros([6]) })).toThrow(msg + '[6]');
    expect(() => checkArgs(LOG_SUM_EXP, { x, out: zeros([3, 2]) })).toThrow(msg + '[3, 2]');
    expect(() => checkArgs(LOG_SUM_EXP, { x, out: zeros([6]) })).toThrow(msg + '[6]');
    checkArgs(LOG_SUM_EXP, { x, out: zeros([2, 3]) });
    // the group binds [2, 3] and the native side reads the bound dims (rows = 6, C = 5): a correct result
    const y = tensor(Array.from({ length: 30 }, (_, i) => i % 5), [2, 3, 5]);
    const out = zeros([2, 3]);
    rawFn.logSumExp!(y, out, false);
    const ref = Math.log([0, 1, 2, 3, 4].reduce((s, v) => s + Math.exp(v), 0));
    for (const v of out.data as Float32Array) expect(v).toBeCloseTo(ref, 5);
  });

  it('literal sizes, named dims bound by the first argument, absent optionals skipped (TS check)', () => {
    const D = defineOp('_demo', [indexArg('spans', ['int32'], { shape: ['S', 3] }), input('mask', ['bool'], { optional: true, shape: ['B', 'L'] }), output('out', ['bool'], { shape: ['B', 'L'] }), number('p', { gt: 0, lt: 1 })]);
    const ok = { spans: zeros([4, 3], 'int32'), mask: null, out: zeros([2, 5], 'bool'), p: 0.5 };
    checkDeclared(D, ok);
    checkArgs(D, ok);
    expect(() => checkArgs(D, { ...ok, spans: zeros([4, 2], 'int32') })).toThrow(/^_demo: expected spans of shape \[4, 3\] but received \[4, 2\]$/);
    expect(() => checkArgs(D, { ...ok, mask: zeros([2, 4], 'bool') })).toThrow(/expected out of shape \[2, 4\] \(from mask \[2, 4\]\) but received \[2, 5\]/);
    expect(() => checkArgs(D, { ...ok, p: 0 })).toThrow(/^_demo: expected p a finite number > 0 < 1 but received 0$/);
    expect(() => checkDeclared(D, { ...ok, spans: zeros([4, 2], 'int32') })).toThrow(/^_demo: expected spans of shape \[4, 3\] but received \[4, 2\]$/);
    expect(() => checkDeclared(D, { ...ok, mask: zeros([2, 4], 'bool') })).toThrow(/expected out of shape \[2, 4\] \(from mask \[2, 4\]\) but received \[2, 5\]/);
    expect(() => checkDeclared(D, { ...ok, p: 1 })).toThrow(/^_demo: expected p a finite number > 0 < 1 but received 1$/);
    expect(() => checkDeclared(D, { ...ok, p: '0.5' })).toThrow(/expected a number for p but received string 0.5/);
    // rendered for the native side: encoded patterns, dim names and the range's words
    const h = render('demo.args.ts', { D });
    expect(h).toContain('static constexpr int32_t kShape_spans[] = {-2, 3};  // [S, 3]');
    expect(h).toContain('static constexpr int32_t kShape_mask[] = {-3, -4};  // [B, L]');
    expect(h).toContain('enum : int { S, B, L, kCount };');
    expect(h).toContain('kHasGt | kHasLt, "a finite number > 0 < 1"');
  });

  it('a malformed pattern is rejected when the op is declared', () => {
    expect(() => defineOp('_bad', [input('x', ['float32'], { shape: ['D', '...'] })])).toThrow(/leading '\.\.\.'/);
    expect(() => defineOp('_bad', [input('x', ['float32'], { shape: [1.5] })])).toThrow(/not a size/);
    expect(() => defineOp('_bad', [input('x', ['float32'], { shape: 'like y' })])).toThrow(/like unknown/);
    expect(() => defineOp('_bad', [input('x', ['float32']), input('y', ['float32'], { shape: 'like x' }), input('z', ['float32'], { shape: 'like y' })])).toThrow(/like unknown/);
    expect(() => defineOp('_bad', [number('p', { min: NaN })])).toThrow(/non-finite bound/);
    expect(RMS_NORM.plan.dims).toEqual(['D']);
  });
});
