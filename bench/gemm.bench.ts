/**
 * The CPU GEMM core (native/cpp/ops/gemm.h) in the three layouts of a linear layer, against PyTorch
 * CPU (bench/gemm_torch.py, when `python3 -c 'import torch'` works; MMPREF_BENCH_PYTHON picks the
 * interpreter) and against a compute ceiling (_gemmCeiling: an FMA- or vdpbf16ps-bound loop on every
 * thread), all interleaved round by round in one run because this machine is shared and noisy.
 * Linear y = x W^T with x [T, Hin], W [Hout, Hin]: forward NT (M = T, N = Hout, K = Hin), input
 * gradient NN (M = T, N = Hin, K = Hout), weight gradient TN (M = Hout, N = Hin, K = T). Output in the
 * input dtype for both sides. Reported: GFLOP/s (median of the rounds), x torch, x ceiling, load,
 * and the same per CPU-second (flops / process CPU time: robust when other jobs share the cores;
 * torch's OpenMP spin-waits count against it).
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { empty, numThreads, type FloatDType, type Tensor } from '../lib';
import { native } from '../lib/native';
import { fillRandom, type BenchContext } from './harness';

type Layout = 'NT' | 'NN' | 'TN';
const raw = native as unknown as {
  _gemm(a: Tensor, b: Tensor, c: Tensor, bias: null, ta: boolean, tb: boolean, acc: boolean, isa: number, async: false): void;
  _gemmIsa(): string;
  _gemmCeiling(bf16: boolean): { gflops: number; gflopsPerCpuSecond: number };
};

class Torch {
  private lines: AsyncIterator<string>;
  private constructor(private child: ChildProcessByStdio<Writable, Readable, null>, public version: string, lines: AsyncIterator<string>) {
    this.lines = lines;
  }
  static async start(): Promise<Torch | null> {
    const py = process.env.MMPREF_BENCH_PYTHON ?? 'python3';
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) return null;
    const child = spawn(py, [path.join(__dirname, 'gemm_torch.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = (await lines.next()).value as string;
    return new Torch(child, first.split(' ')[1] ?? '?', lines);
  }
  async ask(line: string): Promise<string> {
    this.child.stdin.write(line + '\n');
    return (await this.lines.next()).value as string;
  }
  stop(): void {
    this.child.stdin.write('quit\n');
    this.child.stdin.end();
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

export async function run(ctx: BenchContext): Promise<void> {
  if (ctx.device !== 'cpu') return;
  const torch = await Torch.start();
  const threads = numThreads();
  const load0 = os.loadavg()[0]!;
  console.log(`# gemm: ISA ${raw._gemmIsa()}, ${threads} threads, torch ${torch ? torch.version : 'not importable'}, load ${load0.toFixed(1)}`);
  // [T, Hin, Hout]
  const shapes: [number, number, number][] = ctx.quick ? [[512, 2048, 2048]] : [[512, 2048, 2048], [1024, 4096, 4096], [2048, 2048, 5632]];
  const rounds = ctx.quick ? 3 : 5;
  // dtypes where torch was > 10x slower than mmpref on a shape (no native kernel on this CPU): later
  // shapes skip torch (one NN bfloat16 call took a minute on an AVX2-only Zen 3)
  const torchSlow = new Set<string>();
  for (const dtype of ['float32', 'bfloat16'] as FloatDType[])
    for (const [t, hin, hout] of shapes)
      for (const layout of ['NT', 'NN', 'TN'] as Layout[]) {
        const [m, n, k] = layout === 'NT' ? [t, hout, hin] : layout === 'NN' ? [t, hin, hout] : [hout, hin, t];
        const a = empty(layout === 'TN' ? [k, m] : [m, k], dtype);
        const b = empty(layout === 'NT' ? [n, k] : [k, n], dtype);
        const c = empty([m, n], dtype);
        fillRandom(a, 1);
        fillRandom(b, 1);
        const call = () => raw._gemm(a, b, c, null, layout === 'TN', layout === 'NT', false, -1, false);
        call();
        const useTorch = torch && !torchSlow.has(dtype) ? torch : null;
        if (useTorch) await useTorch.ask(`setup ${layout} ${dtype} ${m} ${n} ${k} ${threads}`);
        const ours: number[] = [];
        const oursCpu: number[] = [];
        const theirs: number[] = [];
        const theirsCpu: number[] = [];
        const ceil: number[] = [];
        const ceilCpu: number[] = [];
        for (let r = 0; r < rounds; r++) {
          const c0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();
          call();
          ours.push(Number(process.hrtime.bigint() - t0) / 1e6);
          const cu = process.cpuUsage(c0);
          oursCpu.push((cu.user + cu.system) / 1e3);
          // NB: torch without native bfloat16 GEMM (no AVX512-BF16) can be 100x slower: one round is enough
          if (useTorch && (r === 0 || theirs[0]! < 10 * ours[0]!)) {
            const [wall, cpu] = (await useTorch.ask('time')).split(' ').map(Number);
            theirs.push(wall!);
            theirsCpu.push(cpu!);
          }
          const cl = raw._gemmCeiling(dtype === 'bfloat16');
          ceil.push(cl.gflops);
          ceilCpu.push(cl.gflopsPerCpuSecond);
        }
        const flop = 2 * m * n * k;
        const ms = median(ours);
        const gf = flop / ms / 1e6;
        const gfCpu = flop / median(oursCpu) / 1e6;
        const ceiling = median(ceil);
        const ceilingCpu = median(ceilCpu);
        const torchMs = useTorch ? median(theirs) : undefined;
        const torchCpu = useTorch ? flop / median(theirsCpu) / 1e6 : 0;
        if (torchMs && torchMs > 10 * ms) torchSlow.add(dtype);
        const note =
          `${gf.toFixed(1)} GFLOP/s, ${(gf / ceiling).toFixed(2)}x ceiling ${ceiling.toFixed(0)}` +
          (torchMs ? `, torch ${(flop / torchMs / 1e6).toFixed(1)} (${(torchMs / ms).toFixed(2)}x)` : '') +
          ` | per CPU-s: ${gfCpu.toFixed(1)}, ${(gfCpu / ceilingCpu).toFixed(2)}x ceiling ${ceilingCpu.toFixed(0)}` +
          (torchMs ? `, torch ${torchCpu.toFixed(1)} (${(gfCpu / torchCpu).toFixed(2)}x)` : torch ? ', torch skipped (>10x slower before)' : '') +
          ` | load ${os.loadavg()[0]!.toFixed(1)}`;
        const item = dtype === 'float32' ? 4 : 2;
        ctx.record({
          op: '_gemm',
          case: `${layout} M${m} N${n} K${k} ${dtype}`,
          device: 'cpu',
          ms,
          bytes: (m * k + k * n + m * n) * item,
          ceiling: 'read',
          baseline: torchMs ? { name: `torch ${useTorch!.version}`, ms: torchMs } : undefined,
          note,
        });
      }
  torch?.stop();
}
