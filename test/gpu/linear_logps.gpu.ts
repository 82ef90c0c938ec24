import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dpo, ops, tensor, type DType, type FloatDType, type Tensor } from '../../lib';
import { assertClose, randomArray, rng } from '../helpers';
import { scaled, skip } from './gpu';

// CUDA vs CPU. Logits: both float32 sums of H products, in different orders (each within
// H 2^-24 sum|x w| =: dz of the exact value), so a token log-prob differs by up to 4 dz plus the
// row math (test/gpu/sequence_logps.gpu.ts: 3e-6 relative, 5e-6 absolute). Gradients: G differs by
// that much relative, rounded to the inputs' dtype (one unit either way), then float32 GEMMs:
// compared against the largest magnitude (GRAD x max|ref|).
const GRAD: Record<FloatDType, number> = { float32: 2e-5, float16: 2 ** -9, bfloat16: 2 ** -6 };

const cpu = <D extends DType>(t: Tensor<D>): Tensor<D> => t.to('cpu');
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const f32 = (t: Tensor) => cpu(t).toFloat32Array();

function data(seqs: number, T: number, H: number, V: number, dtype: FloatDType, seed: number) {
  const r = rng(seed);
  const hidden = tensor(Float32Array.from(randomArray(seqs * T * H, r, 1)), [seqs, T, H], { dtype });
  const lmHead = tensor(Float32Array.from(randomArray(V * H, r, 0.5)), [V, H], { dtype });
  const labels = tensor(Int32Array.from({ length: seqs * T }, () => (r() < 0.2 ? -100 : Math.floor(r() * V))), [seqs, T]);
  const dz = H * 2 ** -24 * H * 0.5; // |x| <= 1, |w| <= 0.5 (randomArray is uniform in [-scale, scale])
  return { hidden, lmHead, labels, dz };
}

describe('dpo.linearLogps / linearStep / ops.linearCrossEntropy CUDA vs CPU', { skip }, () => {
  for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
    it(`${dtype}: linearLogps, padded and packed`, () => {
      const { hidden, lmHead, labels, dz } = data(scaled(4), 9, 40, 301, dtype, 1);
      const tok = { rtol: 3e-6, atol: 4 * dz + 5e-6 };
      const c = dpo.linearLogps(hidden, lmHead, labels, { perToken: true, returnLse: true, chunkSize: 7 });
      const g = dpo.linearLogps(hidden.to('cuda'), lmHead.to('cuda'), labels.to('cuda'), { perToken: true, returnLse: true, chunkSize: 7 });
      assert.equal(g.logps.device, 'cuda');
      assertClose(f32(g.perToken), c.perToken.data, { ...tok, name: 'perToken' });
      assertClose(f32(g.lse), c.lse.data, { rtol: 2e-6, atol: 2 * dz + 2e-6, name: 'lse' });
      assertClose(f32(g.logps), c.logps.data, { rtol: 3e-6, atol: 9 * tok.atol, name: 'logps' });
      assert.deepEqual(Array.from(cpu(g.counts).data), Array.from(c.counts.data));
      const N = hidden.shape[0]! * 9;
      const cu = Int32Array.from([0, 5, 5, N]);
      const flat = hidden.reshape([N, 40]);
      const fl = labels.reshape([N]);
      const cp = dpo.linearLogps(flat, lmHead, fl, { cuSeqlens: tensor(cu), perToken: true });
      const gp = dpo.linearLogps(flat.to('cuda'), lmHead.to('cuda'), fl.to('cuda'), { cuSeqlens: tensor(cu).to('cuda'), perToken: true });
      assertClose(f32(gp.perToken), cp.perToken.data, { ...tok, name: 'packed perToken' });
    });

    it(`${dtype}: linearStep (trainable and frozen head) and linearCrossEntropy`, () => {
      const { hidden, lmHead, labels } = data(2 * scaled(2), 7, 24, 133, dtype, 2);
      const B = hidden.shape[0]! / 2;
      const r = rng(3);
      const refChosen = tensor(Float32Array.from({ length: B }, () => -10 * r()));
      const refRejected = tensor(Float32Array.from({ length: B }, () => -10 * r()));
      const dev = { hidden: hidden.to('cuda'), lmHead: lmHead.to('cuda'), labels: labels.to('cuda'), refChosen: refChosen.to('cuda'), refRejected: refRejected.to('cuda') };
      for (const lmHeadGrad of [true, false]) {
        const c = dpo.linearStep({ hidden, lmHead, labels, refChosen, refRejected }, { beta: 0.3, lmHeadGrad, chunkSize: 5 });
        const g = dpo.linearStep(dev, { beta: 0.3, lmHeadGrad, chunkSize: 5 });
        assertClose([g.loss], [c.loss], { rtol: 1e-5, atol: 1e-6, name: 'loss' });
        assert.equal(g.dHidden.dtype, dtype);
        const dh = c.dHidden.toFloat32Array();
        assertClose(f32(g.dHidden), dh, { rtol: 0, atol: GRAD[dtype] * maxAbs(dh), name: `dHidden lmHeadGrad ${lmHeadGrad}` });
        if (lmHeadGrad) assertClose(f32(g.dLmHead!), c.dLmHead!.data, { rtol: 0, atol: GRAD[dtype] * maxAbs(c.dLmHead!.data), name: 'dLmHead' });
        else assert.equal(g.dLmHead, undefined);
      }
      const ce = ops.linearCrossEntropy(hidden, lmHead, labels, { chunkSize: 6 });
      const ge = ops.linearCrossEntropy(dev.hidden, dev.lmHead, dev.labels, { chunkSize: 6 });
      assertClose([ge.loss], [ce.loss], { rtol: 1e-5, atol: 1e-6, name: 'CE loss' });
      assert.equal(ge.count, ce.count);
      const dh = ce.dHidden.toFloat32Array();
      assertClose(f32(ge.dHidden), dh, { rtol: 0, atol: GRAD[dtype] * maxAbs(dh), name: 'CE dHidden' });
      assertClose(f32(ge.dLmHead!), ce.dLmHead!.data, { rtol: 0, atol: GRAD[dtype] * maxAbs(ce.dLmHead!.data), name: 'CE dLmHead' });
    });
  }
});
