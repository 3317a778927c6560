/**
 * `npm run demo` end to end, as a user runs it (the built script, `node dist/scripts/demo.js`):
 * it must show a prepare, a commit that boots from the standby image and a scale-down, exit 0,
 * and leave nothing behind: not the broker, not its PostgreSQL, not its temporary directory. A
 * Ctrl-C in the middle must stop everything too. Needs dist/ (npm run build).
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './support/wait';

const DEMO = path.join(__dirname, '..', 'dist', 'scripts', 'demo.js');

interface DemoRun {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
}

function runDemo(args: string[] = []): DemoRun {
  const child = spawn(process.execPath, [DEMO, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.homedir() },
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Every live process below `pid` (the broker's PostgreSQL and its workers), from /proc. */
function descendantsOf(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parents) {
      if (parent === p) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** The broker's pid, its process tree and the work directory, once the demo says the broker is up. */
async function startedProcesses(run: DemoRun): Promise<{ brokerPid: number; tree: number[]; workDir: string }> {
  const line = await waitFor(() => /broker up .*\(pid (\d+),/.exec(run.output()), `the demo's broker to start:\n${run.output()}`, 180_000, 200);
  const brokerPid = Number(line[1]);
  const workDir = /^work directory (\S+)/m.exec(run.output())![1];
  return { brokerPid, tree: [brokerPid, ...descendantsOf(brokerPid)], workDir };
}

describe('npm run demo', () => {
  const runs: DemoRun[] = [];
  afterAll(() => {
    for (const r of runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  });

  it('shows prepare, commit from the standby and scale-down, says how to open the state in the API, and stops everything it started', async () => {
    const run = runDemo(['--deadline', '240']);
    runs.push(run);
    const started = await startedProcesses(run);
    // PostgreSQL runs below the broker: the tree is more than the broker alone.
    expect(started.tree.length).toBeGreaterThan(1);
    const code = await run.exited;
    const out = run.output();
    expect({ code, out }).toEqual({ code: 0, out: expect.stringContaining('DEMO OK') });

    const order = ['LOAD WARNING', 'DECISION PREPARE', 'LOAD CRITICAL', 'DECISION SCALE_UP', 'capacity ready', 'LOAD UNDERLOAD', 'DECISION SCALE_DOWN', 'scale-down DONE'];
    const at = order.map((what) => out.indexOf(what));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(out).toMatch(/standby DONE/);
    expect(out).toMatch(/the commit boots from the prepared standby \(standbyImageId \S+\) in operator-b/);
    expect(out).toMatch(/SNAPSHOT, TRANSFER and IMPORT skipped/);
    // The way into the API: URL, token and a query to paste.
    expect(out).toMatch(/GraphQL: +http:\/\/127\.0\.0\.1:\d+\/graphql/);
    expect(out).toMatch(/token: +\S+/);
    expect(out).toContain('scalingDecisions(vmTypeId:');

    for (const pid of started.tree) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
    expect(fs.existsSync(started.workDir)).toBe(false);
  }, 300_000);

  it('stops the broker, its PostgreSQL and the clouds on Ctrl-C in the middle', async () => {
    const run = runDemo();
    runs.push(run);
    const started = await startedProcesses(run);
    await waitFor(() => run.output().includes('LOAD WARNING'), `the load onset:\n${run.output()}`, 180_000, 200);
    run.child.kill('SIGINT');
    const code = await run.exited;
    expect(code).toBe(130);
    expect(run.output()).toContain('stopping (SIGINT)');
    for (const pid of started.tree) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
    expect(fs.existsSync(started.workDir)).toBe(false);
  }, 300_000);
});
