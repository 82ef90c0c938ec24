/**
 * Fuzz runner (npm run fuzz -- --cases N --seed S): splits cases 0..N-1 into batches, runs each
 * batch in a child process (child.ts) with --expose-gc and a small V8 heap, and counts each case's
 * outcome: ok, MmprefError (code), user (the harness's own getter error passed through),
 * non-MmprefError throw (defect), crash (signal / abort / sanitizer report; defect) or hang (no
 * progress for --timeout ms; defect). A crashed batch goes on in a new child after the crashing case;
 * the first crash of each (op, kind) is re-run alone (and, if it needs earlier cases, with the
 * shortest crashing run of its predecessors) and gets a reproducer script in the findings folder.
 * Defects listed in the allowlist (test/fuzz/known-findings.json: op + kind [+ outcomes]) are
 * reported but do not fail the run. Prints one summary line; exits 1 on any other defect.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isRace } from './rng';

interface Opts {
  cases: number;
  seed: number;
  jobs: number;
  batch: number;
  timeout: number;
  findings: string;
  allowlist: string;
  label: string;
  ops?: string;
  kinds?: string;
  bisect: boolean;
  /** stop bisecting after this long */
  bisectSeconds: number;
  table: boolean;
  heap: number;
}
function parseArgs(argv: string[]): Opts {
  const o: Opts = {
    cases: 1000,
    seed: 1,
    jobs: Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length)),
    batch: 250,
    timeout: 15000,
    findings: 'build-fuzz',
    allowlist: path.join(__dirname, '..', '..', '..', 'test', 'fuzz', 'known-findings.json'),
    label: 'fuzz',
    bisect: true,
    bisectSeconds: 60,
    table: true,
    heap: 512,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!.replace(/^--/, '');
    const v = () => argv[++i]!;
    if (k === 'cases') o.cases = Number(v());
    else if (k === 'seed') o.seed = Number(v());
    else if (k === 'jobs') o.jobs = Number(v());
    else if (k === 'batch') o.batch = Number(v());
    else if (k === 'timeout') o.timeout = Number(v());
    else if (k === 'findings') o.findings = v();
    else if (k === 'allowlist') o.allowlist = v();
    else if (k === 'label') o.label = v();
    else if (k === 'ops') o.ops = v();
    else if (k === 'kinds') o.kinds = v();
    else if (k === 'heap') o.heap = Number(v());
    else if (k === 'no-bisect') o.bisect = false;
    else if (k === 'bisect-seconds') o.bisectSeconds = Number(v());
    else if (k === 'no-table') o.table = false;
    else throw new Error(`fuzz: unknown argument --${k} (expected --cases N --seed S --jobs J --batch B --timeout MS --findings DIR --allowlist FILE --label L --ops a,b --kinds k --heap MB --no-bisect --bisect-seconds S --no-table)`);
  }
  return o;
}

interface Result {
  index: number;
  outcome: string;
  op: string;
  kind: string;
  detail: string;
  stderr?: string;
  /** time the case took in its child */
  ms?: number;
}
interface ChildRun {
  results: Result[];
  /** the case that crashed or hung, with its outcome, if any */
  failed?: Result;
  /** cases of the list not reached */
  rest: number[];
}

const CHILD = path.join(__dirname, 'child.js');
const RACE_BATCH = 8;

function runChild(o: Opts, list: number[]): Promise<ChildRun> {
  return new Promise((resolve) => {
    const args = ['--expose-gc', `--max-old-space-size=${o.heap}`, CHILD, '--seed', String(o.seed), '--cases', compress(list)];
    if (o.ops) args.push('--ops', o.ops);
    if (o.kinds) args.push('--kinds', o.kinds);
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const results: Result[] = [];
    const meta = new Map<number, Result>();
    let inflight = -1;
    let done = false;
    let restart = false;
    let hung = false;
    let buf = '';
    let err = '';
    let timer = setTimeout(onStall, o.timeout);
    function onStall() {
      hung = true;
      p.kill('SIGKILL');
    }
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    let first = ''; // the first sanitizer / abort line: long ASan reports push it out of the tail
    p.stderr.on('data', (d: string) => {
      err = (err + d).slice(-6000);
      if (!first) first = /(ERROR: AddressSanitizer[^\n]*|runtime error:[^\n]*|terminate called[^\n]*|FATAL ERROR[^\n]*)/.exec(d)?.[1] ?? '';
    });
    p.stdout.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        clearTimeout(timer);
        timer = setTimeout(onStall, o.timeout);
        if (line === 'DONE') done = true;
        else if (line === 'RESTART') restart = true;
        else if (line.startsWith('S ')) {
          inflight = Number(line.slice(2));
          meta.set(inflight, { index: inflight, outcome: '', op: '?', kind: isRace(o.seed, inflight) ? 'race-(before build)' : '(before build)', detail: 'died before the case was built (heap damage from an earlier case?)' });
        } else if (line.startsWith('B ')) {
          const [head, op, kind, detail] = line.split('\t');
          const i = Number(head!.slice(2));
          meta.set(i, { index: i, outcome: '', op: op!, kind: kind!, detail: detail ?? '' });
        } else if (line.startsWith('E ')) {
          const [head, op, kind, detail, ms] = line.split('\t');
          const sp = head!.indexOf(' ', 2);
          const i = Number(head!.slice(2, sp));
          results.push({ index: i, outcome: head!.slice(sp + 1), op: op!, kind: kind!, detail: detail ?? '', ms: Number(ms ?? 0) });
          inflight = -1;
        }
      }
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const finished = new Set(results.map((r) => r.index));
      let failed: Result | undefined;
      if (!done && !restart) {
        const culprit = inflight >= 0 ? inflight : (results[results.length - 1]?.index ?? list[0]!);
        const m = meta.get(culprit) ?? results.find((r) => r.index === culprit) ?? { index: culprit, outcome: '', op: '?', kind: '?', detail: '' };
        const why = hung ? `hang: no progress for ${o.timeout} ms` : `crash: ${signal ?? `exit ${code}`}${inflight < 0 ? ' (after the case finished)' : ''}: ${first ? first.trim().slice(0, 200) : crashLine(err)}`;
        failed = { ...m, index: culprit, outcome: why, stderr: err.slice(-3000) };
        const k = results.findIndex((r) => r.index === culprit);
        if (k >= 0) results.splice(k, 1);
        finished.add(culprit);
      }
      // after a crash or hang: the cases after the culprit; after RESTART: every case not reached
      const pos = failed ? list.indexOf(failed.index) : -1;
      resolve({ results, failed, rest: list.slice(pos + 1).filter((i) => !finished.has(i)) });
    });
  });
}

function crashLine(err: string): string {
  const lines = err.split('\n');
  const hit =
    lines.find((l) => /ERROR: AddressSanitizer|runtime error:|terminate called|FATAL ERROR|Fatal error|heap out of memory|Segmentation fault|Assertion|Aborted/.test(l)) ??
    lines.filter((l) => l.trim()).slice(-1)[0] ??
    '(no stderr)';
  return hit.trim().slice(0, 200);
}

function compress(list: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j]! + 1) j++;
    parts.push(i === j ? `${list[i]}` : `${list[i]}-${list[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const cls = (outcome: string) =>
  outcome === 'ok' ? 'ok' : outcome.startsWith('mmpref:') ? 'mmpref' : outcome === 'user' ? 'user' : outcome.startsWith('crash') ? 'crash' : outcome.startsWith('hang') ? 'hang' : outcome.startsWith('harness') ? 'harness' : 'throw';
const DEFECTS = new Set(['throw', 'crash', 'hang', 'harness']);

interface Allow {
  op: string;
  kind: string;
  outcomes?: string[];
  note?: string;
  /** timing-dependent (races): not listed as stale when a run does not hit it */
  flaky?: boolean;
}
function loadAllowlist(file: string): Allow[] {
  if (!fs.existsSync(file)) return [];
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { findings?: Allow[] };
  return j.findings ?? [];
}
const allowed = (a: Allow[], r: Result) =>
  a.find((x) => (x.op === '*' || x.op === r.op) && (x.kind === '*' || x.kind === r.kind) && (!x.outcomes || x.outcomes.includes(cls(r.outcome))));

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const all = Array.from({ length: o.cases }, (_, i) => i);
  const queue: number[][] = [];
  // races in batches of RACE_BATCH: heap damage from a race's use-after-free crashes later cases of
  // the same process, so it stays among races (first, as they take longest)
  const races = all.filter((i) => isRace(o.seed, i));
  const rest = all.filter((i) => !isRace(o.seed, i));
  for (let i = 0; i < races.length; i += RACE_BATCH) queue.push(races.slice(i, i + RACE_BATCH));
  for (let i = 0; i < rest.length; i += o.batch) queue.push(rest.slice(i, i + o.batch));
  const batchOf = new Map<number, number[]>();
  for (const b of queue) for (const i of b) batchOf.set(i, b);
  const results: Result[] = [];
  const crashes: Result[] = [];
  const workers = Array.from({ length: o.jobs }, async () => {
    for (let list = queue.shift(); list; list = queue.shift()) {
      const run = await runChild(o, list);
      results.push(...run.results);
      if (run.failed) {
        results.push(run.failed);
        crashes.push(run.failed);
      }
      if (run.rest.length) queue.unshift(run.rest);
    }
  });
  await Promise.all(workers);
  const runSeconds = (Date.now() - t0) / 1000;

  // bisect: the first crash of each (op, kind)
  const sequences = new Map<number, number[]>();
  if (o.bisect) {
    const seen = new Set<string>();
    for (const c of crashes.sort((a, b) => a.index - b.index)) {
      const key = `${c.op}|${c.kind}|${cls(c.outcome)}`;
      if (seen.has(key) || cls(c.outcome) !== 'crash') continue;
      if ((Date.now() - t0) / 1000 - runSeconds > o.bisectSeconds) break;
      seen.add(key);
      const alone = await runChild(o, [c.index]);
      if (alone.failed) {
        sequences.set(c.index, [c.index]);
        continue;
      }
      // needs earlier cases: shortest suffix of its batch that still crashes
      const batch = batchOf.get(c.index) ?? [];
      const before = batch.slice(Math.max(0, batch.indexOf(c.index) - 64), batch.indexOf(c.index));
      let lo = 0, hi = before.length; // before[lo..] + c crashes for lo = 0 (assumed); find the largest such lo
      const full = await runChild(o, [...before, c.index]);
      if (!full.failed || full.failed.index !== c.index) {
        sequences.set(c.index, []);
        continue;
      }
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        const r = await runChild(o, [...before.slice(mid), c.index]);
        if (r.failed && r.failed.index === c.index) lo = mid;
        else hi = mid - 1;
      }
      sequences.set(c.index, [...before.slice(lo), c.index]);
    }
  }

  // tables
  results.sort((a, b) => a.index - b.index);
  const classes = ['ok', 'mmpref', 'user', 'throw', 'crash', 'hang', 'harness'];
  const count = (key: (r: Result) => string) => {
    const m = new Map<string, Record<string, number>>();
    for (const r of results) {
      const k = key(r);
      const row = m.get(k) ?? Object.fromEntries(classes.map((c) => [c, 0]));
      row[cls(r.outcome)]!++;
      m.set(k, row);
    }
    return m;
  };
  const total = Object.fromEntries(classes.map((c) => [c, results.filter((r) => cls(r.outcome) === c).length]));
  const byOp = count((r) => r.op);
  const byKind = count((r) => r.kind);
  const codes = new Map<string, number>();
  for (const r of results) if (r.outcome.startsWith('mmpref:')) codes.set(r.outcome.slice(7), (codes.get(r.outcome.slice(7)) ?? 0) + 1);
  if (o.table) {
    const fmt = (title: string, m: Map<string, Record<string, number>>) => {
      console.log(`${title.padEnd(30)} ${classes.map((c) => c.padStart(7)).join('')}`);
      for (const [k, row] of [...m.entries()].sort()) console.log(`${k.padEnd(30)} ${classes.map((c) => String(row[c]).padStart(7)).join('')}`);
    };
    fmt('op', byOp);
    console.log();
    fmt('kind', byKind);
    const ms = new Map<string, number>();
    for (const r of results) ms.set(r.kind, (ms.get(r.kind) ?? 0) + (r.ms ?? 0));
    console.log(`time per kind (s): ${[...ms.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')}`);
    console.log(`MmprefError codes: ${[...codes.entries()].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  }

  // defects, allowlist, findings
  const allow = loadAllowlist(o.allowlist);
  const defects = results.filter((r) => DEFECTS.has(cls(r.outcome)));
  const known = defects.filter((r) => allowed(allow, r));
  const fresh = defects.filter((r) => !allowed(allow, r));
  const used = new Set(known.map((r) => allowed(allow, r)));
  const stale = allow.filter((a) => !used.has(a) && !a.flaky);
  const validNotOk = results.filter((r) => r.kind === 'valid' && r.outcome !== 'ok');
  fs.mkdirSync(o.findings, { recursive: true });
  const sig = new Map<string, Result[]>();
  for (const r of defects) {
    const k = `${cls(r.outcome)}|${r.op}|${r.kind}`;
    sig.set(k, [...(sig.get(k) ?? []), r]);
  }
  const distFile = path.relative(path.resolve(o.findings), path.join(__dirname, 'cases.js'));
  const only = { ops: o.ops?.split(','), kinds: o.kinds?.split(',') };
  const findings = [...sig.entries()].map(([k, rs]) => {
    const first = rs[0]!;
    const seq = sequences.get(first.index) ?? [first.index];
    const [c, op, kind] = k.split('|');
    const file = `repro-${o.label}-${c}-${op!.replace(/\W+/g, '_')}-${kind}-s${o.seed}-c${first.index}.js`;
    fs.writeFileSync(
      path.join(o.findings, file),
      [
        '#!/usr/bin/env node',
        `// mmpref fuzz finding (${o.label}, seed ${o.seed}, case ${first.index}${seq.length > 1 ? `, after cases ${seq.slice(0, -1).join(',')}` : ''}): ${first.outcome}`,
        `//   op ${op}, kind ${kind}: ${first.detail}`,
        `//   ${rs.length} case(s) with this signature: ${rs.slice(0, 12).map((r) => r.index).join(', ')}${rs.length > 12 ? ', ...' : ''}`,
        seq.length === 0 ? '//   NOTE: did not reproduce when re-run with up to 64 preceding cases' : '',
        `// Run (after npm run build:ts): node --expose-gc ${file}`,
        "const path = require('node:path');",
        `const { runList } = require(path.join(__dirname, ${JSON.stringify(distFile)}));`,
        `runList(${o.seed}, ${JSON.stringify(seq.length ? seq : [first.index])}, ${JSON.stringify(only)}).then(() => console.log('no crash'));`,
        '',
      ].join('\n'),
    );
    return { signature: k, allowed: !!allowed(allow, first), count: rs.length, cases: rs.map((r) => r.index).slice(0, 50), first: { ...first, sequence: seq }, reproducer: file };
  });
  const report = { label: o.label, seed: o.seed, cases: o.cases, seconds: runSeconds, total, codes: Object.fromEntries(codes), byOp: Object.fromEntries(byOp), byKind: Object.fromEntries(byKind), findings, staleAllowlist: stale };
  fs.writeFileSync(path.join(o.findings, `report-${o.label}.json`), JSON.stringify(report, null, 2));
  for (const f of findings)
    console.log(`${f.allowed ? 'known' : 'NEW  '} ${f.signature} x${f.count}: case ${f.first.index}: ${f.first.outcome.slice(0, 160)} | ${f.first.detail.slice(0, 140)} -> ${path.join(o.findings, f.reproducer)}`);
  for (const a of stale) console.log(`allowlist entry no longer seen (remove it): ${JSON.stringify(a)}`);
  if (validNotOk.length) console.log(`warning: ${validNotOk.length} 'valid' cases did not return ok (op table drift?), e.g. ${validNotOk[0]!.op}: ${validNotOk[0]!.outcome}`);
  console.log(
    `${o.label}: seed ${o.seed}, ${results.length}/${o.cases} cases in ${runSeconds.toFixed(0)} s (${((Date.now() - t0) / 1000).toFixed(0)} s with bisect): ` +
      `ok ${total.ok}, MmprefError ${total.mmpref}, user ${total.user}, non-MmprefError ${total.throw}, crash ${total.crash}, hang ${total.hang}` +
      `${total.harness ? `, harness errors ${total.harness}` : ''}; defects ${defects.length} (known ${known.length}, new ${fresh.length})`,
  );
  process.exit(fresh.length || results.length !== o.cases ? 1 : 0);
}

void main();
