/**
 * Regression tests for the memory-safety reproducers of issue 10, each in a child process (a crash
 * there fails the test instead of killing vitest). Contract: no input, race, buffer transfer or
 * worker exit crashes the process; bad input is an MmprefError with a code.
 * Every reproducer listed in the issue crashed, hung or corrupted memory before the op boundary
 * (native/cpp/binding/op_call.{h,cc}); they all run under the AddressSanitizer build too.
 */
import { describe, expect, it } from 'vitest';
import { DIST_LIB, ending, runSnippet } from './fuzz/spawn';


describe('boundary: aliasing and index re-reads', () => {
  // was a defect, fixed by the op boundary (issue 10): tokens are checked, then read again while rows are copied into out
  it('embedding with out overlapping tokens is ERR_ARGUMENT (was SIGSEGV)', async () => {
    const r = await runSnippet(`
      const buf = new ArrayBuffer(4 * 64);
      const tokens = new m.Tensor(new Int32Array(buf, 0, 8), [8], 'int32', -1);
      tokens.data.set([1, 2, 3, 4, 5, 6, 7, 8]);
      const out = new m.Tensor(new Float32Array(buf, 16, 32), [8, 4], 'float32', -1);
      const table = m.random.normal([16, 4], { seed: 1 });
      await report('sync', () => m.ops.embedding(table, tokens, { out }));
      await report('async', () => m.ops.embeddingAsync(table, tokens, { out }));`);
    expect(r.clean, ending(r)).toBe(true);
    expect(r.results).toEqual({ sync: 'mmpref:ERR_ARGUMENT', async: 'mmpref:ERR_ARGUMENT' });
  });

  // a SharedArrayBuffer writer changing cuSeqlens / tokens / labels during the op may change a
  // result or give ERR_RANGE, never an out-of-bounds access (ASan sees the re-read today)
  it('a SharedArrayBuffer writer on cuSeqlens, labels and tokens does not crash', async () => {
    const r = await runSnippet(`
      const { Worker } = require('node:worker_threads');
      const sab = new SharedArrayBuffer(4 * 128);
      const flag = new Int32Array(sab, 508, 1);
      const N = 256, V = 300;
      const cu = new Int32Array(sab, 0, 3); cu.set([0, 128, 256]);
      const labels = new Int32Array(sab, 16, 32);
      const tok = new Int32Array(sab, 160, 32);
      const w = new Worker(\`const { workerData: { sab } } = require('node:worker_threads');
        const v = new Int32Array(sab, 0, 127), flag = new Int32Array(sab, 508, 1); let x = 1;
        while (Atomics.load(flag, 0) === 0) { x = (x * 1103515245 + 12345) >>> 0;
          for (let i = 0; i < 127; i++) v[i] = (x & 1) ? (i < 3 ? [0, 128, 256][i] : i % 7) : 2147483000 - i; }\`, { eval: true, workerData: { sab } });
      await new Promise((r) => w.once('online', r));
      const logits = m.random.normal([N, V], { seed: 1 });
      const lab = m.tensor(new Int32Array(N), [N]);
      const table = m.random.normal([V, 16], { seed: 2 });
      const packedLogits = m.random.normal([2, 16, V], { seed: 3 });
      for (let k = 0; k < 300; k++) {
        await report('cu' + k, () => m.dpo.sequenceLogps(logits, lab, { cuSeqlens: m.tensor(cu, [3]) }));
        await report('bw' + k, () => m.dpo.logpsBackward(logits, lab, m.tensor([1, 1]), { cuSeqlens: m.tensor(cu, [3]) }));
        await report('lab' + k, () => m.dpo.sequenceLogps(packedLogits, m.tensor(labels, [2, 16])));
        await report('tok' + k, () => m.ops.embedding(table, m.tensor(tok, [32])));
        if (k % 50 === 0) await report('async' + k, () => m.ops.embeddingAsync(table, m.tensor(tok, [32])));
      }
      Atomics.store(flag, 0, 1);
      await w.terminate();`, { timeoutMs: 60000 });
    expect(r.clean, ending(r)).toBe(true);
    const bad = Object.entries(r.results).filter(([, v]) => v !== 'ok' && !v.startsWith('mmpref:'));
    expect(bad).toEqual([]);
  });
});

describe('boundary: buffers going away under an op', () => {
  // was a defect, fixed by the op boundary (issue 10): the Async job must keep its buffers alive (or the transfer must
  // fail) until it settles; today it holds a raw pointer (SIGSEGV / malloc corruption within 60 rounds)
  it('an Async op whose input or output ArrayBuffer is transferred away (postMessage, structuredClone) + GC does not crash', async () => {
    const r = await runSnippet(`
      const detach = (buf, how) => {
        try {
          if (how) { const { port1, port2 } = new MessageChannel(); port1.postMessage(buf, [buf]); port1.close(); port2.close(); }
          else structuredClone(buf, { transfer: [buf] });
        } catch { /* refusing the transfer is fine */ }
      };
      for (let k = 0; k < 60; k++) {
        const x = m.random.normal([64, 2048], { seed: k });
        const out = m.empty([64]);
        const p = m.ops.logSumExpAsync(x, { out });
        detach((k % 2 ? x : out).data.buffer, k % 3 === 0);
        gc();
        await report('lse' + k, () => p);
        const lg = m.random.normal([4, 64, 512], { seed: k });
        const q = m.dpo.sequenceLogpsAsync(lg, m.tensor(new Int32Array(256), [4, 64]));
        detach(lg.data.buffer, k % 2 === 0);
        gc();
        await report('slp' + k, () => q);
      }`, { timeoutMs: 60000 });
    expect(r.clean, ending(r)).toBe(true);
    const bad = Object.entries(r.results).filter(([, v]) => v !== 'ok' && !v.startsWith('mmpref:'));
    expect(bad).toEqual([]);
  });

  // all JS values are read before any pointer is taken (raw binding: a getter on a later argument)
  it('raw binding: a getter on a later argument that frees an earlier, checked buffer does not crash (logSumExp, sequenceLogps, permute)', async () => {
    const r = await runSnippet(`
      const plain = (t) => ({ ...t });
      const freeing = (victim, host, prop) => {
        const v = host[prop];
        Object.defineProperty(host, prop, { get() { try { structuredClone(victim._store.buffer, { transfer: [victim._store.buffer] }); } catch {} gc(); return v; }, enumerable: true, configurable: true });
        return host;
      };
      for (let k = 0; k < 20; k++) {
        for (const prop of ['shape', '_store', '_code', '_device']) {
          const x = plain(m.random.normal([32, 1024], { seed: k }));
          const out = freeing(x, plain(m.empty([32])), prop);
          await report('lse-' + prop + k, () => native.logSumExp(x, out, k % 2 === 1));
          const lg = plain(m.random.normal([2, 16, 256], { seed: k }));
          const lb = freeing(lg, plain(m.tensor(new Int32Array(32), [2, 16])), prop);
          await report('slp-' + prop + k, () => {
            const logps = plain(m.empty([2])), counts = plain(m.empty([2], 'int32')), per = plain(m.empty([2, 16])), lse = plain(m.empty([2, 16]));
            return native.sequenceLogps(lg, lb, null, logps, counts, per, lse, -100, true, false, k % 2 === 1);
          });
          const p = plain(m.random.normal([8, 64, 16], { seed: k }));
          const po = freeing(p, plain(m.empty([16, 64, 8])), prop);
          await report('perm-' + prop + k, () => native.permute(p, po, [2, 1, 0], k % 2 === 1));
        }
      }`, { timeoutMs: 60000 });
    expect(r.clean, ending(r)).toBe(true);
    const bad = Object.entries(r.results).filter(([, v]) => v !== 'ok' && !v.startsWith('mmpref:'));
    expect(bad).toEqual([]);
  });

  // was a defect, fixed by the op boundary (issue 10): "terminate called after throwing an instance of 'Napi::Error'"
  it('terminating a worker with Async ops in flight does not take the process down', async () => {
    const r = await runSnippet(`
      const { Worker } = require('node:worker_threads');
      for (let i = 0; i < 12; i++) {
        const w = new Worker(\`const m = require(${JSON.stringify(DIST_LIB)});
          const { parentPort } = require('node:worker_threads');
          const x = m.random.normal([64, 4096], { seed: 1 });
          for (let k = 0; k < 4; k++) m.ops.logSumExpAsync(x).catch(() => {});
          parentPort.postMessage('started');\`, { eval: true });
        await new Promise((r) => w.once('message', r));
        await w.terminate();
      }
      console.log('survived');`, { timeoutMs: 60000 });
    expect(r.clean, ending(r)).toBe(true);
  });

  // was a defect (fuzz seed 20261207 case 6716, attention.maskedBackwardAsync): a promise continuation calls the
  // binding while the worker is being terminated; building the MmprefError (a JS call) and napi_throw then fail and
  // node-addon-api threw a C++ Napi::Error out of the callback: "terminate called after throwing an instance of
  // 'Napi::Error'". This loop aborted within the first few workers before the fix. 40 workers, not 150:
  // each loads the library, and 150 took 85 s on 2 loaded cores (a CI run went past the 120 s limit).
  it('terminating a worker whose continuations keep calling ops (sync errors, Async queueing) does not abort', { timeout: 330_000 }, async () => {
    const r = await runSnippet(`
      const { Worker } = require('node:worker_threads');
      for (let i = 0; i < 40; i++) {
        const w = new Worker(\`const m = require(${JSON.stringify(DIST_LIB)});
          const { parentPort } = require('node:worker_threads');
          const x = m.tensor(new Float32Array(64), [8, 8]), g = m.tensor(new Float32Array(8).fill(1), [8]);
          const bad = m.tensor(new Float32Array(3), [3]);
          parentPort.postMessage('started');
          (async () => {
            for (;;) {
              const ps = [];
              for (let k = 0; k < 4; k++)
                ps.push(m.ops.rmsNormAsync(x, g).then(() => { try { m.ops.rmsNorm(x, bad); } catch {} return m.ops.rmsNormAsync(x, g); }));
              await Promise.all(ps);
            }
          })();\`, { eval: true });
        w.on('error', () => {});
        await new Promise((r) => w.once('message', r));
        await new Promise((r) => setTimeout(r, i % 5));
        await w.terminate();
      }
      console.log('survived');`, { timeoutMs: 300_000 });
    expect(r.clean, ending(r)).toBe(true);
  });
});

describe('boundary: sizes are checked before anything is allocated', () => {
  // was a defect, fixed by the op boundary (issue 10): each layer is allocated before the sizes are checked -> V8 heap abort
  it('new attention.KVCache({ layers: 1e9 }) is ERR_RANGE or ERR_OOM (was a heap abort)', async () => {
    const r = await runSnippet(`await report('kv', () => new m.attention.KVCache({ layers: 1e9, batch: 1, kvHeads: 1, headDim: 1, maxLength: 1 }));`, { timeoutMs: 60_000, nodeArgs: ['--max-old-space-size=64'] });
    expect(r.clean, ending(r)).toBe(true);
    expect(r.results.kv).toMatch(/^mmpref:ERR_(RANGE|OOM)$/);
  });

  // was a defect, fixed by the op boundary (issue 10)
  it('LlamaModel.random({ numLayers: 1e8 }) is ERR_RANGE or ERR_OOM (was a heap abort)', async () => {
    const r = await runSnippet(`await report('llama', () => m.models.LlamaModel.random({ vocabSize: 8, hiddenSize: 8, intermediateSize: 8, numLayers: 1e8, numHeads: 2, numKvHeads: 1 }));`, { timeoutMs: 60_000, nodeArgs: ['--max-old-space-size=64'] });
    expect(r.clean, ending(r)).toBe(true);
    expect(r.results.llama).toMatch(/^mmpref:ERR_(RANGE|OOM)$/);
  });

  // was a defect, fixed by the op boundary (issue 10): generate() must reject maxNewTokens beyond what the cache can hold
  it('generate(..., { maxNewTokens: 1e9 }) is rejected, not run for ever', async () => {
    const r = await runSnippet(`
      const model = m.models.LlamaModel.random({ vocabSize: 8, hiddenSize: 8, intermediateSize: 8, numLayers: 1, numHeads: 2, numKvHeads: 1 });
      await report('gen', () => m.models.generate(model, { tokens: [[1, 2]], maxNewTokens: 1e9 }).result);`, { timeoutMs: 60_000 });
    expect(r.clean, ending(r)).toBe(true);
    expect(r.results.gen).toMatch(/^mmpref:ERR_(RANGE|OOM)$/);
  });
});
