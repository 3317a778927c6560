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

/** Spawns the broker with exactly `env` (plus PATH/HOME) and waits for its "listening on" line. */
export function spawnBroker(env: Record<string, string>, timeoutMs = 30_000): Promise<BrokerProcess> {
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
  const running = () => child.exitCode === null && child.signalCode === null;
  const crash = async () => {
    if (running()) child.kill('SIGKILL');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker did not start within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
    }, timeoutMs);
    const onData = () => {
      const m = /^Intercloud broker listening on (\S+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve({
        child,
        url: m[1],
        stdout: () => out,
        stderr: () => err,
        logs: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>),
        exited,
        crash,
        dispose: crash,
      });
    };
    child.stdout.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (code ${code}, signal ${signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}
