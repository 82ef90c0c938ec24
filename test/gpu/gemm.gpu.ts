// The CUDA GEMM core (native/cuda/gemm_tc.cuh through the internal _gemm binding): tensor cores
// for float16 / bfloat16, SIMT for float32, in the three layouts, against the float64 reference
// and the CPU kernel.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { empty, tensor, type FloatDType, type Tensor } from '../../lib';
import { decodeToFloat32 } from '../../lib/dtype';
import { native } from '../../lib/native';
import { randomArray, rng } from '../helpers';
import { gemmRef } from '../reference/gemm';
import { skip } from './gpu';

type GemmFn = (a: Tensor, b: Tensor, c: Tensor, bias: Tensor | null, ta: boolean, tb: boolean, acc: boolean, isa: number, async: boolean) => void;
const gemm = (native as unknown as { _gemm: GemmFn })._gemm;
const U: Record<FloatDType, number> = { float32: 2 ** -24, float16: 2 ** -11, bfloat16: 2 ** -8 };

describe('_gemm CUDA vs float64 reference and CPU', { skip }, () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [7, 17, 2], [13, 33, 257], [64, 64, 32], [145, 50, 300], [250, 70, 530]];
  for (const layout of ['NT', 'NN', 'TN'] as const)
    for (const dtype of ['float32', 'float16', 'bfloat16'] as FloatDType[])
      it(`${layout} ${dtype}`, () => {
        const transA = layout === 'TN';
        const transB = layout === 'NT';
        for (const [m, n, k] of shapes) {
          const a = tensor(Float32Array.from(randomArray(m * k, rng(m + k))), transA ? [k, m] : [m, k], { dtype });
          const b = tensor(Float32Array.from(randomArray(n * k, rng(n + k), 0.5)), transB ? [n, k] : [k, n], { dtype });
          const bias = tensor(Float32Array.from(randomArray(n, rng(n))), [n]);
          const c0 = tensor(Float32Array.from(randomArray(m * n, rng(m))), [m, n]);
          const ref = gemmRef(decodeToFloat32(dtype, a.data as Float32Array), decodeToFloat32(dtype, b.data as Float32Array), m, n, k, {
            transA, transB, bias: bias.data as Float32Array, c0: c0.data as Float32Array,
          });
          // accumulate + float32 bias into float32
          const g = c0.to('cuda');
          gemm(a.to('cuda'), b.to('cuda'), g, bias.to('cuda'), transA, transB, true, -1, false);
          const c = tensor((c0.data as Float32Array).slice(), [m, n]);
          gemm(a, b, c, bias, transA, transB, true, -1, false);
          const got = g.toFloat32Array();
          // NB: 2 roundings per step of at most 2u each (tensor-core adders may truncate): (4k + 8) u scale.
          // The CUDA emulator (native/cuda/emu/mma.h) sums k products in order, one round-to-nearest
          // per step (float16 / bfloat16 products are exact in float32), then + c0 and + bias: at most
          // gamma_(k+2) scale ~ (k + 2) u scale; the SIMT kernel's fmaf chain has the same bound. Both
          // fit within the tensor-core bound, which does not depend on the summation order.
          for (let i = 0; i < got.length; i++) {
            const tol = (4 * k + 8) * U.float32 * ref.scale[i]!;
            assert.ok(Math.abs(got[i]! - ref.c[i]!) <= tol, `[${m}, ${n}, ${k}] [${i}] gpu ${got[i]} ref ${ref.c[i]} (tol ${tol})`);
            assert.ok(Math.abs(got[i]! - c.data[i]!) <= 2 * tol, `[${m}, ${n}, ${k}] [${i}] gpu ${got[i]} cpu ${c.data[i]}`);
          }
          // plain product rounded once to the input dtype
          const h = empty([m, n], dtype).to('cuda');
          gemm(a.to('cuda'), b.to('cuda'), h, null, transA, transB, false, -1, false);
          const plain = gemmRef(decodeToFloat32(dtype, a.data as Float32Array), decodeToFloat32(dtype, b.data as Float32Array), m, n, k, { transA, transB });
          const hv = h.toFloat32Array();
          for (let i = 0; i < hv.length; i++) {
            const sum = (4 * k + 8) * U.float32 * plain.scale[i]!;
            const tol = sum + (dtype === 'float32' ? 0 : U[dtype] * (Math.abs(plain.c[i]!) + sum));
            assert.ok(Math.abs(hv[i]! - plain.c[i]!) <= tol, `${dtype} out [${i}] gpu ${hv[i]} ref ${plain.c[i]} (tol ${tol})`);
          }
        }
      });
});
