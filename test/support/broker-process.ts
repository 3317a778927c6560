/**
 * A real broker process (`node dist/src/main.js`), for what only a separate process shows:
 * crashes, restarts and replicas sharing one database. Needs dist/ (npx tsc -p tsconfig.json).
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const MAIN = path.join(__dirname, '../../dist/src/main.js');

export interface BrokerProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines written so far (pino on stdout). */
  logs(): Record<string, any>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, as a crash or an OOM kill would: nothing runs in the process after it. Resolves once it is gone. */
  crash(): Promise<void>;
  /** SIGKILL unless it has already exited (for afterAll). */
  dispose(): Promise<void>;
}

/** A started broker process that may not be listening (yet, or ever: a bad config exits 2). */
export interface LaunchedBroker {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node dist/src/main.js` with exactly `env` (plus PATH/HOME), without waiting for it. */
export function launchBroker(env: Record<string, string>): LaunchedBroker {
  // No NODE_ENV from jest: the broker must behave as it does in production.
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.homedir(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The GraphQL URL from the "listening on" line; rejects if the process exits first or takes too long (then it is killed). */
export function listeningUrl(p: LaunchedBroker, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      reject(new Error(`broker did not start within ${timeoutMs} ms\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`));
    }, timeoutMs);
    const check = () => {
      const m = /^Intercloud broker listening on (\S+)$/m.exec(p.stdout());
      if (!m) return;
      clearTimeout(timer);
      p.child.stdout.off('data', check);
      resolve(m[1]);
    };
    p.child.stdout.on('data', check);
    check();
    void p.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (code ${code}, signal ${signal}) before listening\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`));
    });
  });
}

/** Spawns the broker with exactly `env` (plus PATH/HOME) and waits for its "listening on" line. */
export async function spawnBroker(env: Record<string, string>, timeoutMs = 60_000): Promise<BrokerProcess> {
  const p = launchBroker(env);
  const url = await listeningUrl(p, timeoutMs);
  const running = () => p.child.exitCode === null && p.child.signalCode === null;
  const crash = async () => {
    if (running()) p.child.kill('SIGKILL');
    await p.exited;
  };
  return {
    ...p,
    url,
    logs: () => p.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>),
    crash,
    dispose: crash,
  };
}
