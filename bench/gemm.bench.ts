/**
 * The CPU GEMM core (native/cpp/ops/gemm.h) in the three layouts of a linear layer, against PyTorch
 * CPU (bench/gemm_torch.py, when `python3 -c 'import torch'` works; MMPREF_BENCH_PYTHON picks the
 * interpreter) and against a compute ceiling (_gemmCeiling: an FMA- or vdpbf16ps-bound loop on every
 * thread), all interleaved round by round in one run because this machine is shared and noisy.
 * Linear y = x W^T with x [T, Hin], W [Hout, Hin]: forward NT (M = T, N = Hout, K = Hin), input
 * gradient NN (M = T, N = Hin, K = Hout), weight gradient TN (M = Hout, N = Hin, K = T). Output in the
 * input dtype for both sides. Reported: GFLOP/s (median of the rounds), x torch, x ceiling, load.
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
  _gemmCeiling(bf16: boolean): number;
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
        if (torch) await torch.ask(`setup ${layout} ${dtype} ${m} ${n} ${k} ${threads}`);
        const ours: number[] = [];
        const theirs: number[] = [];
        const ceil: number[] = [];
        for (let r = 0; r < rounds; r++) {
          const t0 = process.hrtime.bigint();
          call();
          ours.push(Number(process.hrtime.bigint() - t0) / 1e6);
          // NB: torch without native bfloat16 GEMM (no AVX512-BF16) can be 100x slower: one round is enough
          if (torch && (r === 0 || theirs[0]! < 10 * ours[0]!)) theirs.push(Number(await torch.ask('time')));
          ceil.push(raw._gemmCeiling(dtype === 'bfloat16'));
        }
        const flop = 2 * m * n * k;
        const ms = median(ours);
        const gf = flop / ms / 1e6;
        const ceiling = median(ceil);
        const torchMs = torch ? median(theirs) : undefined;
        const note =
          `${gf.toFixed(1)} GFLOP/s, ${(gf / ceiling).toFixed(2)}x ceiling ${ceiling.toFixed(0)}` +
          (torchMs ? `, torch ${(flop / torchMs / 1e6).toFixed(1)} GFLOP/s (${(torchMs / ms).toFixed(2)}x)` : '') +
          `, load ${os.loadavg()[0]!.toFixed(1)}`;
        const item = dtype === 'float32' ? 4 : 2;
        ctx.record({
          op: '_gemm',
          case: `${layout} M${m} N${n} K${k} ${dtype}`,
          device: 'cpu',
          ms,
          bytes: (m * k + k * n + m * n) * item,
          ceiling: 'read',
          baseline: torchMs ? { name: `torch ${torch!.version}`, ms: torchMs } : undefined,
          note,
        });
      }
  torch?.stop();
}
