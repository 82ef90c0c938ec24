/**
 * Regression tests for the error-contract reproducers of issue 10: every bad input is an
 * MmprefError with the right code (never a plain TypeError / RangeError), values a dtype cannot
 * hold are ERR_RANGE (not wrapped), storages shorter than their shape are rejected, an `out` that
 * partially overlaps an input is ERR_ARGUMENT, and environment variables are parsed strictly.
 * Each was a defect before the op boundary (issue 10). Overlap and environment cases run in child
 * processes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dpo, fromOrt, full, MmprefError, ops, Tensor, tensor, zeros, cudaAvailable, type ErrorCode } from '../lib';
import { ending, runSnippet, type ChildResult } from './fuzz/spawn';
import { RawTensor } from './helpers';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return e instanceof MmprefError ? e.code : `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}
async function codeOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    return e instanceof MmprefError ? e.code : `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
}
const detached = (values: number[]): Tensor<'float32'> => {
  const t = tensor(values);
  structuredClone(t.data.buffer, { transfer: [t.data.buffer as ArrayBuffer] });
  return t;
};
/** a float32 tensor whose shape claims n elements over a storage of `real` */
const short = (n: number, real: number): Tensor => new RawTensor(new Float32Array(real), [n], 'float32', -1);
const refs2 = () => ({ refChosen: tensor([0, 0]), refRejected: tensor([0, 0]) });
const stepInputs = () => ({ logits: zeros([2, 2, 3]), labels: tensor(new Int32Array(4), [2, 2]) });

describe('boundary: plain TypeError / RangeError paths are MmprefError', () => {
  const cases: [string, () => unknown, ErrorCode][] = [
    ['dpo.loss with a detached policyChosen', () => dpo.loss({ policyChosen: detached([1, 2]), policyRejected: tensor([1, 2]), ...refs2() }), 'ERR_DETACHED'],
    ['dpo.step with a detached refChosen', () => dpo.step({ ...stepInputs(), refChosen: detached([1]), refRejected: tensor([1]) }), 'ERR_DETACHED'],
    ['clone() of a tensor whose buffer was transferred', () => detached([1, 2]).clone(), 'ERR_DETACHED'],
    ['toArray() of a tensor whose buffer was transferred', () => detached([1, 2]).toArray(), 'ERR_DETACHED'],
    ["tensor([NaN], undefined, { dtype: 'int64' })", () => tensor([NaN], undefined, { dtype: 'int64' }), 'ERR_RANGE'],
    ['fromOrt(null)', () => fromOrt(null as never), 'ERR_ARGUMENT'],
    ['ops.permute(x, [1n, 0n])', () => ops.permute(zeros([2, 3]), [1n, 0n] as never), 'ERR_ARGUMENT'],
  ];
  for (const [name, fn, code] of cases)
    // was a defect, fixed by the op boundary (issue 10)
    it(`${name} is ${code}`, () => expect(codeOf(fn)).toBe(code));

  // was a defect, fixed by the op boundary (issue 10)
  it('dpo.lossAsync with a detached policyChosen is ERR_DETACHED', async () => {
    expect(await codeOfAsync(() => dpo.lossAsync({ policyChosen: detached([1, 2]), policyRejected: tensor([1, 2]), ...refs2() }))).toBe('ERR_DETACHED');
  });
});

describe('boundary: storages shorter than their shape', () => {
  // was a defect, fixed by the op boundary (issue 10): dpo.loss / dpo.step read B values from the storage without checking its length
  it('dpo.loss with policyChosen [4] over 2 elements is ERR_SHAPE', () => {
    expect(codeOf(() => dpo.loss({ policyChosen: short(4, 2), policyRejected: tensor([1, 2, 3, 4]), refChosen: tensor([0, 0, 0, 0]), refRejected: tensor([0, 0, 0, 0]) }))).toBe('ERR_SHAPE');
  });
  // was a defect, fixed by the op boundary (issue 10)
  it('dpo.step with refChosen [1] over 0 elements is ERR_SHAPE', () => {
    expect(codeOf(() => dpo.step({ ...stepInputs(), refChosen: short(1, 0), refRejected: tensor([1]) }))).toBe('ERR_SHAPE');
  });
  it('ops.logSumExp with x [4, 8] over 31 elements is an MmprefError (native re-check)', () => {
    expect(codeOf(() => ops.logSumExp(new RawTensor(new Float32Array(31), [4, 8], 'float32', -1)))).toMatch(/^ERR_(SHAPE|ARGUMENT)$/);
  });
});

describe('boundary: values a dtype cannot hold are ERR_RANGE, not wrapped', () => {
  // was a defect, fixed by the op boundary (issue 10): 2**40 as int32 became 0
  it("tensor([2 ** 40], undefined, { dtype: 'int32' }) is ERR_RANGE", () => {
    expect(codeOf(() => tensor([2 ** 40], undefined, { dtype: 'int32' }))).toBe('ERR_RANGE');
  });
  // was a defect, fixed by the op boundary (issue 10): 300 as uint8 became 44
  it("full([1], 300, 'uint8') is ERR_RANGE", () => {
    expect(codeOf(() => full([1], 300, 'uint8'))).toBe('ERR_RANGE');
  });
  it("tensor([7], undefined, { dtype: 'int32' }) still works", () => {
    expect(Array.from(tensor([7], undefined, { dtype: 'int32' }).data)).toEqual([7]);
  });
});

// out partially overlapping an input: one child runs every op (embedding's overlap crashes today
// and is in boundary_memory.test.ts); each op gets its own assertion
const OVERLAP_OPS: [string, string][] = [
  ['logSumExp', `const [b, x, out] = lay([4, 8], [4]); return m.ops.logSumExp(x, { out });`],
  ['rmsNorm', `const [b, x, out] = lay([4, 8], [4, 8]); return m.ops.rmsNorm(x, m.random.normal([8], { seed: 1 }), { out });`],
  ['swiglu', `const [b, x, out] = lay([4, 8], [4, 8]); return m.ops.swiglu(x, m.random.normal([4, 8], { seed: 1 }), { out });`],
  ['add', `const [b, x, out] = lay([4, 8], [4, 8]); return m.ops.add(x, m.random.normal([4, 8], { seed: 1 }), { out });`],
  ['permute', `const [b, x, out] = lay([2, 3, 4], [4, 3, 2]); return m.ops.permute(x, [2, 1, 0], { out });`],
  ['linear', `const [b, x, out] = lay([3, 5], [3, 4]); return m.ops.linear(x, m.random.normal([4, 5], { seed: 1 }), { out });`],
  ['logpsBackward', `const [b, x, out] = lay([1, 4, 6], [1, 4, 6]); return m.dpo.logpsBackward(x, m.tensor(new Int32Array(4), [1, 4]), m.tensor([1]), { out });`],
  ['attention.masked out', `const [b, q, out] = lay([1, 2, 3, 4], [1, 2, 3, 4]); const k = m.random.normal([1, 2, 3, 4], { seed: 1 }); return m.attention.masked(q, k, k, { out });`],
  ['attention.masked lseOut', `const [b, q, lseOut] = lay([1, 2, 3, 4], [1, 2, 3]); const k = m.random.normal([1, 2, 3, 4], { seed: 1 }); return m.attention.masked(q, k, k, { lseOut });`],
  ['contrastive', `const [b, x, out] = lay([2, 9], [2, 9]); return m.sampling.contrastive(x, m.random.normal([2, 9], { seed: 1 }), { out });`],
  ['cosine', `const [b, x, out] = lay([4, 5], [4, 3]); return m.similarity.cosine(x, m.random.normal([3, 5], { seed: 1 }), { out });`],
  ['meanPoolNormalize', `const [b, x, out] = lay([2, 3, 4], [2, 4]); return m.similarity.meanPoolNormalize(x, { out });`],
  ['visualTokens', `const [b, x, out] = lay([2, 3, 4], [2, 3, 4]); return m.noise.visualTokens(x, { out, seed: 1 });`],
  ['neftune', `const [b, x, out] = lay([2, 3, 4], [2, 3, 4]); return m.noise.neftune(x, { out, seed: 1 });`],
  ['diffuse', `const [b, x, out] = lay([2, 3, 4], [2, 3, 4]); return m.noise.diffuse(x, { t: 10, out, seed: 1 });`],
];

describe('boundary: out partially overlapping an input is ERR_ARGUMENT', () => {
  let child: ChildResult;
  beforeAll(async () => {
    child = await runSnippet(`
      // input at element 0 of one float32 buffer, out from element 1: a partial overlap
      const lay = (inShape, outShape) => {
        const n = inShape.reduce((a, b) => a * b, 1), k = outShape.reduce((a, b) => a * b, 1);
        const buf = new ArrayBuffer(4 * (Math.max(n, k + 1) + 1));
        const x = new m.Tensor(new Float32Array(buf, 0, n), inShape, 'float32', -1);
        x.data.set(m.random.normal([n], { seed: 2 }).data);
        return [buf, x, new m.Tensor(new Float32Array(buf, 4, k), outShape, 'float32', -1)];
      };
      ${OVERLAP_OPS.map(([name, body]) => `await report(${JSON.stringify(name.replace(/ /g, '_'))}, () => { ${body} });`).join('\n')}`);
  });
  it('the child process did not crash', () => expect(child.clean, ending(child)).toBe(true));
  for (const [name] of OVERLAP_OPS) {
    // was a defect, fixed by the op boundary (issue 10): today these return wrong results without an error
    it(`${name}`, () => expect(child.results[name.replace(/ /g, '_')]).toBe('mmpref:ERR_ARGUMENT'));
  }
});

describe('boundary: environment variables are parsed strictly', () => {
  const load = (env: Record<string, string>) => runSnippet(`await report('threads', () => { process.stdout.write('THREADS ' + m.numThreads() + '\\n'); });`, { env, timeoutMs: 20000 });
  it('MMPREF_NUM_THREADS=3 gives 3 threads and no warning', async () => {
    const r = await load({ MMPREF_NUM_THREADS: '3' });
    expect(r.clean, ending(r)).toBe(true);
    expect(r.stdout).toMatch(/THREADS 3\b/);
    expect(r.stderr).not.toMatch(/MMPREF_NUM_THREADS/);
  });
  for (const bad of ['4abc', '0', '-3']) {
    // was parsed with atoi ("4abc" gave 4, "0" and "-3" were ignored silently); now strict (core/thread_pool.cc)
    it(`MMPREF_NUM_THREADS=${bad} is a typed error at load or a warning naming the variable`, async () => {
      const r = await load({ MMPREF_NUM_THREADS: bad });
      expect(r.signal, ending(r)).toBeNull();
      expect(r.stderr).toMatch(/MMPREF_NUM_THREADS/);
    });
  }
  // was a defect, fixed by the op boundary (issue 10): MMPREF_DEVICE=cuda without a usable GPU was silently ignored
  it.skipIf(cudaAvailable())('MMPREF_DEVICE=cuda without a usable GPU is a typed error at load or a warning naming the variable', async () => {
    const r = await load({ MMPREF_DEVICE: 'cuda' });
    expect(r.signal, ending(r)).toBeNull();
    expect(r.stderr).toMatch(/MMPREF_DEVICE/);
  });
});
