import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dpo, tensor, type DType, type FloatDType, type Tensor } from '../../lib';
import { assertBitEqual, assertClose, expectError, expectRejection, randomArray, rng } from '../helpers';
import { cpu, logitsData as data, skip } from './gpu';

const DTYPES: FloatDType[] = ['float32', 'float16', 'bfloat16'];
// CUDA (exp2f, 256-thread tree sums) vs the CPU kernel (polynomial exp2, lane sums): both are
// within ~2e-7 of float64 per token; sums of T tokens add up to T times that.
const TOK = { rtol: 3e-6, atol: 5e-6 };
const SEQ = { rtol: 3e-6, atol: 1e-4 };
// gradients are rounded to the logits' dtype: allow one unit in the last place either way
const GRAD: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-5, atol: 1e-7 },
  float16: { rtol: 2 ** -10, atol: 1e-7 },
  bfloat16: { rtol: 2 ** -7, atol: 1e-7 },
};


describe('dpo.sequenceLogps CUDA vs CPU', { skip }, () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 47, 31], [2, 5, 5003], [4, 16, 32000], [2, 3, 128256], [8, 64, 4097]];
  for (const dtype of DTYPES)
    for (const [B, T, V] of shapes)
      for (const [shift, average] of [[true, false], [false, true]] as const)
        it(`${dtype} [${B}, ${T}, ${V}] shift ${shift} average ${average}`, () => {
          const { logits, labels } = data(B, T, V, dtype, B + T + V);
          const opts = { shift, average, perToken: true, returnLse: true };
          const c = dpo.sequenceLogps(logits, labels, opts);
          const gl = logits.to('cuda');
          const g = dpo.sequenceLogps(gl, labels.to('cuda'), opts);
          assert.equal(g.logps.device, 'cuda');
          assertClose(cpu(g.perToken!).data, c.perToken!.data, { ...TOK, name: 'perToken' });
          assertClose(cpu(g.lse!).data, c.lse!.data, { rtol: 2e-6, atol: 2e-6, name: 'lse' });
          assertClose(cpu(g.logps).data, c.logps.data, { ...SEQ, name: 'logps' });
          assert.deepEqual(Array.from(cpu(g.counts).data), Array.from(c.counts.data));
          gl.dispose();
        });

  it('packed input with an empty and a one-token sequence; int64 labels; ignoreIndex 42', () => {
    const V = 333;
    const offsets = Int32Array.from([0, 7, 7, 8, 30]);
    const r = rng(5);
    const logits = tensor(Float32Array.from(randomArray(30 * V, r, 3)), [30, V], { dtype: 'bfloat16' });
    const lab = BigInt64Array.from({ length: 30 }, (_, i) => BigInt(i % 4 === 0 ? 42 : Math.floor(r() * V)));
    const labels = tensor(lab, [30]);
    for (const shift of [true, false]) {
      const opts = { cuSeqlens: tensor(offsets), shift, ignoreIndex: 42, perToken: true };
      const c = dpo.sequenceLogps(logits, labels, opts);
      const g = dpo.sequenceLogps(logits.to('cuda'), labels.to('cuda'), { ...opts, cuSeqlens: tensor(offsets).to('cuda') });
      assertClose(cpu(g.perToken!).data, c.perToken!.data, TOK);
      assertClose(cpu(g.logps).data, c.logps.data, SEQ);
      assert.deepEqual(Array.from(cpu(g.counts).data), Array.from(c.counts.data));
    }
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
    // finite |x| > 2.4e38, where x * log2(e) overflows float32 (was lse -Infinity / +Infinity)
    for (let j = 0; j < V; j++) v[7 * V + j] = -3e38 * (0.9 + 0.1 * r());
    v[8 * V + 11] = 3e38;
    const lab = Int32Array.from([1, 2, 5, 4, 3, 2, 1, 6, 11]);
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const logits = tensor(Float32Array.from(v), [1, 9, V], { dtype });
      const opts = { shift: false, perToken: true, returnLse: true };
      const c = dpo.sequenceLogps(logits, tensor(lab, [1, 9]), opts);
      const g = dpo.sequenceLogps(logits.to('cuda'), tensor(lab, [1, 9]).to('cuda'), opts);
      const gp = cpu(g.perToken!).data;
      assertClose(gp, c.perToken!.data, { rtol: 3e-6, atol: 3e-5, name: `${dtype} extreme perToken` });
      assertClose(cpu(g.lse!).data, c.lse!.data, { rtol: 2e-6, name: `${dtype} extreme lse` });
      assert.equal(gp[2], -Infinity);
      assert.equal(gp[3], -Infinity);
      assert.ok(Number.isNaN(gp[4]));
      assert.equal(gp[5], -Infinity);
      assert.ok(Number.isFinite(cpu(g.lse!).data[7]) && Number.isFinite(cpu(g.lse!).data[8]), 'lse of |x| > 2.4e38 rows');
      // the backward recomputes the same lse
      const gr = tensor(Float32Array.from([0.5]));
      const cb = dpo.logpsBackward(logits, tensor(lab, [1, 9]), gr, { shift: false }).toFloat32Array();
      const gb = cpu(dpo.logpsBackward(logits.to('cuda'), tensor(lab, [1, 9]).to('cuda'), gr.to('cuda'), { shift: false })).toFloat32Array();
      assertClose(gb, cb, { ...GRAD[dtype], name: `${dtype} extreme grad (every row)` });
    }
  });

  it('async equals sync, and repeated calls give the same bits', async () => {
    const { logits, labels } = data(4, 33, 7001, 'bfloat16', 7);
    const gl = logits.to('cuda');
    const gb = labels.to('cuda');
    const a = dpo.sequenceLogps(gl, gb, { perToken: true });
    const b = await dpo.sequenceLogpsAsync(gl, gb, { perToken: true });
    const c = dpo.sequenceLogps(gl, gb, { perToken: true });
    assertBitEqual(cpu(b.perToken!).data, cpu(a.perToken!).data);
    assertBitEqual(cpu(c.logps).data, cpu(a.logps).data);
  });

  it('bad labels, bad cuSeqlens and device mismatches are typed errors', async () => {
    const logits = tensor(new Float32Array(2 * 3 * 5), [2, 3, 5]).to('cuda');
    expectError(() => dpo.sequenceLogps(logits, tensor(Int32Array.from([0, 1, 5, 0, 9, 0]), [2, 3]).to('cuda')), 'ERR_RANGE', /received 5 at labels\[0, 2\]/);
    expectError(() => dpo.sequenceLogps(logits, tensor(BigInt64Array.from([0n, 1n, 2n, 0n, -3n, 0n]), [2, 3]).to('cuda')), 'ERR_RANGE', /received -3 at labels\[1, 1\]/);
    await expectRejection(dpo.sequenceLogpsAsync(logits, tensor(Int32Array.from([0, 7, 0, 0, 0, 0]), [2, 3]).to('cuda')), 'ERR_RANGE', /received 7 at labels\[0, 1\]/);
    expectError(() => dpo.sequenceLogps(logits, tensor(new Int32Array(6), [2, 3])), 'ERR_DEVICE', /same device/);
    const p = logits.reshape([6, 5]);
    const pl = tensor(new Int32Array(6), [6]).to('cuda');
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(Int32Array.from([0, 4, 3, 6])).to('cuda') }), 'ERR_RANGE', /non-decreasing/);
    expectError(() => dpo.sequenceLogps(p, pl, { cuSeqlens: tensor(Int32Array.from([0, 5])).to('cuda') }), 'ERR_RANGE', /to end at 6/);
  });
});

describe('dpo.logpsBackward CUDA vs CPU', { skip }, () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 17, 31], [2, 5, 5003], [4, 16, 32000], [2, 2, 128257]];
  for (const dtype of DTYPES)
    for (const [B, T, V] of shapes)
      for (const withLse of [false, true])
        it(`${dtype} [${B}, ${T}, ${V}] ${withLse ? 'with' : 'without'} lse`, () => {
          const { logits, labels, r } = data(B, T, V, dtype, 3 * B + T + V);
          const g = tensor(Float32Array.from({ length: B }, () => r() * 4 - 2));
          const lse = withLse ? dpo.sequenceLogps(logits, labels, { returnLse: true, average: true }).lse : undefined;
          const c = dpo.logpsBackward(logits, labels, g, { lse, average: true });
          const gl = logits.to('cuda');
          const out = dpo.logpsBackward(gl, labels.to('cuda'), g.to('cuda'), { lse: lse?.to('cuda'), average: true });
          assert.equal(out.device, 'cuda');
          assertClose(cpu(out).toFloat32Array(), c.toFloat32Array(), { ...GRAD[dtype], name: `${dtype} grad` });
          // in place gives the same bits as out of place
          dpo.logpsBackward(gl, labels.to('cuda'), g.to('cuda'), { lse: lse?.to('cuda'), average: true, inPlace: true });
          assertBitEqual(cpu(gl).data as Uint16Array, cpu(out).data as Uint16Array, 'in place');
          gl.dispose();
          out.dispose();
        });

  it('unscored rows are exact zeros, as on the CPU; odd V (unaligned rows) works', () => {
    const V = 9;
    const { logits, labels } = data(2, 6, V, 'bfloat16', 9, 0.5);
    const g = tensor(Float32Array.from([1, -1]));
    const c = dpo.logpsBackward(logits, labels, g).toFloat32Array();
    const d = cpu(dpo.logpsBackward(logits.to('cuda'), labels.to('cuda'), g.to('cuda'))).toFloat32Array();
    assertClose(d, c, GRAD.bfloat16);
    for (let r = 0; r < 12; r++) {
      const cz = c.subarray(r * V, (r + 1) * V).every((x) => Object.is(x, 0));
      const dz = d.subarray(r * V, (r + 1) * V).every((x) => Object.is(x, 0));
      assert.equal(dz, cz, `row ${r}`);
    }
  });

  it('a bad label leaves in-place logits untouched', () => {
    const x = tensor(Float32Array.from({ length: 30 }, (_, i) => i), [2, 3, 5]).to('cuda');
    expectError(() => dpo.logpsBackward(x, tensor(Int32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]).to('cuda'), tensor(new Float32Array(2)).to('cuda'), { inPlace: true }), 'ERR_RANGE', /received 5 at labels\[1, 2\]/);
    assert.equal(cpu(x).data[29], 29);
    expectError(() => dpo.logpsBackward(x, tensor(new Int32Array(6), [2, 3]).to('cuda'), tensor(new Float32Array(2))), 'ERR_DEVICE', /same device/);
  });
});

describe('dpo.step and dpo.loss on CUDA', { skip }, () => {
  it('step matches the CPU step; loss outputs stay on the device', async () => {
    const B = 2;
    const { logits, labels } = data(2 * B, 40, 5003, 'bfloat16', 11);
    const refChosen = tensor(Float32Array.from([-50, -60]));
    const refRejected = tensor(Float32Array.from([-55, -58]));
    const c = dpo.step({ logits: logits.clone(), labels, refChosen, refRejected }, { beta: 0.2 });
    const gl = logits.to('cuda');
    const g = await dpo.stepAsync({ logits: gl, labels: labels.to('cuda'), refChosen: refChosen.to('cuda'), refRejected: refRejected.to('cuda') }, { beta: 0.2 });
    assert.equal(g.gradLogits, gl);
    assert.equal(g.losses.device, 'cuda');
    assert.ok(Math.abs(g.loss - c.loss) <= 1e-5 * Math.abs(c.loss) + 1e-6);
    assertClose(cpu(g.policyChosen).data, c.policyChosen.data, SEQ);
    assertClose(cpu(gl).toFloat32Array(), c.gradLogits.toFloat32Array(), { ...GRAD.bfloat16, name: 'step grad' });
  });
});
