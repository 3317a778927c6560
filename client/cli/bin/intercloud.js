#!/usr/bin/env node
'use strict';
// The `intercloud` command: runs the compiled CLI in dist/. Right after `npm ci` there is no
// dist/ yet, so the first run compiles the client (SDK + CLI, not the broker) once.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..', '..');
const main = path.join(root, 'dist', 'client', 'cli', 'main.js');

if (!fs.existsSync(main)) {
  process.stderr.write('intercloud: compiling the CLI once (dist/ is missing; `npm run build` builds everything)\n');
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'client', 'cli', 'tsconfig.json')], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch {
    process.stderr.write('intercloud: compiling failed; run `npm run build` to see why\n');
    process.exit(1);
  }
}
require(main).main(process.argv);
