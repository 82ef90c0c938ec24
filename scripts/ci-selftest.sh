#!/usr/bin/env bash
# Self-test of CI's test verdict (scripts/vitest-verdict.js, as .ci/run uses it): runs the repo's
# vitest, with the repo's vitest.config.ts settings (forks pool), on throw-away test files and
# checks that each broken run is judged red and a clean one green:
#   clean       one passing test                          -> green
#   segfault    a worker killed by SIGSEGV (native crash)  -> red
#   abort       a worker that aborts (sanitizer report)    -> red
#   import      a file whose import fails                  -> red
#   failing     a failing assertion                        -> red
#   empty       no test at all, even with passWithNoTests  -> red
#   floor       fewer passing tests than the floor         -> red
# Exits non-zero if any verdict is wrong. Takes a few seconds (the runs go in parallel).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d "$ROOT/.ci-selftest.XXXXXX")  # inside the repo so that vitest resolves
trap 'rm -rf "$TMP"' EXIT

write_case() { # name, then file=content pairs
  local dir=$TMP/$1; shift
  mkdir -p "$dir"
  cat >"$dir/vitest.config.ts" <<CFG
import base from '$ROOT/vitest.config';
export default { ...base, test: { ...base.test, include: ['*.test.mjs'], passWithNoTests: true } };
CFG
  while [ $# -gt 0 ]; do printf '%s\n' "${1#*=}" >"$dir/${1%%=*}"; shift; done
}
ok="import { test, expect } from 'vitest'; test('ok', () => expect(1 + 1).toBe(2));"
write_case clean a.test.mjs="$ok"
write_case segfault a.test.mjs="$ok" b.test.mjs="import { test } from 'vitest'; test('crash', () => { process.kill(process.pid, 'SIGSEGV'); });"
write_case abort a.test.mjs="$ok" b.test.mjs="import { test } from 'vitest'; test('abort', () => { process.abort(); });"
write_case import a.test.mjs="$ok" b.test.mjs="import { test } from 'vitest'; import { nope } from './missing.mjs'; test('x', () => nope);"
write_case failing a.test.mjs="$ok" b.test.mjs="import { test, expect } from 'vitest'; test('bad', () => expect(1).toBe(2));"
write_case empty README=none
write_case floor a.test.mjs="$ok"

declare -A want=([clean]=0 [segfault]=1 [abort]=1 [import]=1 [failing]=1 [empty]=1 [floor]=1)
declare -A floor=([floor]=2)
for c in "${!want[@]}"; do
  (cd "$TMP/$c" && "$ROOT/node_modules/.bin/vitest" run --root . --reporter=json --outputFile=report.json \
     >vitest.log 2>&1; echo $? >status) &
done
wait

bad=0
for c in clean segfault abort import failing empty floor; do
  node scripts/vitest-verdict.js "$TMP/$c/report.json" "$(cat "$TMP/$c/status")" "$c" "${floor[$c]:-1}" >"$TMP/$c/verdict" 2>&1
  got=$?
  if [ "$got" = "${want[$c]}" ]; then
    echo "selftest $c: $([ "$got" = 0 ] && echo green || echo red) as expected ($(grep -m1 -E '^    ' "$TMP/$c/verdict" | sed 's/^ *//' | cut -c1-110))"
  else
    bad=$((bad + 1))
    echo "selftest $c: WRONG verdict (exit $got, want ${want[$c]})"; cat "$TMP/$c/verdict"; tail -20 "$TMP/$c/vitest.log"
  fi
done
[ "$bad" = 0 ] && echo "ci-selftest: all 7 verdicts right" || echo "ci-selftest: $bad wrong verdict(s)"
[ "$bad" = 0 ]
