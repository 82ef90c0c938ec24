/** Demo stage: log-sum-exp over the vocabulary of every position of a batch (B=8, T=512, V=32000). */
import { cudaAvailable, empty, ops } from '../../lib';
import { decodeToFloat32 } from '../../lib/dtype';
import { fillRandom } from '../../bench/harness';
import { logSumExpRef } from '../../test/reference/log_sum_exp';
import { ms, section } from './util';

export async function run(): Promise<void> {
  section('ops.logSumExp over [8*512, 32000] bfloat16 logits');
  const rows = 8 * 512;
  const V = 32000;
  const x = empty([rows, V], 'bfloat16');
  fillRandom(x);
  let t0 = process.hrtime.bigint();
  const y = ops.logSumExp(x);
  const cpuMs = ms(t0);
  t0 = process.hrtime.bigint();
  const yAsync = await ops.logSumExpAsync(x);
  const asyncMs = ms(t0);
  const sub = 64;
  const slice = decodeToFloat32('bfloat16', x.data.subarray(0, sub * V));
  t0 = process.hrtime.bigint();
  const ref = logSumExpRef(slice, sub, V);
  const tsMs = (ms(t0) * rows) / sub;
  let maxErr = 0;
  for (let r = 0; r < sub; r++) maxErr = Math.max(maxErr, Math.abs(y.data[r]! - ref[r]!) / Math.abs(ref[r]!));
  console.log(`CPU sync  ${cpuMs.toFixed(1)} ms (${(x.byteLength / cpuMs / 1e6).toFixed(1)} GB/s), async ${asyncMs.toFixed(1)} ms, identical: ${y.data.every((v, i) => Object.is(v, yAsync.data[i]))}`);
  console.log(`naive TS  ${tsMs.toFixed(0)} ms (estimated from ${sub} rows): mmpref is ${(tsMs / cpuMs).toFixed(0)}x faster; max rel. error vs float64 ${maxErr.toExponential(1)}`);
  if (cudaAvailable()) {
    const gx = x.to('cuda');
    ops.logSumExp(gx).dispose();
    t0 = process.hrtime.bigint();
    const gy = ops.logSumExp(gx);
    const gpuMs = ms(t0);
    const back = gy.to('cpu').data;
    let d = 0;
    for (let r = 0; r < rows; r++) d = Math.max(d, Math.abs(back[r]! - y.data[r]!));
    console.log(`CUDA      ${gpuMs.toFixed(2)} ms (${(x.byteLength / gpuMs / 1e6).toFixed(0)} GB/s), max |GPU - CPU| ${d.toExponential(1)}`);
    gx.dispose();
    gy.dispose();
  }
}
