/**
 * Shared setup for test/gpu/*.gpu.ts: these run under Node's built-in runner against compiled JS
 * (node --test dist/test/gpu/*.gpu.js), on the GPU machine that has no node_modules, and from
 * test/cuda.test.ts when a GPU is present. CUDA results are compared with the CPU kernels.
 */
import { backend, cudaAvailable, tensor, type DType, type FloatDType, type Tensor } from '../../lib';
import { randomArray, rng } from '../helpers';

export const skip: string | false = cudaAvailable() ? false : `no CUDA: ${backend().cuda.reason}`;
if (!skip) {
  const d = backend().cuda.devices[0]!;
  console.log(`# CUDA device: ${d.name} (compute ${d.computeCapability}, ${d.multiProcessors} SMs)`);
}

/**
 * Size knob for slow devices (the CUDA emulator: scripts/test-cuda-emu.sh sets 0.25):
 * MMPREF_GPU_TEST_SCALE scales the batch-like dimensions (rows, heads) of the largest cases; the
 * dimensions that pick a code path (vocabulary, sequence and key lengths, head size) never shrink.
 */
export const scale: number = Math.min(1, Math.max(0.01, Number(process.env.MMPREF_GPU_TEST_SCALE ?? 1) || 1));
export const scaled = (n: number): number => Math.max(1, Math.round(n * scale));

/** Random logits [B, T, V] (values in [-4, 4)) and labels [B, T] (about `ignored` of them -100), and the generator. */
export function logitsData(B: number, T: number, V: number, dtype: FloatDType, seed: number, ignored = 0.2) {
  const r = rng(seed);
  const logits = tensor(Float32Array.from(randomArray(B * T * V, r, 4)), [B, T, V], { dtype });
  const labels = tensor(Int32Array.from({ length: B * T }, () => (r() < ignored ? -100 : Math.floor(r() * V))), [B, T]);
  return { logits, labels, r };
}

/** A copy on the CPU. */
export const cpu = <D extends DType>(t: Tensor<D>): Tensor<D> => t.to('cpu');
