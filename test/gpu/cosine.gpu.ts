import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { similarity, tensor, type FloatDType } from '../../lib';
import { assertClose, expectError, randomArray, rng } from '../helpers';
import { skip } from './gpu';

describe('similarity CUDA vs CPU', { skip }, () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [8, 100, 768], [70, 6, 769], [200, 300, 64], [20, 30, 20]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [n, m, e] of shapes)
      it(`cosine ${dtype} [${n}, ${e}] x [${m}, ${e}], paired, and the filter`, () => {
        const a = tensor(Float32Array.from(randomArray(n * e, rng(n + e))), [n, e], { dtype });
        const b = tensor(Float32Array.from(randomArray(m * e, rng(m + e))), [m, e], { dtype });
        const ga = a.to('cuda');
        const gb = b.to('cuda');
        const cpu = similarity.cosine(a, b).data;
        assertClose(similarity.cosine(ga, gb).to('cpu').data, cpu, { atol: 3e-6, rtol: 0, name: 'all pairs' });
        assertClose(similarity.cosine(ga, ga, { paired: true }).to('cpu').data, similarity.cosine(a, a, { paired: true }).data, { atol: 3e-6, rtol: 0, name: 'paired' });
        // the filter: a row's decision must match unless one of its similarities is within the
        // cosine tolerance (3e-6) of the threshold; such rows are counted, and most rows are checked
        for (const threshold of [0.05, 0.3]) {
          const fg = similarity.filter(ga, gb, { threshold }).to('cpu').data;
          const fc = similarity.filter(a, b, { threshold }).data;
          assert.equal(fg.length, n);
          let checked = 0;
          for (let i = 0; i < n; i++) {
            let near = false;
            for (let j = 0; j < m; j++) near ||= Math.abs(cpu[i * m + j]! - threshold) <= 3e-6;
            if (near) continue;
            checked++;
            assert.equal(fg[i], fc[i], `filter row ${i} threshold ${threshold}`);
          }
          // (float16 inputs quantise the similarities: a few rows of 200 may sit within 3e-6)
          assert.ok(checked >= Math.ceil(0.9 * n), `filter: only ${checked} of ${n} rows away from the threshold`);
        }
        ga.dispose();
        gb.dispose();
      });

  it('zero vectors, no references, meanPoolNormalize, async, device mismatch', async () => {
    const z = tensor([[0, 0, 0], [1, 2, 3]]).to('cuda');
    assert.deepEqual(Array.from(similarity.cosine(z, z).to('cpu').data).map((v) => Math.round(v * 1e6) / 1e6), [0, 0, 0, 1]);
    assert.deepEqual(Array.from(similarity.filter(z, tensor(new Float32Array(0), [0, 3]).to('cuda')).to('cpu').data), [1, 1]);
    const M = 9, T = 40, E = 768;
    const x = tensor(Float32Array.from(randomArray(M * T * E, rng(3))), [M, T, E], { dtype: 'bfloat16' });
    const mask = tensor(Int32Array.from({ length: M * T }, (_, i) => (i % 7 === 0 || i < T ? 0 : 1)), [M, T], { dtype: 'int32' });
    const cpu = similarity.meanPoolNormalize(x, { mask }).data;
    const gpu = similarity.meanPoolNormalize(x.to('cuda'), { mask: mask.to('cuda') }).to('cpu').data;
    assertClose(gpu, cpu, { atol: 2e-6, rtol: 2e-6, name: 'meanPoolNormalize' });
    // a NaN token makes its whole row NaN (the norm is NaN, not clamped to 1e-12)
    const xn = tensor([[[1, NaN, 2]], [[3, 4, 0]]]);
    const gn = Array.from(similarity.meanPoolNormalize(xn.to('cuda')).to('cpu').data);
    assertClose(gn, similarity.meanPoolNormalize(xn).data, { atol: 2e-6, rtol: 2e-6, name: 'meanPoolNormalize NaN' });
    assert.ok(gn.slice(0, 3).every((v) => Number.isNaN(v)));
    assert.deepEqual(similarity.cosine(z, tensor(new Float32Array(0), [0, 3]).to('cuda')).shape, [2, 0]);
    const ga = tensor(Float32Array.from(randomArray(40 * 50, rng(4))), [40, 50]).to('cuda');
    assert.deepEqual(Array.from((await similarity.cosineAsync(ga, ga)).to('cpu').data), Array.from(similarity.cosine(ga, ga).to('cpu').data));
    expectError(() => similarity.cosine(ga, tensor(new Float32Array(50), [1, 50])), 'ERR_DEVICE', /same device/);
    expectError(() => similarity.meanPoolNormalize(x.to('cuda'), { mask }), 'ERR_DEVICE', /same device/);
  });
});
