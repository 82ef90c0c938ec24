#!/usr/bin/env bash
# GPU checks in one call, sized for a short slot on one H100 (8 minutes in all), on a machine with
# no node_modules (the lent device machine, or any GPU box):
#   npm run build && bash ../shared/device/pack.sh build/Release dist node_modules/node-gyp-build
#   # then, on the GPU machine, from the project root:
#   source .device/env.sh && bash scripts/device-check.sh [tests] [bench] [torch] [demo]
# Parts (default: tests bench torch; demo only when named), each under its own time limit (seconds,
# overridable); the default limits add up to 450 s, inside the 480 s budget:
#   tests  node --test dist/test/gpu/*.gpu.js: every CUDA kernel against the CPU     (DC_TESTS_S=210)
#   bench  node dist/bench/run.js --device cuda (CUDA benchmarks)                     (DC_BENCH_S=150)
#   torch  python3 torch_baselines.py --device cuda (PyTorch eager side by side)      (DC_TORCH_S=90)
#          from $TORCH_BASELINES, .device/torch_baselines.py or ../shared/device/
#   demo   node dist/examples/demo.js                                                 (DC_DEMO_S=60)
# Logs go to $OUT (default ./device-out). The last line is one summary:
#   device-check: PASS|FAIL gpu=<name> tests=<pass>/<total> fail=<n> skipped=<n> demo=.. bench=.. torch=.. time=<s>s
# It FAILS (exit 1) when CUDA is unavailable, when any GPU test fails, is skipped, cancelled or
# todo, when no GPU test ran, when a requested part fails, times out or is missing, or when the
# whole run exceeds DC_BUDGET_S (480). It can only pass on a GPU where every GPU test ran and passed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-./device-out}
mkdir -p "$OUT"
START=$(date +%s)
what=${*:-tests bench torch}
for w in $what; do
  case $w in tests | demo | bench | torch) ;; *) echo "device-check: unknown part '$w' (tests, demo, bench, torch)" >&2; exit 2 ;; esac
done
wants() { [[ " $what " == *" $1 "* ]]; }
fail=()
NODE=${NODE:-node}

# ---- preflight: a GPU, a driver, and an addon that sees CUDA ----
gpu=none
if command -v nvidia-smi >/dev/null 2>&1 &&
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv >"$OUT/gpu.txt" 2>&1; then
  cat "$OUT/gpu.txt"
  gpu=$(sed -n 2p "$OUT/gpu.txt" | cut -d, -f1 | tr ' ' '_')
else
  echo "nvidia-smi: not available"
  fail+=("no nvidia-smi")
fi
if [ ! -f dist/lib/index.js ]; then
  echo "dist/ is missing: run npm run build:ts (or pack it with ../shared/device/pack.sh)"
  fail+=("no dist")
else
  "$NODE" dist/lib/cli.js info 2>&1 | tee -a "$OUT/gpu.txt"
  cuda=$("$NODE" -e "
    const b = require('./dist/lib').backend();
    console.log(b.cuda.available ? 'yes' : 'no: ' + (b.cuda.reason || 'unknown'));" 2>&1 | tail -1)
  [ "$cuda" = yes ] || { echo "CUDA unavailable: $cuda"; fail+=("cuda unavailable (${cuda#no: })"); }
fi

# ---- tests: every GPU test must run and pass; a skip is a failure ----
tests="-"
if wants tests; then
  shopt -s nullglob
  files=(dist/test/gpu/*.gpu.js)
  shopt -u nullglob
  if [ ${#files[@]} -eq 0 ]; then
    fail+=("no GPU test files in dist/test/gpu")
  else
    timeout "${DC_TESTS_S:-210}" "$NODE" --test --test-reporter=spec --test-reporter-destination="$OUT/gpu-tests.log" \
      --test-reporter=tap --test-reporter-destination="$OUT/gpu-tests.tap" "${files[@]}" >/dev/null 2>"$OUT/gpu-tests.stderr"
    rc=$?
    count() { sed -n "s/^# $1 \([0-9][0-9]*\)$/\1/p" "$OUT/gpu-tests.tap" 2>/dev/null | tail -1; }
    total=$(count tests) pass=$(count pass) nfail=$(count fail) skipped=$(count skipped) todo=$(count todo) cancelled=$(count cancelled)
    total=${total:-0} pass=${pass:-0} nfail=${nfail:-?} skipped=${skipped:-?} todo=${todo:-?} cancelled=${cancelled:-?}
    # a skipped describe() is a skipped suite, not counted in "# skipped": count every SKIP directive
    skips=$(grep -cE '^ *(not )?ok [0-9]+ .*# SKIP' "$OUT/gpu-tests.tap" 2>/dev/null)
    [ "${skips:-0}" -gt 0 ] 2>/dev/null && [ "$skipped" = 0 ] && skipped=$skips
    tests="$pass/$total fail=$nfail skipped=$skipped"
    echo "gpu tests (${#files[@]} files): $tests todo=$todo cancelled=$cancelled exit=$rc"
    [ "$rc" = 124 ] && fail+=("gpu tests timed out after ${DC_TESTS_S:-210}s")
    [ "$rc" = 0 ] || fail+=("gpu tests exit $rc")
    [ "$total" -gt 0 ] 2>/dev/null || fail+=("no GPU test ran")
    [ "$nfail" = 0 ] || fail+=("$nfail GPU tests failed")
    [ "$skipped" = 0 ] || fail+=("$skipped GPU tests skipped")
    [ "$todo" = 0 ] && [ "$cancelled" = 0 ] || fail+=("GPU tests todo=$todo cancelled=$cancelled")
    [ "$pass" = "$total" ] || fail+=("only $pass of $total GPU tests passed")
    grep -m3 -E "^# Subtest|skip|SKIP" "$OUT/gpu-tests.tap" | head -3 | sed 's/^/  /'
    grep -B2 -A25 "✖" "$OUT/gpu-tests.log" 2>/dev/null | head -120
  fi
fi

part() { # NAME LIMIT CMD...: runs a part under `timeout`, logs to $OUT/NAME.log, prints its status word
  local name=$1 limit=$2 rc
  shift 2
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  if [ "$rc" = 0 ]; then echo ok; elif [ "$rc" = 124 ]; then echo timeout; else echo "exit$rc"; fi
}

demo="-"
if wants demo; then
  demo=$(part demo "${DC_DEMO_S:-60}" "$NODE" dist/examples/demo.js)
  tail -15 "$OUT/demo.log"
  [ "$demo" = ok ] || fail+=("demo $demo")
fi

bench="-"
if wants bench; then
  bench=$(part bench-cuda "${DC_BENCH_S:-150}" "$NODE" dist/bench/run.js --device cuda --json "$OUT/bench-cuda.json")
  grep -E "^\| *cuda|^#" "$OUT/bench-cuda.log" | head -80
  # the bench exits 0 when it finds no GPU ("GPU benchmarks skipped"): require CUDA rows
  rows=$(grep -cE '^\| *cuda' "$OUT/bench-cuda.log" 2>/dev/null)
  [ "$bench" != ok ] || [ "${rows:-0}" -gt 0 ] || bench=no-cuda-rows
  [ "$bench" = ok ] || { tail -15 "$OUT/bench-cuda.log"; fail+=("cuda bench $bench"); }
fi

torch="-"
if wants torch; then
  tb=${TORCH_BASELINES:-}
  for c in .device/torch_baselines.py ../shared/device/torch_baselines.py; do [ -n "$tb" ] || { [ -f "$c" ] && tb=$c; }; done
  if [ -z "$tb" ] || [ ! -f "$tb" ]; then
    torch=missing
    fail+=("torch_baselines.py not found (TORCH_BASELINES, .device/, ../shared/device/)")
  elif ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >"$OUT/torch-import.log" 2>&1; then
    torch=no-torch-cuda
    fail+=("python3 cannot import torch with CUDA ($(tail -1 "$OUT/torch-import.log"))")
  else
    torch=$(PYTHONUNBUFFERED=1 part torch "${DC_TORCH_S:-90}" python3 "$tb" --device cuda --json "$OUT/torch.json")
    tail -20 "$OUT/torch.log"
    [ "$torch" = ok ] || fail+=("torch baselines $torch")
  fi
fi

elapsed=$(($(date +%s) - START))
[ "$elapsed" -le "${DC_BUDGET_S:-480}" ] || fail+=("took ${elapsed}s, over the ${DC_BUDGET_S:-480}s budget")
[ ${#fail[@]} -eq 0 ] || printf 'device-check failure: %s\n' "${fail[@]}"
verdict=PASS
[ ${#fail[@]} -eq 0 ] || verdict=FAIL
echo "device-check: $verdict gpu=$gpu tests=$tests demo=$demo bench=$bench torch=$torch time=${elapsed}s" | tee "$OUT/summary.txt"
[ "$verdict" = PASS ]
