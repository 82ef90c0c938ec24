/**
 * Shared setup for test/gpu/*.gpu.ts: these run under Node's built-in runner against compiled JS
 * (node --test dist/test/gpu/*.gpu.js), on the GPU machine that has no node_modules, and from
 * test/cuda.test.ts when a GPU is present. CUDA results are compared with the CPU kernels.
 */
import { backend, cudaAvailable } from '../../lib';

export const skip: string | false = cudaAvailable() ? false : `no CUDA: ${backend().cuda.reason}`;
if (!skip) {
  const d = backend().cuda.devices[0]!;
  console.log(`# CUDA device: ${d.name} (compute ${d.computeCapability}, ${d.multiProcessors} SMs)`);
}
