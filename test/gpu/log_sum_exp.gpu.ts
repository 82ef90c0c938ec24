import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cudaMemoryInfo, emptyCudaCache, empty, ops, tensor, type FloatDType } from '../../lib';
import { assertClose, expectError, expectRejection, randomArray, rng } from '../helpers';
import { skip } from './gpu';

describe('logSumExp CUDA vs CPU', { skip }, () => {
  const shapes: [number, number][] = [[1, 1], [3, 47], [1000, 1024], [77, 1025], [16, 32000], [4, 128256], [2, 3], [5, 0], [3, 200001], [1, 1 << 20]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [rows, cols] of shapes)
      it(`${dtype} [${rows}, ${cols}]`, () => {
        const x = tensor(Float32Array.from(randomArray(rows * cols, rng(rows + cols), 4)), [rows, cols], { dtype });
        const cpu = ops.logSumExp(x);
        const gx = x.to('cuda');
        const gy = ops.logSumExp(gx);
        assert.equal(gy.device, 'cuda');
        assertClose(gy.to('cpu').data, cpu.data, { rtol: 2e-6, atol: 2e-6, name: `${dtype} [${rows}, ${cols}]` });
        gx.dispose();
        gy.dispose();
      });

  it('special values and unaligned rows', () => {
    const cols = 37; // odd: rows start at every alignment
    const v = randomArray(6 * cols, rng(1), 3);
    for (let j = 0; j < cols; j++) v[j] = -Infinity;
    v[cols + 5] = NaN;
    v[2 * cols + 7] = Infinity;
    v[3 * cols + 1] = 1e30;
    const x = tensor(Float32Array.from(v), [6, cols]);
    const a = ops.logSumExp(x).data;
    const b = ops.logSumExp(x.to('cuda')).to('cpu').data;
    assertClose(b, a, { rtol: 2e-6 });
    assert.equal(b[0], -Infinity);
    assert.ok(Number.isNaN(b[1]));
    assert.equal(b[2], Infinity);
  });

  it('async equals sync on the GPU', async () => {
    const x = tensor(Float32Array.from(randomArray(64 * 5000, rng(2))), [64, 5000]).to('cuda');
    const a = ops.logSumExp(x).to('cpu').data;
    const b = (await ops.logSumExpAsync(x)).to('cpu').data;
    assert.deepEqual(Array.from(b), Array.from(a));
  });

  it('device mismatch, disposed memory and out-of-memory are typed errors', async () => {
    const x = tensor([1, 2, 3, 4], [2, 2]).to('cuda');
    expectError(() => ops.logSumExp(x, { out: empty([2]) }), 'ERR_DEVICE', /same device/);
    const y = x.clone();
    y.dispose();
    expectError(() => ops.logSumExp(y), 'ERR_DETACHED');
    expectError(() => empty([2 ** 20, 2 ** 20], 'float32', { device: 'cuda' }), 'ERR_OOM', /out of memory/);
    // dispose() during an async op: memory stays valid until the op finishes
    const big = tensor(Float32Array.from(randomArray(256 * 4096, rng(3))), [256, 4096]).to('cuda');
    const p = ops.logSumExpAsync(big);
    big.dispose();
    assert.equal((await p).shape[0], 256);
    await expectRejection(ops.logSumExpAsync(big), 'ERR_DETACHED');
  });

  it('the caching allocator reuses freed blocks and can be emptied', () => {
    const a = empty([1 << 20], 'float32', { device: 'cuda' });
    const before = cudaMemoryInfo();
    assert.ok(before.allocated >= 4 << 20);
    a.dispose();
    const mid = cudaMemoryInfo();
    assert.ok(mid.cached >= 4 << 20, 'freed block kept for reuse');
    const b = empty([1 << 20], 'float32', { device: 'cuda' });
    assert.equal(cudaMemoryInfo().cached, mid.cached - (4 << 20), 'same size class reused');
    b.dispose();
    emptyCudaCache();
    assert.equal(cudaMemoryInfo().cached, 0);
  });

  it('round-trips every dtype through device memory', () => {
    for (const dtype of ['float32', 'float16', 'bfloat16', 'int32', 'int64', 'uint8', 'bool'] as const) {
      const h = tensor([1, 0, 3, 1], [2, 2], { dtype });
      const back = h.to('cuda').to('cpu');
      assert.deepEqual(back.toArray(), h.toArray(), dtype);
    }
  });
});
