#!/usr/bin/env node
// Builds the native addon from the installed package's sources into build/Release/mmpref.node,
// where the loader looks first. For platforms without a fitting prebuild (musl, glibc < 2.28,
// a changed source tree): `npx mmpref-build-native [--cpu]`. Installing mmpref runs no script.
//
//   1. CMake (>= 3.19) with the package's CMakeLists.txt: C++ always, CUDA when nvcc is found
//      (--cpu or MMPREF_ENABLE_CUDA=0 turns it off; MMPREF_CUDA_ARCHS narrows the architectures).
//      Node-API headers come from the node-api-headers package: nothing is downloaded.
//   2. Without CMake: node-gyp with binding.gyp, CPU only (needs Python 3 and Node's headers).
// Every failure names its cause: no compiler, a file missing from the package, no headers, no
// CMake and no Python, or the compiler's own error (shown above the message).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log('usage: mmpref-build-native [--cpu] [--gyp]\n' +
    '  --cpu  build without CUDA (also MMPREF_ENABLE_CUDA=0)\n' +
    '  --gyp  use node-gyp (CPU only) even when CMake is available\n' +
    'MMPREF_CUDA_ARCHS=90-real narrows the CUDA architectures (default: 80, 86, 89, 90 + PTX).');
  process.exit(0);
}
const cpuOnly = argv.includes('--cpu') || /^(0|off|false)$/i.test(process.env.MMPREF_ENABLE_CUDA || '');
const forceGyp = argv.includes('--gyp');

function fail(cause, help) {
  console.error(`mmpref: source build failed: ${cause}`);
  if (help) console.error(help.split('\n').map((l) => `  ${l}`).join('\n'));
  process.exit(1);
}
function which(cmd) {
  if (!cmd) return null;
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : null;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}
function run(cmd, args, opts = {}) {
  console.log(`mmpref: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) fail(`could not run ${cmd}: ${r.error.message}`);
  return r.status === 0;
}
function resolveFrom(id) {
  try {
    return require.resolve(id, { paths: [root] });
  } catch {
    return null;
  }
}

// 1. The package's own files.
const needFiles = ['package.json', 'CMakeLists.txt', 'binding.gyp', 'native/cpp/addon.cc', 'scripts/gyp-sources.js'];
const missing = needFiles.filter((f) => !fs.existsSync(path.join(root, f)));
if (missing.length) {
  fail(`the package at ${root} is missing ${missing.join(', ')}`,
    'Reinstall mmpref (npm install mmpref); a package that was pruned or installed without its native/ sources cannot be built.');
}

// 2. A C++17 compiler.
const cxxCandidates = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
const cxx = cxxCandidates.map(which).find(Boolean);
if (!cxx) {
  fail(`no C++ compiler found (looked for ${cxxCandidates.join(', ')} on PATH)`,
    'Install a C++17 compiler, e.g. apt-get install g++ (Debian/Ubuntu), dnf install gcc-c++ (RHEL/Fedora),\n' +
    'apk add g++ (Alpine), or set CXX to one. Then run: npx mmpref-build-native');
}

// 3. Node-API headers (node-addon-api is a dependency; node-api-headers too).
const addonApiPkg = resolveFrom('node-addon-api/package.json');
const napiHeadersPkg = resolveFrom('node-api-headers/package.json');
const nodePrefixHeaders = path.join(path.dirname(process.execPath), '..', 'include', 'node');
let napiInclude = napiHeadersPkg ? path.join(path.dirname(napiHeadersPkg), 'include') : null;
if (!napiInclude && fs.existsSync(path.join(nodePrefixHeaders, 'node_api.h'))) napiInclude = nodePrefixHeaders;
if (!addonApiPkg || !napiInclude) {
  fail(`Node-API headers not found (${!addonApiPkg ? 'node-addon-api' : 'node-api-headers'} is not installed next to mmpref, ` +
    `and ${nodePrefixHeaders} has no node_api.h)`,
    'Reinstall with dependencies (npm install mmpref, not --omit or --no-package-lock tricks that drop them).\n' +
    'Offline machines need them in the npm cache; nothing is downloaded by this build.');
}
const addonApiDir = path.dirname(addonApiPkg);

const cmake = forceGyp ? null : which('cmake');
const jobs = String(Math.max(1, (os.availableParallelism ? os.availableParallelism() : os.cpus().length)));
const release = path.join(root, 'build', 'Release');
let how;
if (cmake) {
  const ver = spawnSync(cmake, ['--version'], { encoding: 'utf8' }).stdout || '';
  const m = /version (\d+)\.(\d+)/.exec(ver);
  if (m && (Number(m[1]) < 3 || (Number(m[1]) === 3 && Number(m[2]) < 19))) {
    fail(`CMake ${m[1]}.${m[2]} is too old (need 3.19 or newer)`, 'Install a newer CMake (e.g. from the cmake package of your distribution\'s backports), or use --gyp.');
  }
  const buildDir = path.join(root, 'build');
  fs.rmSync(buildDir, { recursive: true, force: true });
  const args = ['-S', root, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release', `-DCMAKE_CXX_COMPILER=${cxx}`,
    `-DCMAKE_JS_INC=${napiInclude};${addonApiDir}`, `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${release}`];
  if (cpuOnly) args.push('-DMMPREF_ENABLE_CUDA=OFF');
  if (which('ninja')) args.push('-G', 'Ninja');
  if (!run(cmake, args)) fail('CMake could not configure the build (its error is above)');
  if (!run(cmake, ['--build', buildDir, '--parallel', jobs])) fail(`the compiler (${cxx}) failed (its errors are above)`);
  how = 'CMake';
} else {
  const python = ['python3', 'python'].map(which).find(Boolean);
  if (!python) {
    fail('CMake is not installed, and the node-gyp fallback needs Python 3, which is not installed either',
      'Install CMake >= 3.19 (recommended: apt-get install cmake / dnf install cmake / apk add cmake), or Python 3 for node-gyp.');
  }
  const npmGyp = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const gypJs = [process.env.npm_config_node_gyp, resolveFrom('node-gyp/bin/node-gyp.js'), npmGyp].find((p) => p && fs.existsSync(p));
  const gyp = gypJs ? [process.execPath, gypJs] : which('node-gyp') ? ['node-gyp'] : null;
  if (!gyp) fail('CMake is not installed and node-gyp was not found (neither npm\'s copy nor one on PATH)', 'Install CMake >= 3.19 (recommended) or node-gyp.');
  // node-gyp wants Node's full header tree (<nodedir>/include/node/common.gypi); never download it.
  const nodedirs = [process.env.npm_config_nodedir, path.join(path.dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean);
  const nodedir = nodedirs.find((d) => fs.existsSync(path.join(d, 'include', 'node', 'common.gypi')));
  if (!nodedir) {
    fail(`node-gyp needs Node's headers and none were found offline (looked for include/node/common.gypi under ${nodedirs.join(', ')})`,
      'Install CMake >= 3.19 (uses the node-api-headers package instead), or Node\'s headers (e.g. the nodejs-dev/libnode-dev\n' +
      'package, or the include/ folder of the official Node tarball) and set npm_config_nodedir to their prefix.');
  }
  if (!run(gyp[0], [...gyp.slice(1), 'rebuild', `--nodedir=${nodedir}`, `--jobs=${jobs}`], { env: { ...process.env, CXX: cxx } })) {
    fail(`node-gyp failed with ${cxx} (its errors are above)`);
  }
  how = 'node-gyp';
}

// 4. The result must load.
const out = path.join(release, 'mmpref.node');
if (!fs.existsSync(out)) fail(`the build finished but ${out} is missing`);
const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(out)}); ` +
  'a.init(class extends Error {}); const i = a.backendInfo(); console.log(i.compiledWithCuda ? "CUDA + CPU" : "CPU only")'], { encoding: 'utf8' });
if (probe.status !== 0) fail(`${out} was built but does not load: ${(probe.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
console.log(`mmpref: built ${path.relative(process.cwd(), out) || out} with ${how}: ${probe.stdout.trim()}`);
