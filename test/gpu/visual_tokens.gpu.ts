import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, noise, tensor, type FloatDType, type Tensor } from '../../lib';
import { expectError, randomArray, rng } from '../helpers';
import { skip } from './gpu';
import { maxUlp } from './noise_util';

const TOL: Record<FloatDType, { rtol: number; atol: number }> = {
  float32: { rtol: 2e-6, atol: 2e-6 },
  float16: { rtol: 2 ** -10, atol: 6e-8 },
  bfloat16: { rtol: 2 ** -7, atol: 1e-30 },
};

function bitsOf(t: Tensor): Uint8Array {
  const d = t.to('cpu').data as Float32Array | Uint16Array;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

describe('noise.visualTokens CUDA vs CPU', { skip }, () => {
  const shapes: [number, number, number][] = [[2, 7, 33], [3, 5, 64], [4, 576, 1024], [2, 9, 4099], [1, 3, 2]];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
    for (const [B, N, D] of shapes)
      for (const scale of ['absolute', 'token-rms', 'token-std'] as const)
        it(`${dtype} [${B}, ${N}, ${D}] ${scale}`, () => {
          const x = tensor(Float32Array.from(randomArray(B * N * D, rng(B + N + D), 2)), [B, N, D], { dtype });
          const mask = Array.from({ length: B * N }, (_, i) => i % 5 !== 2);
          const opts = { mask, scale, prob: 0.8, rows: Array.from({ length: B }, (_, b) => b !== 1), seed: 11, offset: 3 };
          const cpu = noise.visualTokens(x, opts).out;
          const gx = x.to('cuda');
          const gpu = noise.visualTokens(gx, { ...opts, mask: tensor(mask, [B, N], { dtype: 'bool' }).to('cuda') }).out;
          assert.equal(gpu.device, 'cuda');
          // y = x + s z in float32, rounded once to the dtype. With a relative scale, s comes from a
          // float32 reduction whose order differs (block tree vs CPU lanes): up to 8 float32 ulps
          // of s, which shows where x and s z cancel: allow 8 * 2^-24 * (|x| + |s z|) beyond the
          // dtype's own rounding (the tolerance of the comparison).
          const got = gpu.to('cpu').toFloat32Array();
          const want = cpu.toFloat32Array();
          const xf = x.toFloat32Array();
          const cancel = scale === 'absolute' ? 0 : 8 * 2 ** -24;
          const tol = TOL[dtype];
          let bad = 0;
          for (let i = 0; i < want.length; i++) {
            const bound = tol.atol + tol.rtol * Math.abs(want[i]!) + cancel * (Math.abs(xf[i]!) + Math.abs(want[i]! - xf[i]!));
            if (!(Math.abs(got[i]! - want[i]!) <= bound)) {
              if (bad++ < 3) console.log(`# [${i}] got ${got[i]} expected ${want[i]} (x ${xf[i]}, bound ${bound})`);
            }
          }
          assert.equal(bad, 0, `${dtype} ${scale}: ${bad}/${want.length} outside the bound`);
          if (scale === 'absolute' && dtype === 'float32') assert.ok(maxUlp(gpu.to('cpu').data as Float32Array, cpu.data as Float32Array) <= 2);
          // untouched tokens: bit for bit, out of place and in place
          const xb = bitsOf(x);
          const gb = bitsOf(gpu);
          const es = dtype === 'float32' ? 4 : 2;
          for (let t = 0; t < B * N; t++)
            if (!mask[t] || Math.floor(t / N) === 1)
              assert.deepEqual(gb.subarray(t * D * es, (t + 1) * D * es), xb.subarray(t * D * es, (t + 1) * D * es), `token ${t}`);
          noise.visualTokens(gx, { ...opts, inPlace: true });
          assert.deepEqual(bitsOf(gx), gb, 'in place');
          gx.dispose();
          gpu.dispose();
        });

  it('async equals sync; sigma = 0 is the identity; device mismatch is a typed error', async () => {
    const x = tensor(Float32Array.from(randomArray(2 * 64 * 256, rng(1))), [2, 64, 256], { dtype: 'bfloat16' }).to('cuda');
    const a = noise.visualTokens(x, { seed: 2, spans: [[[3, 40]], [[0, 64]]] }).out;
    const b = (await noise.visualTokensAsync(x, { seed: 2, spans: [[[3, 40]], [[0, 64]]] })).out;
    assert.deepEqual(bitsOf(b), bitsOf(a));
    assert.deepEqual(bitsOf(noise.visualTokens(x, { sigma: 0 }).out), bitsOf(x));
    expectError(() => noise.visualTokens(x, { mask: empty([2, 64], 'bool') }), 'ERR_DEVICE', /same device/);
    expectError(() => noise.visualTokens(x, { out: empty([2, 64, 256], 'bfloat16') }), 'ERR_DEVICE');
  });
});
