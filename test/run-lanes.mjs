#!/usr/bin/env node
/**
 * `npm test`'s runner: the suites in two jest processes side by side ("lanes"), each in band.
 *
 * Why: most of the suite's half hour is waiting (sandbox clouds, SIPp calls, Nagios checks,
 * broker processes starting), not CPU, so two lanes finish far sooner than one on this 2-core
 * machine kind. Why not jest's own workers: the suites that talk to the machine's shared peers
 * (Nagios, Kamailio and its MariaDB tables, SIPp, the loopback sshd, the two real OpenStack
 * clouds) must never run at the same time as each other, and jest cannot pin a group of files
 * to one worker. So the `peers` lane runs every suite that imports a peer helper (found by
 * reading the files, so a new peer suite lands there by itself) plus a few long self-contained
 * suites to even the lanes out; the `other` lane runs the rest. Everything else a suite uses is
 * its own: a database cloned from the template, sandbox clouds and brokers on free ports.
 *
 * `npm test -- <jest args>` runs one jest in band with those arguments instead (one file, a
 * pattern); `TEST_LANES=1 npm test` runs everything in one lane.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const jest = path.join(root, 'node_modules', '.bin', 'jest');

/** A suite that imports one of these shares a peer of the machine with every other such suite. */
const PEER_HELPERS = /support\/(service-peers|openstack-peers|integrations|sshd|nagios|sipp)['"]/;
/** Long suites with nothing shared, run in the peers lane so both lanes take about as long. */
const BALANCE = ['test/pipeline/resume.test.ts', 'test/pipeline/durability.test.ts', 'test/startup.test.ts', 'test/client/cli.test.ts'];

function suites(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...suites(full));
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

function run(name, args) {
  return new Promise((resolve) => {
    const child = spawn(jest, args, { cwd: root, env: { ...process.env, INTERCLOUD_TEST_LANE: name }, stdio: ['ignore', 'pipe', 'pipe'] });
    const summary = [];
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        process.stdout.write(`[${name}] ${line}\n`);
        if (/^(Test Suites|Tests|Snapshots|Time):/.test(line)) summary.push(line);
      });
    }
    child.on('close', (code, signal) => resolve({ name, code: code ?? 1, signal, summary }));
  });
}

const extra = process.argv.slice(2);
if (extra.length > 0 || process.env.TEST_LANES === '1') {
  const child = spawn(jest, ['--runInBand', ...extra], { cwd: root, stdio: 'inherit' });
  child.on('close', (code) => process.exit(code ?? 1));
} else {
  const all = suites(path.join(root, 'test')).map((f) => path.relative(root, f)).sort();
  const peers = all.filter((f) => PEER_HELPERS.test(fs.readFileSync(path.join(root, f), 'utf8')) || BALANCE.includes(f));
  const other = all.filter((f) => !peers.includes(f));
  console.log(`npm test: ${all.length} suites in two lanes: peers (${peers.length}, one at a time) beside other (${other.length})`);
  const results = await Promise.all([run('peers', ['--runInBand', '--runTestsByPath', ...peers]), run('other', ['--runInBand', '--runTestsByPath', ...other])]);
  let failed = false;
  for (const r of results) {
    console.log(`\n== lane ${r.name}: ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`}`);
    for (const line of r.summary) console.log(`   ${line}`);
    if (r.code !== 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
}
