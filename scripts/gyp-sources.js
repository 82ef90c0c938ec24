// Prints the C++ sources for binding.gyp (the CPU-only node-gyp build): every .cc under native/cpp.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
const out = [];
(function walk(dir) {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) walk(rel);
    else if (e.name.endsWith('.cc')) out.push(rel);
  }
})('native/cpp');
console.log(out.join(' '));
