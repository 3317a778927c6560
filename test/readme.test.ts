/**
 * The README's lab walkthrough, run as it stands: the sandbox started with `npm run sandbox`,
 * a broker started with the lab settings the README names, and the fenced shell block between
 * its walkthrough markers pasted into bash with only TOKEN (the admin token) set. It must end
 * with a DONE clone, so the README cannot drift from the product. Then the README's
 * `watch-job.mjs` (the block between its watch-job markers) is saved as printed and run with the
 * command printed under it, in a shell holding the walkthrough's variables: it must print the
 * job's events through DONE and exit 0 by itself. Needs dist/ (npm run build) and bash, curl and jq.
 */
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrokerProcess, spawnBroker } from './support/broker-process';
import { createTestDatabase, TestDatabase } from './support/database';
import { waitFor } from './support/wait';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The fenced block between `<!-- walkthrough:start -->` and `<!-- walkthrough:end -->`. */
function walkthrough(): string {
  const m = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(README);
  if (!m) throw new Error('README.md has no walkthrough block');
  return m[1];
}

/** `watch-job.mjs` and the command that runs it, between `<!-- watch-job:start -->` and `<!-- watch-job:end -->`. */
function watchJob(): { file: string; command: string } {
  const m = /<!-- watch-job:start -->\s*```js\n([\s\S]*?)```[\s\S]*?```sh\n([\s\S]*?)```\s*<!-- watch-job:end -->/.exec(README);
  if (!m) throw new Error('README.md has no watch-job block');
  return { file: m[1], command: m[2] };
}

/** The environment the README's lab line gives `npm start`. */
function labEnv(): Record<string, string> {
  const line = README.split('\n').find((l) => /^[A-Z_]+=\S+( [A-Z_]+=\S+)* npm start\b/.test(l));
  if (!line) throw new Error('README.md has no lab line starting the broker');
  return Object.fromEntries(line.slice(0, line.indexOf(' npm start')).split(' ').map((kv) => kv.split('=') as [string, string]));
}

describe('README walkthrough', () => {
  const adminToken = `icb_readme_${crypto.randomBytes(24).toString('base64url')}`;
  let work: string;
  let db: TestDatabase;
  let broker: BrokerProcess;
  let sandbox: ChildProcessWithoutNullStreams;
  let sandboxOut = '';

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-readme-'));
    // `npm run sandbox` as the README says, on free ports (its settings files carry them), in a folder of its own.
    sandbox = spawn('npm', ['run', '--silent', 'sandbox', '--', '--clouds', 'cloud-a:0,cloud-b:0', '--data-dir', path.join(work, '.sandbox')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.homedir() },
    });
    sandbox.stdout.setEncoding('utf8').on('data', (d: string) => (sandboxOut += d));
    sandbox.stderr.setEncoding('utf8').on('data', (d: string) => (sandboxOut += d));
    await waitFor(() => sandboxOut.includes('sandbox running'), `the sandbox to start:\n${sandboxOut}`, 120_000);
    db = await createTestDatabase();
    broker = await spawnBroker({ ...labEnv(), PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, INTERCLOUD_ADMIN_TOKEN: adminToken, INTERCLOUD_DATA_DIR: path.join(work, 'data'), LOG_LEVEL: 'warn' });
  }, 180_000);

  afterAll(async () => {
    await broker?.dispose();
    if (sandbox && sandbox.exitCode === null) {
      sandbox.kill('SIGTERM');
      await new Promise((r) => sandbox.once('exit', r));
    }
    await db?.drop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('names the lab settings the test brokers use', () => {
    expect(labEnv()).toEqual({ CLOUD_ALLOW_INSECURE_HTTP: 'true', CLOUD_ENDPOINT_ALLOW: '127.0.0.0/8' });
  });

  it('reaches a DONE clone when pasted into bash as it stands', () => {
    // The walkthrough's shell variables, for the watcher's run below (as in terminal 3 afterwards).
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', `${walkthrough()}\ndeclare -p TOKEN JOB BROKER > walkthrough-vars.sh\n`], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TOKEN: adminToken, BROKER: broker.url },
      encoding: 'utf8',
      timeout: 150_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect({ status: run.status, output }).toMatchObject({ status: 0 });
    // The last answer is the finished job.
    const last = JSON.parse(run.stdout.slice(run.stdout.lastIndexOf('{\n  "cloneJob"'))) as { cloneJob: { state: string; phases: { phase: string }[]; resultVm: { addresses: { kind: string }[] } } };
    expect(last.cloneJob.state).toBe('DONE');
    expect(last.cloneJob.phases.map((p) => p.phase)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']);
    expect(last.cloneJob.resultVm.addresses.map((a) => a.kind)).toContain('floating');
    // The walkthrough switched to the operator token before making anything.
    expect(run.stdout).toContain('"role": "OPERATOR"');
  }, 180_000);

  it("runs the README's watch-job.mjs as printed: the job's events replayed through DONE, then exit 0 by itself", () => {
    const vars = path.join(work, 'walkthrough-vars.sh');
    if (!fs.existsSync(vars)) throw new Error('the walkthrough did not finish (see the test above)');
    const { file, command } = watchJob();
    // Saved "in the repository's folder": its imports resolve from the repository's node_modules.
    fs.writeFileSync(path.join(work, 'watch-job.mjs'), file);
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', `. ./walkthrough-vars.sh\n${command}`], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work },
      // stdin not a socket (libuv's pipes are), else bash takes itself for an rsh login and reads bashrc
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 60_000, // a watcher that never ends is killed and fails here
    });
    expect({ status: run.status, signal: run.signal, stderr: run.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const lines = run.stdout.trim().split('\n');
    const events = lines.map((l) => /^(\d+) ([A-Z_]+) ?([A-Z_]*)/.exec(l)).map((m, i) => {
      if (!m) throw new Error(`not an event line: ${lines[i]}`);
      return { seq: Number(m[1]), kind: m[2], phase: m[3] };
    });
    // Every stored event once, in order, from seq 1, and nothing after the terminal one.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[events.length - 1].kind).toBe('DONE');
    expect(events.filter((e) => ['DONE', 'FAILED', 'CANCELLED'].includes(e.kind))).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'PHASE_COMPLETED').map((e) => e.phase)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']);
  }, 90_000);
});
