import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { numThreads, ops, setNumThreads, tensor } from '../lib';
import { assertBitEqual, randomArray, rng } from './helpers';

describe('worker_threads', () => {
  it('8 workers share one SharedArrayBuffer and one native thread pool', async () => {
    const workers = 8;
    const rows = 64;
    const cols = 3000;
    const input = new SharedArrayBuffer(rows * cols * 4);
    const output = new SharedArrayBuffer(rows * 4);
    new Float32Array(input).set(Float32Array.from(randomArray(rows * cols, rng(11), 3)));
    const file = path.join(__dirname, 'fixtures', 'sab_worker.js');
    // one pool per process: a size set here is what every worker's numThreads() reports
    const keep = numThreads();
    const size = keep === 3 ? 5 : 3;
    setNumThreads(size);
    const results = await Promise.all(
      Array.from({ length: workers }, (_, index) =>
        new Promise<{ index: number; threads?: number; error?: string }>((resolve, reject) => {
          const w = new Worker(file, { workerData: { input, output, rows, cols, index, workers } });
          w.once('message', (m) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        }),
      ),
    );
    setNumThreads(keep);
    for (const r of results) expect(r.error).toBeUndefined();
    expect(results.map((r) => r.threads)).toEqual(Array.from({ length: workers }, () => size));
    const expected = ops.logSumExp(tensor(new Float32Array(input), [rows, cols]));
    assertBitEqual(new Float32Array(output), expected.data, 'worker outputs');
  });
});
