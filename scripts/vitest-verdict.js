#!/usr/bin/env node
// Verdict on one vitest run, from its JSON report and its exit status. Used by .ci/run (npm test,
// the ASan run, the CPU-variant runs) and checked by scripts/ci-selftest.sh.
//   node scripts/vitest-verdict.js REPORT.json EXIT_STATUS LABEL [MIN_TESTS]
// Green only if all of these hold:
//   - vitest exited 0 and the report exists and says success: true;
//   - no failed test, and every test file has status "passed" (or "skipped"/"todo" when all its
//     tests are; a file that fails to import, or whose hooks throw, has status "failed" and no
//     failed test);
//   - at least one test passed, and at least MIN_TESTS (the floor kept in test/MIN_TESTS).
// A worker that dies (native segfault, abort, ASan/UBSan report) leaves its file "passed" with its
// test "pending", no failure counted anywhere and (vitest 4.1) even success: true: only the exit
// status shows it (checked by scripts/ci-selftest.sh), so the exit status alone turns it red.
// Prints the reasons, then a last line "counts: P F" for .ci/run's totals, where F counts failed
// tests, failed files without a failed test, and one for each other reason above; before it, a line
// "failed-test: FILE > NAME: first line of the message" for each failed test. Exits 0 if green.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [file, statusArg, label = 'vitest', minArg] = process.argv.slice(2);
const status = Number(statusArg);
const min = minArg === undefined ? 1 : Number(minArg);
if (!file || !Number.isInteger(status) || !Number.isInteger(min) || min < 1) {
  console.error('usage: vitest-verdict.js REPORT.json EXIT_STATUS LABEL [MIN_TESTS >= 1]');
  process.exit(2);
}

const reasons = [];
let passed = 0;
let failed = 0;
let report = null;
const failedNames = [];
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  reasons.push(`no readable report ${file} (${e.code || e.message})`);
  failed += 1;
}
if (report) {
  const files = Array.isArray(report.testResults) ? report.testResults : [];
  passed = Number(report.numPassedTests) || 0;
  const failedTests = Number(report.numFailedTests) || 0;
  failed += failedTests;
  if (failedTests > 0) reasons.push(`${failedTests} failed test(s)`);
  for (const f of files) {
    const asserts = Array.isArray(f.assertionResults) ? f.assertionResults : [];
    for (const a of asserts.filter((x) => x.status === 'failed')) {
      // one line per failed test, picked up by .ci/run so that the end of the log names it
      const why = String((a.failureMessages || [])[0] || '').split('\n')[0].slice(0, 200);
      failedNames.push(`${path.relative(process.cwd(), String(f.name))} > ${a.fullName || a.title}${why ? `: ${why}` : ''}`);
    }
    if (f.status === 'skipped' || f.status === 'todo') {
      console.log(`    ${label}: file ${f.name} ${f.status} (allowed; counted in "skipped")`);
    } else if (f.status !== 'passed' && !asserts.some((a) => a.status === 'failed')) {
      failed += 1;
      const msg = String(f.message || '').split('\n')[0].slice(0, 160);
      reasons.push(`file ${f.name} ${f.status} without a failed test${msg ? `: ${msg}` : ''}`);
    } else if (f.status !== 'passed') {
      reasons.push(`file ${f.name} ${f.status}`);
    }
  }
  const counted = failed;
  if (report.success !== true || status !== 0) {
    reasons.push(`vitest exit status ${status}, success ${report.success}`);
    if (counted === 0) {
      failed += 1;
      reasons.push('no failed test or file explains it: a worker died (segfault, abort, sanitizer) or an error escaped a test');
    }
  }
  if (files.length === 0 || Number(report.numTotalTests) === 0) {
    failed += 1;
    reasons.push('no test was collected');
  } else if (passed < min) {
    failed += 1;
    reasons.push(`${passed} tests passed, fewer than the floor of ${min} (test/MIN_TESTS)`);
  }
  const pending = Number(report.numPendingTests) || 0;
  console.log(
    `--- ${label}: ${passed} passed, ${failedTests} failed, ${pending} skipped in ${files.length} files (floor ${min})`,
  );
} else if (status === 0) {
  reasons.push('vitest exited 0 but wrote no report');
}
for (const r of reasons) console.log(`    ${label}: ${r}`);
for (const n of failedNames) console.log(`failed-test: ${n}`);
const green = failed === 0 && reasons.length === 0;
console.log(green ? `--- ${label}: clean pass` : `--- ${label}: NOT a clean pass`);
console.log(`counts: ${passed} ${failed}`);
process.exit(green ? 0 : 1);
