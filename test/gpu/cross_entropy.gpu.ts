import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ops, tensor, type DType, type FloatDType, type Tensor } from '../../lib';
import { assertBitEqual, assertClose, expectError, randomArray, rng } from '../helpers';
import { cpu, logitsData as data, scaled, skip } from './gpu';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];
// CUDA (exp2f, 256-thread tree merges) vs the CPU kernel (polynomial exp2, lane sums): each row's
// lse is within ~2e-7 (1 + |lse|) of float64 on both sides (sequence_logps.gpu.ts uses the same
// bounds); the mean is an average of such rows, a sum adds up to n of them.
const ROW = { rtol: 3e-6, atol: 5e-6 };
// gradients are rounded to the logits' dtype: one unit in the last place either way, plus the
// label's absolute error |s| * (lse difference) (s = 1 / n for the mean, |gradOut| <= 2 else)
const GRAD: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-5, atol: 1e-6 },
  float16: { rtol: 2 ** -10, atol: 1e-6 },
  bfloat16: { rtol: 2 ** -7, atol: 1e-6 },
};


describe('ops.crossEntropy CUDA vs CPU', { skip }, () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 47, 31], [2, 5, 5003], [scaled(4), 16, 32000], [2, scaled(3), 128256], [scaled(8), 64, 4097]];
  for (const dtype of DTYPES)
    for (const [B, T, V] of shapes)
      for (const [shift, reduction] of [[false, 'mean'], [true, 'sum'], [true, 'none']] as const)
        it(`${dtype} [${B}, ${T}, ${V}] shift ${shift} ${reduction}`, () => {
          const { logits, labels, r } = data(B, T, V, dtype, B + T + V);
          const go = reduction === 'none' ? tensor(Float32Array.from({ length: B * T }, () => r() * 4 - 2), [B, T]) : 0.5;
          const c = ops.crossEntropy(logits, labels, { shift, reduction, grad: true, gradOut: go });
          const gl = logits.to('cuda');
          const gb = labels.to('cuda');
          const opts = { shift, reduction, grad: true as const, gradOut: typeof go === 'number' ? go : go.to('cuda') };
          const g = ops.crossEntropy(gl, gb, opts);
          assert.equal(g.count, c.count);
          assert.equal(g.grad.device, 'cuda');
          if (reduction === 'none') {
            const gl0 = g.loss as unknown as Tensor<'float32'>;
            assert.equal(gl0.device, 'cuda');
            assertClose(cpu(gl0).data, (c.loss as unknown as Tensor<'float32'>).data, { ...ROW, name: 'losses' });
          } else {
            const atol = ROW.atol * (reduction === 'sum' ? Math.max(c.count, 1) : 1);
            assertClose([g.loss], [c.loss], { rtol: ROW.rtol, atol, name: 'loss' });
          }
          assertClose(cpu(g.grad).toFloat32Array(), c.grad.toFloat32Array(), { ...GRAD[dtype], name: `${dtype} grad` });
          // in place gives the same bits and the same loss as out of place
          const ip = ops.crossEntropy(gl, gb, { ...opts, inPlace: true });
          assert.equal(ip.grad, gl);
          assertBitEqual(cpu(gl).data as Uint16Array, cpu(g.grad).data as Uint16Array, 'in place');
          if (reduction !== 'none') assert.equal(ip.loss, g.loss);
          gl.dispose();
          g.grad.dispose();
        });

  it('extreme values: +-1e4, -Infinity, NaN, +Infinity, |x| beyond the fast path', () => {
    const V = 6000;
    const r = rng(6);
    const v = randomArray(9 * V, r, 3);
    for (let j = 0; j < V; j++) v[j] = (r() < 0.5 ? -1 : 1) * 1e4 * r();
    for (let j = 0; j < V; j += 3) v[V + j] = -Infinity;
    v[2 * V + 5] = -Infinity; // the label logit of row 2
    for (let j = 0; j < V; j++) v[3 * V + j] = -Infinity;
    v[4 * V + 100] = NaN;
    v[5 * V + 7] = Infinity;
    for (let j = 0; j < V; j++) v[6 * V + j] = 3e9 * r();
    for (let j = 0; j < V; j++) v[7 * V + j] = -3e38 * (0.9 + 0.1 * r());
    v[8 * V + 11] = 3e38;
    const lab = Int32Array.from([1, 2, 5, 4, 3, 2, 1, 6, 11]);
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const logits = tensor(Float32Array.from(v), [1, 9, V], { dtype });
      const opts = { reduction: 'none' as const, grad: true as const };
      const c = ops.crossEntropy(logits, tensor(lab, [1, 9]), opts);
      const g = ops.crossEntropy(logits.to('cuda'), tensor(lab, [1, 9]).to('cuda'), opts);
      const gl = cpu(g.loss).data;
      assertClose(gl, c.loss.data, { rtol: 3e-6, atol: 3e-5, name: `${dtype} extreme losses` });
      assert.equal(gl[2], Infinity);
      assert.ok(Number.isNaN(gl[3]) && Number.isNaN(gl[4]));
      // the rows of finite logits: same gradient
      const cg = c.grad.toFloat32Array();
      const gg = cpu(g.grad).toFloat32Array();
      for (const row of [0, 1, 6, 7, 8])
        assertClose(gg.subarray(row * V, (row + 1) * V), cg.subarray(row * V, (row + 1) * V), { ...GRAD[dtype], name: `${dtype} extreme grad row ${row}` });
    }
  });

  it('nothing scored: loss 0, count 0, zero gradient; async equals sync; repeated calls give the same bits', async () => {
    const { logits, labels } = data(2, 5, 333, 'bfloat16', 8, 1);
    const z = ops.crossEntropy(logits.to('cuda'), labels.to('cuda'), { grad: true });
    assert.equal(z.loss, 0);
    assert.equal(z.count, 0);
    assert.ok(cpu(z.grad).toFloat32Array().every((x) => Object.is(x, 0)));
    const d = data(3, 33, 7001, 'bfloat16', 7);
    const gl = d.logits.to('cuda');
    const gb = d.labels.to('cuda');
    const a = ops.crossEntropy(gl, gb, { grad: true, shift: true });
    const b = await ops.crossEntropyAsync(gl, gb, { grad: true, shift: true });
    const c = ops.crossEntropy(gl, gb, { grad: true, shift: true });
    assert.equal(b.loss, a.loss);
    assert.equal(c.loss, a.loss);
    assertBitEqual(cpu(b.grad).data as Uint16Array, cpu(a.grad).data as Uint16Array);
    assertBitEqual(cpu(c.grad).data as Uint16Array, cpu(a.grad).data as Uint16Array);
  });

  it('bad labels (nothing written in place) and device mismatches are typed errors', () => {
    const x = tensor(Float32Array.from({ length: 30 }, (_, i) => i), [2, 3, 5]).to('cuda');
    expectError(() => ops.crossEntropy(x, tensor(Int32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]).to('cuda'), { grad: true, inPlace: true }), 'ERR_RANGE', /received 5 at labels\[1, 2\]/);
    assert.equal(cpu(x).data[29], 29);
    expectError(() => ops.crossEntropy(x, tensor(BigInt64Array.from([0n, 1n, 2n, 0n, -3n, 0n]), [2, 3]).to('cuda')), 'ERR_RANGE', /received -3 at labels\[1, 1\]/);
    expectError(() => ops.crossEntropy(x, tensor(new Int32Array(6), [2, 3])), 'ERR_DEVICE', /same device/);
    expectError(() => ops.crossEntropy(x, tensor(new Int32Array(6), [2, 3]).to('cuda'), { grad: true, reduction: 'none', gradOut: tensor(new Float32Array(6), [2, 3]) }), 'ERR_DEVICE', /same device/);
  });
});
