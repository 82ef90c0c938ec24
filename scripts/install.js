#!/usr/bin/env node
// npm "install" hook. Users get a prebuilt binary (prebuilds/, loaded by node-gyp-build): nothing
// is compiled or downloaded. Only when no binary loads do we build from source:
//   - with cmake-js available (a development checkout): CMake, CUDA when nvcc is found;
//   - otherwise node-gyp with binding.gyp (CPU only), which npm itself ships.
// MMPREF_SKIP_BUILD=1 skips the source build (CI builds explicitly afterwards).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.join(__dirname, '..');
function loads() {
  const r = spawnSync(process.execPath, ['-e', `require('node-gyp-build')(${JSON.stringify(root)})`], {
    cwd: root, stdio: 'ignore',
  });
  return r.status === 0;
}
function run(cmd, args) {
  console.log(`mmpref: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  return r.status === 0;
}

if (process.env.MMPREF_SKIP_BUILD === '1') process.exit(0);
if (loads()) process.exit(0);
const localCmakeJs = path.join(root, 'node_modules', '.bin', 'cmake-js');
if (fs.existsSync(localCmakeJs)) {
  if (run(localCmakeJs, ['rebuild'])) process.exit(0);
  console.error('mmpref: cmake-js build failed, trying node-gyp (CPU only)');
}
const nodedir = process.env.npm_config_nodedir ? [`--nodedir=${process.env.npm_config_nodedir}`] : [];
const npmNodeGyp = process.env.npm_config_node_gyp;
const ok = npmNodeGyp
  ? run(process.execPath, [npmNodeGyp, 'rebuild', ...nodedir])
  : run('node-gyp', ['rebuild', ...nodedir]);
if (!ok) {
  console.error('mmpref: no prebuilt binary for this platform and the source build failed.\n' +
    'Possible solutions: install a C++17 compiler and Python 3 for node-gyp, set npm_config_nodedir ' +
    'to a directory with Node headers when offline, or use linux-x64 where prebuilds ship.');
  process.exit(1);
}
