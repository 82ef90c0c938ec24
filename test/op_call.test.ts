// The generic op boundary (native/cpp/binding/op_call.h, lib/op_call.ts) and the checks around it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { attention, full, models, ops, tensor, zeros } from '../lib';
import { envThreads } from '../lib/env';
import { native } from '../lib/native';
import { Tensor } from '../lib/tensor';
import { caught, expectError, expectRejection, RawTensor } from './helpers';

const raw = native as unknown as Record<string, (...a: unknown[]) => unknown>;
const view = (buf: ArrayBuffer, off: number, shape: number[], dtype: 'float32' | 'int32' = 'float32') =>
  new RawTensor(dtype === 'int32' ? new Int32Array(buf, off * 4, shape.reduce((a, b) => a * b, 1)) : new Float32Array(buf, off * 4, shape.reduce((a, b) => a * b, 1)), shape, dtype, -1);
const transfer = (t: Tensor) => structuredClone((t.data as Float32Array).buffer, { transfer: [(t.data as Float32Array).buffer as ArrayBuffer] });

describe('op boundary: overlaps', () => {
  it('out may be an input exactly only where the op works in place; any other overlap is ERR_ARGUMENT', () => {
    const buf = new ArrayBuffer(16 * 4);
    const x = view(buf, 0, [2, 4]);
    x.data.set([1, 2, 3, 4, 5, 6, 7, 8]);
    const w = tensor([1, 1, 1, 1]);
    expectError(() => ops.rmsNorm(x, w, { out: view(buf, 4, [2, 4]) }), 'ERR_ARGUMENT', /expected out to be x itself \(in place\) or disjoint from it/);
    expect(Array.from(x.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    ops.rmsNorm(x, w, { out: x });
    expect(x.data[0]).toBeCloseTo(1 / Math.sqrt(7.5), 6);
    expectError(() => ops.swiglu(x, x, { out: view(buf, 2, [2, 4]) }), 'ERR_ARGUMENT', /partly|overlaps/);
    expectError(() => ops.linear(x as Tensor<'float32'>, tensor(new Float32Array(8), [2, 4]), { out: view(buf, 0, [2, 2]) }), 'ERR_ARGUMENT', /expected out disjoint from x/);
  });

  it('embedding rejects out sharing memory with tokens (the SIGSEGV reproducer) and reads a private copy of tokens', () => {
    const buf = new ArrayBuffer(8 * 4);
    const table = tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
    expectError(() => raw.embedding!(table, view(buf, 0, [2], 'int32'), view(buf, 0, [2, 2]), false), 'ERR_ARGUMENT', /expected out disjoint from tokens/);
  });
});

describe('op boundary: JS values, Async buffers', () => {
  it('a getter on a later argument that detaches an earlier buffer gives ERR_DETACHED, never a stale pointer', () => {
    const x = zeros([4, 4]);
    const evil = { _code: 0, shape: [4], _device: -1, get _store() { transfer(x); return new Float32Array(4); } };
    expectError(() => raw.logSumExp!(x, evil, false), 'ERR_DETACHED', /expected x's ArrayBuffer to be attached/);
  });

  it('an Async op whose input is transferred away meanwhile computes on its copy; a transferred output rejects ERR_DETACHED', async () => {
    const w = tensor(new Float32Array(64).fill(2));
    const x = full([8, 64], 3);
    const expected = ops.rmsNorm(x, w).data.slice();
    const p = ops.rmsNormAsync(x, w);
    transfer(x);
    expect(Array.from((await p).data)).toEqual(Array.from(expected));
    const out = zeros([8, 64]);
    const p2 = ops.rmsNormAsync(full([8, 64], 3), w, { out });
    transfer(out);
    await expectRejection(p2, 'ERR_DETACHED', /expected out's buffer to stay attached until the Async op settled/);
  });

  it('a worker terminated or exiting with Async ops in flight does not take the process down', () => {
    const lib = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
    const script = `
      const { Worker } = require('node:worker_threads');
      const body = (exit) => \`const { ops, zeros, tensor } = require(\${JSON.stringify(${JSON.stringify(lib)})});
        const w = tensor(new Float32Array(2048).fill(1));
        for (let i = 0; i < 32; i++) ops.rmsNormAsync(zeros([64, 2048]), w).catch(() => {});
        \${exit ? 'process.exit(0)' : "require('node:worker_threads').parentPort.postMessage('go')"};\`;
      (async () => {
        const a = new Worker(body(false), { eval: true });
        await new Promise((r) => a.once('message', r));
        await a.terminate();
        const b = new Worker(body(true), { eval: true });
        await new Promise((r) => b.once('exit', r));
        console.log('alive');
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    expect(r.stderr).not.toMatch(/terminate called/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('alive');
  });
});

describe('sizes, dtype ranges and environment variables', () => {
  it('values a dtype cannot hold are ERR_RANGE, never wrapped', () => {
    expectError(() => tensor([2 ** 40], undefined, { dtype: 'int32' }), 'ERR_RANGE', /expected int32 values/);
    expectError(() => tensor([300], undefined, { dtype: 'uint8' }), 'ERR_RANGE', /element 0 is 300/);
    expectError(() => full([2], 300, 'uint8'), 'ERR_RANGE');
    expectError(() => tensor([NaN], undefined, { dtype: 'int64' }), 'ERR_RANGE');
    expect(Array.from(tensor([-(2 ** 31), 2 ** 31 - 1], undefined, { dtype: 'int32' }).data)).toEqual([-(2 ** 31), 2 ** 31 - 1]);
  });

  it('sizes are checked before anything is allocated', () => {
    expectError(() => new attention.KVCache({ layers: 1e9, batch: 1, kvHeads: 1, headDim: 2, maxLength: 1 }), 'ERR_RANGE', /layers/);
    expectError(() => new attention.KVCache({ layers: 2, batch: 1e6, kvHeads: 1e3, headDim: 128, maxLength: 1e3 }), 'ERR_OOM', /to fit in/);
    expectError(() => models.LlamaModel.random({ numLayers: 1e8 }), 'ERR_RANGE', /numLayers/);
  });

  it('MMPREF_NUM_THREADS is parsed strictly, with a warning naming the variable and the value used', () => {
    const warnings: string[] = [];
    const onWarn = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarn);
    try {
      expect(envThreads({ MMPREF_NUM_THREADS: '8' })).toBe(8);
      expect(envThreads({})).toBeUndefined();
      for (const bad of ['4abc', '0', '-3', '1e3x']) expect(envThreads({ MMPREF_NUM_THREADS: bad })).toBeGreaterThanOrEqual(1);
    } finally {
      process.off('warning', onWarn);
    }
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'lib', 'index.js'))})`], {
      encoding: 'utf8',
      env: { ...process.env, MMPREF_NUM_THREADS: '4abc' },
    });
    expect(r.stderr).toMatch(/ignoring MMPREF_NUM_THREADS="4abc": expected an integer in \[1, 1024\]; using \d+ threads/);
  });
});

// ---- declared shapes and ranges: the public op (TS) and the raw binding (native) give one error ----

import { noise, sampling, similarity } from '../lib';
import { checkArgs, checkDeclared } from '../lib/op_call';
import type { OpDecl } from '../lib/op_decl';
import { COSINE, SIMILARITY_FILTER } from '../lib/ops/cosine.args';
import { ADAMW } from '../lib/ops/adamw.args';
import { GRAD_SCALE, GRAD_SUM_SQUARES } from '../lib/ops/clip_grad_norm.args';
import { CONTRASTIVE } from '../lib/ops/contrastive.args';
import { DIFFUSE } from '../lib/ops/diffuse.args';
import { IMAGE_KEY_MASK } from '../lib/ops/image_key_mask.args';
import { KV_CACHE_APPEND } from '../lib/ops/kv_cache.args';
import { MEAN_POOL_NORMALIZE } from '../lib/ops/mean_pool_normalize.args';
import { NEFTUNE } from '../lib/ops/neftune.args';
import { PREDICTION_LOSS } from '../lib/ops/prediction_loss.args';
import { RANDOM_FILL } from '../lib/ops/random_fill.args';
import { SAMPLE } from '../lib/ops/sample.args';
import { VISUAL_TOKENS } from '../lib/ops/visual_tokens.args';

/**
 * One bad call through the public op and through the raw binding: the same code and message
 * (matching `re`); with `declared`, the TS declared check alone (compiled and generic) gives it too.
 */
function sameError(ts: (() => unknown) | null, d: OpDecl, rawArgs: unknown[], re: RegExp, declared = true): void {
  const named = Object.fromEntries(d.args.map((x, i) => [x.name, rawArgs[i]]));
  // null: the public op checks its own (list or option) names first; compare the declared TS check with native
  const a = caught(ts ?? (() => checkArgs(d, named)));
  expect(a.message).toMatch(re);
  expect(caught(() => raw[d.name]!(...rawArgs, false)), a.message).toEqual(a);
  if (!declared) return;
  expect(caught(() => checkArgs(d, named)), a.message).toEqual(a);
  expect(caught(() => checkDeclared(d, named)), a.message).toEqual(a);
}

describe('declared checks: TS and native agree (declA ops)', () => {
  it('meanPoolNormalize', () => {
    const x = zeros([2, 3, 4]);
    const M = MEAN_POOL_NORMALIZE;
    sameError(() => similarity.meanPoolNormalize(zeros([2, 3])), M, [zeros([2, 3]), null, true, zeros([2, 3])], /^meanPoolNormalize: expected tokens with 3 dimensions but received \[2, 3\]$/);
    sameError(() => similarity.meanPoolNormalize(x, { mask: zeros([2, 4], 'bool') }), M, [x, zeros([2, 4], 'bool'), true, zeros([2, 4])], /^meanPoolNormalize: expected mask of shape \[2, 3\] \(from tokens \[2, 3, 4\]\) but received \[2, 4\]$/);
    sameError(() => similarity.meanPoolNormalize(x, { out: zeros([2, 3]) }), M, [x, null, true, zeros([2, 3])], /^meanPoolNormalize: expected out of shape \[2, 4\] \(from tokens \[2, 3, 4\]\) but received \[2, 3\]$/);
  });

  it('cosine and similarity.filter', () => {
    const a = zeros([2, 3]);
    sameError(() => similarity.cosine(a, zeros([4, 2])), COSINE, [a, zeros([4, 2]), false, zeros([2, 4])], /^cosine: expected b of shape \[4, 3\] \(from a \[2, 3\]\) but received \[4, 2\]$/);
    sameError(() => similarity.cosine(zeros([6]), a), COSINE, [zeros([6]), a, false, zeros([6, 2])], /^cosine: expected a with 2 dimensions but received \[6\]$/);
    // paired and out's shape depend on a flag: prepare's checks, one message
    sameError(() => similarity.cosine(a, zeros([4, 3]), { paired: true }), COSINE, [a, zeros([4, 3]), true, zeros([2])], /^cosine: expected b of shape \[2, 3\] \(from a \[2, 3\], paired\) but received \[4, 3\]$/, false);
    sameError(() => similarity.cosine(a, a, { out: zeros([2]) }), COSINE, [a, a, false, zeros([2])], /^cosine: expected out of shape \[2, 2\] \(from a and b\) but received \[2\]$/, false);
    const F = SIMILARITY_FILTER;
    sameError(() => similarity.filter(a, zeros([2, 4])), F, [a, zeros([2, 4]), false, 0.9, zeros([2], 'bool')], /^similarity\.filter: expected references of shape \[2, 3\] \(from candidates \[2, 3\]\) but received \[2, 4\]$/);
    sameError(() => similarity.filter(a, a, { threshold: Infinity }), F, [a, a, false, Infinity, zeros([2], 'bool')], /^similarity\.filter: expected threshold a finite number >= -3.4028234663852886e\+38 <= 3.4028234663852886e\+38 but received Infinity$/);
    sameError(() => similarity.filter(a, a, { threshold: NaN }), F, [a, a, false, NaN, zeros([2], 'bool')], /^similarity\.filter: expected a number for threshold but received number NaN$/);
    sameError(() => similarity.filter(a, zeros([3, 3]), { paired: true }), F, [a, zeros([3, 3]), true, 0.9, zeros([2], 'bool')], /paired\) but received \[3, 3\]$/, false);
  });
  it('noise.neftune', () => {
    const x = zeros([2, 4, 8]);
    const i32 = (n: number) => zeros([n], 'int32');
    sameError(() => noise.neftune(zeros([2, 8])), NEFTUNE, [zeros([2, 8]), zeros([2, 8]), null, null, 5, false, 1, 0], /^noise\.neftune: expected embeds with 3 dimensions but received \[2, 8\]$/);
    sameError(() => noise.neftune(x, { lengths: i32(3) }), NEFTUNE, [x, zeros([2, 4, 8]), i32(3), null, 5, false, 1, 0], /^noise\.neftune: expected lengths of shape \[2\] \(from embeds \[2, 4, 8\]\) but received \[3\]$/);
    sameError(() => noise.neftune(x, { mask: zeros([2, 5], 'bool') }), NEFTUNE, [x, zeros([2, 4, 8]), null, zeros([2, 5], 'bool'), 5, false, 1, 0], /^noise\.neftune: expected mask of shape \[2, 4\] \(from embeds \[2, 4, 8\]\) but received \[2, 5\]$/);
    sameError(() => noise.neftune(x, { alpha: 1e39 }), NEFTUNE, [x, zeros([2, 4, 8]), null, null, 1e39, false, 1, 0], /^noise\.neftune: expected alpha a finite number >= 0 <= 3.4028234663852886e\+38 but received 1e\+39$/);
  });

  it('noise.visualTokens', () => {
    const x = zeros([2, 4, 8]);
    const m = zeros([2, 4], 'bool');
    const V = VISUAL_TOKENS;
    sameError(() => noise.visualTokens(x, { mask: zeros([2, 5], 'bool') }), V, [x, zeros([2, 4, 8]), zeros([2, 5], 'bool'), null, 0.5, 0, 1, 1, 0], /^noise\.visualTokens: expected mask of shape \[2, 4\] \(from x \[2, 4, 8\]\) but received \[2, 5\]$/);
    sameError(() => noise.visualTokens(x, { rows: zeros([3], 'bool') }), V, [x, zeros([2, 4, 8]), m, zeros([3], 'bool'), 0.5, 0, 1, 1, 0], /^noise\.visualTokens: expected rows of shape \[2\] \(from x \[2, 4, 8\]\) but received \[3\]$/);
    sameError(() => noise.visualTokens(x, { prob: 1.5 }), V, [x, zeros([2, 4, 8]), m, null, 0.5, 0, 1.5, 1, 0], /^noise\.visualTokens: expected prob a finite number >= 0 <= 1 but received 1.5$/);
    sameError(() => noise.visualTokens(x, { sigma: -0.1 }), V, [x, zeros([2, 4, 8]), m, null, -0.1, 0, 1, 1, 0], /^noise\.visualTokens: expected sigma a finite number >= 0 <= 3.4028234663852886e\+38 but received -0.1$/);
  });

  it('sampling.contrastive', () => {
    const l = zeros([2, 3]);
    const C = CONTRASTIVE;
    sameError(() => sampling.contrastive(l, zeros([1, 3])), C, [l, zeros([1, 3]), null, 1, 0.1, zeros([2, 3])], /^contrastive: expected distortedLogits of shape \[2, 3\] \(from logits \[2, 3\]\) but received \[1, 3\]$/);
    sameError(() => sampling.contrastive(l, l, { rowActive: zeros([3], 'bool') }), C, [l, l, zeros([3], 'bool'), 1, 0.1, zeros([2, 3])], /^contrastive: expected rowActive of shape \[2\] \(from logits \[2, 3\]\) but received \[3\]$/);
    sameError(() => sampling.contrastive(l, l, { out: zeros([3, 2]) }), C, [l, l, null, 1, 0.1, zeros([3, 2])], /^contrastive: expected out of shape \[2, 3\] \(from logits \[2, 3\]\) but received \[3, 2\]$/);
    sameError(() => sampling.contrastive(l, l, { beta: 1.5 }), C, [l, l, null, 1, 1.5, zeros([2, 3])], /^contrastive: expected beta a finite number >= 0 <= 1 but received 1.5$/);
    sameError(() => sampling.contrastive(tensor([1], []), tensor([1], [])), C, [tensor([1], []), tensor([1], []), null, 1, 0.1, tensor([0], [])], /^contrastive: expected logits with at least 1 dimension but received a scalar$/);
  });
  it('random (randomFill: the declared ranges of a and b)', () => {
    const f = zeros([4]);
    sameError(null, RANDOM_FILL, [f, 2, 1e39, 1, 1, 0, 0, 0], /^random: expected a a finite number >= -3.4028234663852886e\+38 <= 3.4028234663852886e\+38 but received 1e\+39$/);
    sameError(null, RANDOM_FILL, [f, 1, 0, -Infinity, 1, 0, 0, 0], /^random: expected b a finite number .* but received -Infinity$/);
  });

  it('optim.clipGradNorm (its native halves)', () => {
    const g = zeros([2, 3]);
    sameError(null, GRAD_SUM_SQUARES, [g, zeros([3])], /^optim\.clipGradNorm: expected out of shape \[2\] but received \[3\]$/);
    sameError(null, GRAD_SCALE, [g, zeros([3, 2]), 0.5], /^optim\.clipGradNorm: expected out of shape \[2, 3\] \(from x\) but received \[3, 2\]$/);
  });

  it('optim.adamw (one tensor per call)', () => {
    const p = zeros([2, 3]);
    const args = (o: Record<string, unknown>) => ADAMW.args.map((a) => (a.name in o ? o[a.name] : ({ param: p, grad: zeros([2, 3]), m: zeros([2, 3]), v: zeros([2, 3]), master: null, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 } as Record<string, unknown>)[a.name]));
    sameError(null, ADAMW, args({ v: zeros([6]) }), /^optim\.adamw: expected v of shape \[2, 3\] \(from param \[2, 3\]\) but received \[6\]$/);
    sameError(null, ADAMW, args({ master: zeros([2, 3, 1]) }), /^optim\.adamw: expected master of shape \[2, 3\] \(from param \[2, 3\]\) but received \[2, 3, 1\]$/);
    sameError(null, ADAMW, args({ beta2: 1 }), /^optim\.adamw: expected beta2 a finite number >= 0 < 1 but received 1$/);
    sameError(null, ADAMW, args({ lr: -1 }), /^optim\.adamw: expected lr a finite number >= 0 <= 3.4028234663852886e\+38 but received -1$/);
  });
  it('KVCache.append (kvCacheAppend)', () => {
    const kc = zeros([1, 2, 8, 4]);
    sameError(null, KV_CACHE_APPEND, [kc, zeros([1, 2, 8, 4]), zeros([1, 2, 3, 5]), zeros([1, 2, 3, 5]), 0], /^KVCache\.append: expected k of shape \[1, 2, 3, 4\] \(from kCache \[1, 2, 8, 4\]\) but received \[1, 2, 3, 5\]$/);
    sameError(null, KV_CACHE_APPEND, [kc, zeros([1, 2, 7, 4]), zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4]), 0], /^KVCache\.append: expected vCache of shape \[1, 2, 8, 4\] \(from kCache\) but received \[1, 2, 7, 4\]$/);
    sameError(null, KV_CACHE_APPEND, [kc, zeros([1, 2, 8, 4]), zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4], 'float16'), 0], /^KVCache\.append: expected v of dtype float32 \(from k\) but received float16$/);
  });

  it('attention.imageKeyMask (imageKeyMask)', () => {
    const sp = tensor(Int32Array.from([0, 0, 1]), [1, 3], { dtype: 'int32' });
    const out = zeros([2, 10], 'bool');
    sameError(null, IMAGE_KEY_MASK, [tensor(Int32Array.from([0, 1]), [1, 2], { dtype: 'int32' }), null, out, 0.5, 0, 0], /^imageKeyMask: expected spans of shape \[1, 3\] but received \[1, 2\]$/);
    sameError(null, IMAGE_KEY_MASK, [sp, null, zeros([20], 'bool'), 0.5, 0, 0], /^imageKeyMask: expected out with 2 dimensions but received \[20\]$/);
    sameError(null, IMAGE_KEY_MASK, [sp, null, out, 1.5, 0, 0], /^imageKeyMask: expected maskRatio a finite number >= 0 <= 1 but received 1.5$/);
  });
  it('noise.diffuse (its native call)', () => {
    const x = zeros([2, 8]);
    const ca = zeros([10]);
    sameError(null, DIFFUSE, [x, zeros([2, 9]), null, null, 1, ca, ca, null, null, 1, 1, 0], /^noise\.diffuse: expected out of shape \[2, 8\] \(from x0 \[2, 8\]\) but received \[2, 9\]$/);
    sameError(null, DIFFUSE, [x, zeros([2, 8]), zeros([16]), null, 1, ca, ca, null, null, 1, 1, 0], /^noise\.diffuse: expected eps of shape \[2, 8\] \(from x0 \[2, 8\]\) but received \[16\]$/);
    sameError(null, DIFFUSE, [x, zeros([2, 8]), null, null, 1, ca, zeros([9]), null, null, 1, 1, 0], /^noise\.diffuse: expected sqrtOneMinusAlphasCumprod of shape \[10\] \(from sqrtAlphasCumprod\) but received \[9\]$/);
  });

  it('noise.predictionLoss (its native call)', () => {
    const p = zeros([2, 8]);
    const rest = (grad: unknown, table: unknown, scale: number) => [p, zeros([2, 8]), grad, zeros([2]), zeros([2]), zeros([]), null, table, null, 1, scale];
    sameError(null, PREDICTION_LOSS, rest(zeros([2, 8], 'float16'), null, 1), /^noise\.predictionLoss: expected grad of dtype float32 \(from epsPred\) but received float16$/);
    sameError(null, PREDICTION_LOSS, rest(null, zeros([2, 5]), 1), /^noise\.predictionLoss: expected weightTable with 1 dimension but received \[2, 5\]$/);
    sameError(null, PREDICTION_LOSS, rest(null, null, 1e39), /^noise\.predictionLoss: expected gradScale a finite number .* but received 1e\+39$/);
  });
  it('sampling.sample', () => {
    const l = tensor([1, 2, 3, 4], [2, 2]);
    const raw = (o: Record<string, unknown>) => SAMPLE.args.map((a) => (a.name in o ? o[a.name] : ({ logits: l, history: null, repetitionPenalty: 1, temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1, seeds: null, step: 0, tokens: zeros([2], 'int32'), logprobs: zeros([2]) } as Record<string, unknown>)[a.name]));
    const hist = zeros([3, 2], 'int32');
    sameError(() => sampling.sample(l, { history: hist, seed: 1 }), SAMPLE, raw({ history: hist }), /^sample: expected history of shape \[2, 2\] \(from logits \[2, 2\]\) but received \[3, 2\]$/);
    sameError(() => sampling.sample(l, { topP: 1.1, seed: 1 }), SAMPLE, raw({ topP: 1.1 }), /^sample: expected topP a finite number >= 0 <= 1 but received 1.1$/);
    sameError(() => sampling.sample(l, { minP: -0.1, seed: 1 }), SAMPLE, raw({ minP: -0.1 }), /^sample: expected minP a finite number >= 0 <= 1 but received -0.1$/);
    sameError(() => sampling.sample(tensor([1, 2, 3])), SAMPLE, raw({ logits: tensor([1, 2, 3]) }), /^sample: expected logits with 2 dimensions but received \[3\]$/);
    sameError(null, SAMPLE, raw({ logprobs: zeros([3]) }), /^sample: expected logprobs of shape \[2\] \(from logits \[2, 2\]\) but received \[3\]$/);
  });
});

import { dpo } from '../lib';
import { GEMM } from '../lib/ops/gemm.args';

// declB's ops on declared shapes: the public op (TS check) and the raw binding (native check) give
// the same code and message for the same bad call (declared patterns, and the relations their
// small prepares keep).
describe('declared shapes (crossEntropy, sequenceLogps, linear, gemm, linearLogps, attention.masked): TS and raw binding agree', () => {
  const caught = (f: () => unknown): { code: string; message: string } => {
    try {
      f();
    } catch (e) {
      const err = e as Error & { code: string };
      expect(err.constructor.name).toBe('MmprefError');
      return { code: err.code, message: err.message };
    }
    throw new Error('expected an error');
  };
  const agree = (ts: () => unknown, op: string, rawArgs: unknown[], re: RegExp) => {
    const a = caught(ts);
    expect(a.message).toMatch(re);
    expect(caught(() => raw[op]!(...rawArgs, false)), a.message).toEqual(a);
  };
  const i32 = (shape: number[]) => zeros(shape, 'int32');

  it('ops.crossEntropy', () => {
    const x = zeros([2, 3, 5]);
    const lab = i32([2, 3]);
    const outs = (rows: number[]) => [zeros(rows), zeros([1]), i32([1])];
    agree(() => ops.crossEntropy(x, i32([2, 2])), 'crossEntropy', [x, i32([2, 2]), null, ...outs([2, 3]), null, -100, false, true, 1], /^ops\.crossEntropy: expected labels of shape \[2, 3\] \(from logits \[2, 3, 5\]\) but received \[2, 2\]$/);
    agree(() => ops.crossEntropy(x, i32([6])), 'crossEntropy', [x, i32([6]), null, ...outs([2, 3]), null, -100, false, true, 1], /^ops\.crossEntropy: expected labels of shape \[2, 3\] \(from logits \[2, 3, 5\]\) but received \[6\]$/);
    agree(() => ops.crossEntropy(x, lab, { grad: true, reduction: 'none', gradOut: zeros([6]) }), 'crossEntropy', [x, lab, zeros([6]), ...outs([2, 3]), zeros([2, 3, 5]), -100, false, false, 1], /^ops\.crossEntropy: expected gradOut of shape \[2, 3\] \(from logits \[2, 3, 5\]\) but received \[6\]$/);
    agree(() => ops.crossEntropy(zeros([2, 3, 4, 5]), i32([2, 3, 4])), 'crossEntropy', [zeros([2, 3, 4, 5]), i32([2, 3, 4]), null, ...outs([2, 3, 4]), null, -100, false, true, 1], /^ops\.crossEntropy: expected logits of shape \[B, T, V\] or \[N, V\] but received \[2, 3, 4, 5\]$/);
  });

  it('dpo.sequenceLogps, dpo.logpsBackward', () => {
    const x = zeros([2, 3, 5]);
    const p = zeros([6, 5]);
    const lab = i32([2, 3]);
    const fwd = (lg: unknown, lb: unknown, cu: unknown, b: number, rows: number) => [lg, lb, cu, zeros([b]), i32([b]), zeros([rows]), null, -100, true, false];
    agree(() => dpo.sequenceLogps(x, i32([2, 2])), 'sequenceLogps', fwd(x, i32([2, 2]), null, 2, 6), /^sequenceLogps: expected labels of shape \[2, 3\] \(from logits \[2, 3, 5\]\) but received \[2, 2\]$/);
    agree(() => dpo.sequenceLogps(p, i32([6])), 'sequenceLogps', fwd(p, i32([6]), null, 6, 6), /^sequenceLogps: expected logits of shape \[B, T, V\] \(or \[N, V\] with cuSeqlens\) but received \[6, 5\]$/);
    agree(() => dpo.sequenceLogps(x, lab, { cuSeqlens: i32([2]) }), 'sequenceLogps', fwd(x, lab, i32([2]), 1, 6), /^sequenceLogps: expected packed logits of shape \[N, V\] \(with cuSeqlens\) but received \[2, 3, 5\]$/);
    agree(() => dpo.sequenceLogps(p, i32([6]), { cuSeqlens: i32([1, 2]) }), 'sequenceLogps', fwd(p, i32([6]), i32([1, 2]), 0, 6), /^sequenceLogps: expected cuSeqlens with 1 dimension but received \[1, 2\]$/);
    agree(() => dpo.sequenceLogps(p, i32([6]), { cuSeqlens: i32([0]) }), 'sequenceLogps', fwd(p, i32([6]), i32([0]), 0, 6), /^sequenceLogps: expected cuSeqlens of shape \[B \+ 1\] \(at least one element\) but received \[0\]$/);
    const bwd = (g: unknown, lse: unknown) => [x, lab, null, g, lse, zeros([2, 3, 5]), -100, true, false];
    agree(() => dpo.logpsBackward(x, lab, zeros([3])), 'logpsBackward', bwd(zeros([3]), null), /^logpsBackward: expected gradLogps of shape \[2\] \(from one per sequence\) but received \[3\]$/);
    agree(() => dpo.logpsBackward(x, lab, zeros([2, 1])), 'logpsBackward', bwd(zeros([2, 1]), null), /^logpsBackward: expected gradLogps with 1 dimension but received \[2, 1\]$/);
    agree(() => dpo.logpsBackward(x, lab, zeros([2]), { lse: zeros([5]) }), 'logpsBackward', bwd(zeros([2]), zeros([5])), /^logpsBackward: expected lse of shape \[2, 3\] \(from logits \[2, 3, 5\]\) but received \[5\]$/);
  });

  it('ops.linear, ops.linearBackward', () => {
    const x = zeros([2, 3]);
    const w = zeros([4, 3]);
    agree(() => ops.linear(x, zeros([4, 2])), 'linear', [x, zeros([4, 2]), null, zeros([2, 4])], /^linear: expected weight of shape \[4, 3\] \(from x \[2, 3\]\) but received \[4, 2\]$/);
    agree(() => ops.linear(x, w, { bias: zeros([3]) }), 'linear', [x, w, zeros([3]), zeros([2, 4])], /^linear: expected bias of shape \[4\] \(from weight \[4, 3\]\) but received \[3\]$/);
    agree(() => ops.linear(x, zeros([12])), 'linear', [x, zeros([12]), null, zeros([2, 4])], /^linear: expected weight with 2 dimensions but received \[12\]$/);
    agree(() => ops.linear(tensor([1], []), zeros([1, 1])), 'linear', [tensor([1], []), zeros([1, 1]), null, zeros([1])], /^linear: expected x with at least 1 dimension but received a scalar$/);
    const bwd = (dy: unknown, wt: unknown) => [dy, x, wt, zeros([2, 3]), null, null, false];
    agree(() => ops.linearBackward(zeros([2, 5]), x, w), 'linearBackward', bwd(zeros([2, 5]), w), /^linearBackward: expected dy of shape \[2, 4\] \(from x \[2, 3\] and weight \[4, 3\]\) but received \[2, 5\]$/);
    agree(() => ops.linearBackward(zeros([3, 4]), x, w), 'linearBackward', bwd(zeros([3, 4]), w), /^linearBackward: expected dy of shape \[2, 4\] \(from x \[2, 3\] and weight \[4, 3\]\) but received \[3, 4\]$/);
    agree(() => ops.linearBackward(zeros([2, 4]), x, zeros([4, 2])), 'linearBackward', bwd(zeros([2, 4]), zeros([4, 2])), /^linearBackward: expected weight of shape \[4, 3\] \(from x \[2, 3\]\) but received \[4, 2\]$/);
  });

  it('_gemm (internal, no wrapper): the declared check in TS and the raw binding', () => {
    const a = zeros([4, 3]);
    const cases: [unknown[], RegExp][] = [
      [[a, zeros([5, 3]), zeros([4, 5]), zeros([4]), false, true, false, -1], /^_gemm: expected bias of shape \[5\] \(from c \[4, 5\]\) but received \[4\]$/],
      [[zeros([12]), zeros([5, 3]), zeros([4, 5]), null, false, true, false, -1], /^_gemm: expected a with 2 dimensions but received \[12\]$/],
    ];
    for (const [args, re] of cases) {
      const named = Object.fromEntries(GEMM.args.map((d, i) => [d.name, args[i]]));
      agree(() => checkArgs(GEMM, named), '_gemm', args, re);
    }
    // M, K, N depend on transA / transB: prepare
    expect(caught(() => raw._gemm!(a, zeros([5, 3]), zeros([4, 4]), null, false, true, false, -1, false)).message).toMatch(/^_gemm: expected b with K = 3 and c \[4, 5\]/);
  });

  it('dpo.linearLogps', () => {
    const h = zeros([2, 6, 9]);
    const w = zeros([13, 9]);
    const lab = i32([2, 6]);
    const call = (hd: unknown, wt: unknown, lb: unknown, cu: unknown, b: number, rows: number[]) => [hd, wt, lb, cu, null, zeros([b]), i32([b]), zeros(rows), null, null, null, -100, true, false, false, 4];
    agree(() => dpo.linearLogps(h, zeros([13, 8]), lab, { chunkSize: 4 }), 'linearLogps', call(h, zeros([13, 8]), lab, null, 2, [2, 6]), /^linearLogps: expected lmHead of shape \[13, 9\] \(from hidden \[2, 6, 9\]\) but received \[13, 8\]$/);
    agree(() => dpo.linearLogps(h, zeros([13 * 9]), lab, { chunkSize: 4 }), 'linearLogps', call(h, zeros([13 * 9]), lab, null, 2, [2, 6]), /^linearLogps: expected lmHead with 2 dimensions but received \[117\]$/);
    agree(() => dpo.linearLogps(h, w, i32([2, 5]), { chunkSize: 4 }), 'linearLogps', call(h, w, i32([2, 5]), null, 2, [2, 5]), /^linearLogps: expected labels of shape \[2, 6\] \(from hidden \[2, 6, 9\]\) but received \[2, 5\]$/);
    const p = zeros([12, 9]);
    agree(() => dpo.linearLogps(p, w, i32([12]), { chunkSize: 4 }), 'linearLogps', call(p, w, i32([12]), null, 12, [12]), /^linearLogps: expected hidden of shape \[B, T, H\] \(or \[N, H\] with cuSeqlens\) but received \[12, 9\]$/);
    agree(() => dpo.linearLogps(p, w, i32([12]), { chunkSize: 4, cuSeqlens: i32([0]) }), 'linearLogps', call(p, w, i32([12]), i32([0]), 0, [12]), /^linearLogps: expected cuSeqlens of shape \[B \+ 1\] \(at least one element\) but received \[0\]$/);
  });

  it('attention.masked, attention.maskedBackward', () => {
    const q = zeros([1, 2, 3, 4]);
    const k = zeros([1, 1, 5, 4]);
    const out = zeros([1, 2, 3, 4]);
    const fwd = (qq: unknown, kk: unknown, vv: unknown, o: unknown, mask: unknown = null) => [qq, kk, vv, o, null, mask, 0.5, false, 0, 5];
    agree(() => attention.masked(q, zeros([2, 1, 5, 4]), zeros([2, 1, 5, 4])), 'attentionMasked', fwd(q, zeros([2, 1, 5, 4]), zeros([2, 1, 5, 4]), out), /^attention\.masked: expected k of shape \[1, 1, 5, 4\] \(from q \[1, 2, 3, 4\]\) but received \[2, 1, 5, 4\]$/);
    agree(() => attention.masked(q, k, zeros([1, 1, 6, 4])), 'attentionMasked', fwd(q, k, zeros([1, 1, 6, 4]), out), /^attention\.masked: expected v of shape \[1, 1, 5, 4\] \(from k \[1, 1, 5, 4\]\) but received \[1, 1, 6, 4\]$/);
    agree(() => attention.masked(q, zeros([1, 3, 5, 4]), zeros([1, 3, 5, 4])), 'attentionMasked', fwd(q, zeros([1, 3, 5, 4]), zeros([1, 3, 5, 4]), out), /^attention\.masked: expected the query heads Hq = 2 to be a multiple of the kv heads but received Hkv = 3 \(k \[1, 3, 5, 4\]\)$/);
    const big = zeros([1, 1, 1, 257]);
    agree(() => attention.masked(big, zeros([1, 1, 5, 257]), zeros([1, 1, 5, 257])), 'attentionMasked', fwd(big, zeros([1, 1, 5, 257]), zeros([1, 1, 5, 257]), zeros([1, 1, 1, 257])), /^attention\.masked: expected a head dim d in \[1, 256\] but received q \[1, 1, 1, 257\]$/);
    agree(() => attention.masked(q, k, k, { keyMask: zeros([1, 4], 'bool') }), 'attentionMasked', fwd(q, k, k, out, zeros([1, 4], 'bool')), /^attention\.masked: expected keyMask of shape \[1, L\] with L >= 5 \(kvLength\) but received \[1, 4\]$/);
    agree(() => attention.masked(q, k, k, { keyMask: zeros([2, 5], 'bool') }), 'attentionMasked', fwd(q, k, k, out, zeros([2, 5], 'bool')), /^attention\.masked: expected keyMask of shape \[1, 5\] \(from q \[1, 2, 3, 4\]\) but received \[2, 5\]$/);
    agree(() => attention.masked(q, zeros([1, 1, 5, 4], 'bfloat16'), k), 'attentionMasked', fwd(q, zeros([1, 1, 5, 4], 'bfloat16'), k, out), /^attention\.masked: expected q, k and v of one dtype but received float32, bfloat16 and float32$/);
    const lse = zeros([1, 2, 3]);
    const bwd = (g: unknown, l: unknown) => [g, q, k, k, out, l, zeros([1, 2, 3, 4]), zeros([1, 1, 5, 4]), zeros([1, 1, 5, 4]), null, 0.5, false, 2, 5];
    agree(() => attention.maskedBackward(zeros([1, 2, 3, 5]), q, k, k, out, lse), 'attentionMaskedBackward', bwd(zeros([1, 2, 3, 5]), lse), /^attention\.maskedBackward: expected dOut of shape \[1, 2, 3, 4\] \(from q\) but received \[1, 2, 3, 5\]$/);
    agree(() => attention.maskedBackward(out, q, k, k, out, zeros([1, 2, 4])), 'attentionMaskedBackward', bwd(out, zeros([1, 2, 4])), /^attention\.maskedBackward: expected lse of shape \[1, 2, 3\] \(from q \[1, 2, 3, 4\]\) but received \[1, 2, 4\]$/);
  });
});
