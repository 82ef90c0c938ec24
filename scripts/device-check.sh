#!/usr/bin/env bash
# GPU checks on a machine with no node_modules (the lent device machine, or any GPU box):
#   source .device/env.sh && bash scripts/device-check.sh [tests] [bench] [torch] [demo]
# Runs the CUDA-vs-CPU tests (node --test on compiled JS), the demo, the CUDA benchmarks and the
# PyTorch eager baselines (.device/torch_baselines.py when present), logging to $OUT (or ./device-out).
set -uo pipefail
OUT=${OUT:-./device-out}
mkdir -p "$OUT"
what=${*:-tests demo bench torch}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
node dist/lib/cli.js info | tee -a "$OUT/gpu.txt"
rc=0
if [[ $what == *tests* ]]; then
  node --test --test-reporter=spec dist/test/gpu/*.gpu.js >"$OUT/gpu-tests.log" 2>&1 || rc=1
  grep -E "^ℹ (tests|pass|fail|skipped)" "$OUT/gpu-tests.log"
  grep -B2 -A25 "✖" "$OUT/gpu-tests.log" | head -150
fi
if [[ $what == *demo* ]]; then
  timeout 240 node dist/examples/demo.js >"$OUT/demo.log" 2>&1 || { rc=1; echo "demo failed"; }
  tail -30 "$OUT/demo.log"
fi
if [[ $what == *bench* ]]; then
  timeout 300 node dist/bench/run.js --device cuda --json "$OUT/bench-cuda.json" >"$OUT/bench-cuda.log" 2>&1 || { rc=1; echo "bench failed"; }
  grep -E "^cuda|^#" "$OUT/bench-cuda.log" | head -80
fi
if [[ $what == *torch* ]] && [ -f .device/torch_baselines.py ]; then
  PYTHONUNBUFFERED=1 timeout 200 python3 .device/torch_baselines.py --json "$OUT/torch.json" >"$OUT/torch.log" 2>&1 || echo "torch baselines failed"
  cat "$OUT/torch.log" | tail -20
fi
exit $rc
