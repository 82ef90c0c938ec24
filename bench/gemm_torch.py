"""PyTorch CPU side of bench/gemm.bench.ts (for measuring only; mmpref never needs Python).

Reads lines `layout dtype M N K threads` on stdin (layout NT: a [M, K] @ b[N, K].T; NN: a [M, K] @ b [K, N];
TN: a[K, M].T @ b [K, N]; output in the input dtype, as mmpref's), allocates the operands once, and for each
line `time` runs one call and prints its wall and process-CPU milliseconds; `quit` exits. Prints `ready <torch version>` first.
"""
import sys
import time

import torch

ops = None
print("ready", torch.__version__, flush=True)
for line in sys.stdin:
    parts = line.split()
    if not parts or parts[0] == "quit":
        break
    if parts[0] == "setup":
        layout, dtype, m, n, k, threads = parts[1], parts[2], *map(int, parts[3:7])
        torch.set_num_threads(threads)
        dt = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
        shape_a = [k, m] if layout == "TN" else [m, k]
        shape_b = [n, k] if layout == "NT" else [k, n]
        a = torch.randn(shape_a).to(dt)
        b = torch.randn(shape_b).to(dt)
        if layout == "NT":
            ops = lambda: torch.nn.functional.linear(a, b)
        elif layout == "NN":
            ops = lambda: torch.mm(a, b)
        else:
            ops = lambda: torch.mm(a.t(), b)
        ops()
        print("ok", flush=True)
    elif parts[0] == "time":
        t0, c0 = time.perf_counter(), time.process_time()
        ops()
        print(f"{(time.perf_counter() - t0) * 1e3:.4f} {(time.process_time() - c0) * 1e3:.4f}", flush=True)
