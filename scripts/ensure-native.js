#!/usr/bin/env node
// `npm test` runs this first, so a checkout never tests a stale addon: when build/Release/mmpref.node
// is missing or older than any native source (native/**, CMakeLists.txt, cmake/, binding.gyp), it
// rebuilds with cmake-js (incrementally when build/ is configured; a fresh configure compiles CUDA
// when nvcc is found, after a notice). Skipped with MMPREF_ADDON_PATH (an explicit addon) or
// MMPREF_SKIP_BUILD=1.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
if (process.env.MMPREF_ADDON_PATH || process.env.MMPREF_SKIP_BUILD === '1') process.exit(0);

function newest(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}
const addon = path.join(root, 'build', 'Release', 'mmpref.node');
const built = fs.existsSync(addon) ? fs.statSync(addon).mtimeMs : 0;
const sources = Math.max(...['native', 'CMakeLists.txt', 'cmake', 'binding.gyp'].map((p) => newest(path.join(root, p))));
if (built && built >= sources) process.exit(0);

const configured = fs.existsSync(path.join(root, 'build', 'CMakeCache.txt'));
console.log(`mmpref: ${built ? 'build/Release/mmpref.node is older than the native sources' : 'no build/Release/mmpref.node'}; ` +
  `${configured ? 'rebuilding (cmake-js build)' : 'building (cmake-js rebuild; npm run build:native:cpu for CPU only)'}`);
const cmakeJs = path.join(root, 'node_modules', '.bin', 'cmake-js');
const r = spawnSync(cmakeJs, [configured ? 'build' : 'rebuild'], { cwd: root, stdio: 'inherit' });
if (r.error || r.status !== 0) {
  console.error(`mmpref: native build failed${r.error ? `: ${r.error.message}` : ''}`);
  process.exit(1);
}
