/** Runs the built `intercloud` binary as a subprocess, with its own HOME (so its own config file) and no TTY. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.join(__dirname, '../../../client/cli/bin/intercloud.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ReturnType<typeof spawn>;
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
}

export function startCli(home: string, args: string[], options: { env?: Record<string, string>; input?: string } = {}): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    // Only what a user's shell would have; nothing of the test's INTERCLOUD_* leaks in.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin!.end(options.input ?? '');
  const done = new Promise<CliResult>((resolve) => child.once('close', (code) => resolve({ code, stdout: out, stderr: err })));
  return { child, stdout: () => out, stderr: () => err, done };
}

export function cli(home: string, args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return startCli(home, args, options).done;
}
