/**
 * SIPp from tests: UAS "worker SIP servers" on loopback addresses and UAC load through a proxy,
 * with the project's record-route scenarios (scripts/peers/sipp). Processes are children of the
 * test and are stopped by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SIPP_SCENARIOS, type ServicePeers } from './service-peers';
import { waitFor } from './wait';

export interface UasWorker {
  ip: string;
  port: number;
  uri: string;
  /** Calls it completed so far (the cumulative SuccessfulCall column of its stats file, written every second; a call counts once its 4 s timewait is over). */
  successfulCalls(): number;
  stop(): Promise<void>;
}

/** A free UDP port on 127.0.0.1 (bound and released: good enough for a test's own process). */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Whether something answers a SIP OPTIONS on ip:port with 200 (SIPp's -aa does). */
export async function answersSipOptions(ip: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const local = socket.address().port;
    const callId = `probe-${Math.random().toString(16).slice(2)}`;
    const message = [
      `OPTIONS sip:${ip}:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-${callId}`,
      'Max-Forwards: 70',
      `From: <sip:probe@127.0.0.1:${local}>;tag=${callId}`,
      `To: <sip:${ip}:${port}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.on('message', (msg) => {
        if (msg.toString().startsWith('SIP/2.0 200')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    socket.send(message, port, ip);
    return await answered;
  } finally {
    socket.close();
  }
}

function statsColumn(statsFile: string, name: string): number {
  if (!fs.existsSync(statsFile)) return 0;
  const rows = fs.readFileSync(statsFile, 'utf8').trim().split('\n');
  if (rows.length < 2) return 0;
  const column = rows[0]!.split(';').indexOf(name);
  return column < 0 ? 0 : Number(rows[rows.length - 1]!.split(';')[column] ?? 0);
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** A stats column once it is at least 1 and unchanged over more than one flush of the stats file. */
async function settledCount(file: string, column: string): Promise<number> {
  let last = -1;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const now = statsColumn(file, column);
    if (now >= 1 && now === last) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 1200));
  }
  throw new Error(`${column} in ${file} did not settle within 30 s`);
}

/** Starts a UAS on ip:port and waits until it answers OPTIONS. */
export async function startUasWorker(peers: ServicePeers, ip: string, port = 5070): Promise<UasWorker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-uas-'));
  const stats = path.join(dir, 'stat.csv');
  const child = spawn(
    peers.sipp.binary,
    ['-sf', SIPP_SCENARIOS.uas, '-i', ip, '-p', String(port), '-aa', '-nostdin', '-trace_stat', '-stf', stats, '-fd', '1', '-trace_err', '-error_file', path.join(dir, 'err.log')],
    { stdio: 'ignore', cwd: dir },
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const gone = await Promise.race([exited(child).then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000)))]);
      clearTimeout(timer);
      if (!gone) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`sipp UAS on ${ip}:${port} exited with ${child.exitCode}`);
      return answersSipOptions(ip, port);
    }, `the SIPp UAS on ${ip}:${port} to answer`, 60_000, 200);
  } catch (err) {
    await stop();
    throw err;
  }
  // The OPTIONS probes above end as successful calls in SIPp's counts (uas_rr.xml): they are the
  // baseline, read once the stats file (flushed every second) has counted them and holds still.
  const baseline = await settledCount(stats, 'SuccessfulCall(C)');
  return { ip, port, uri: `sip:${ip}:${port}`, successfulCalls: () => statsColumn(stats, 'SuccessfulCall(C)') - baseline, stop };
}

export interface UacRun {
  exitCode: number | null;
  /** SIPp's screen output, for the failure message. */
  output: string;
}

/**
 * `calls` calls through the proxy at host:port to dispatcher set `setId` (the R-URI user the
 * peers' Kamailio balances on); SIPp exits 0 only when every call succeeded.
 */
export async function runUac(peers: ServicePeers, proxy: { host: string; port: number }, setId: number, calls: number): Promise<UacRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-uac-'));
  const local = await freeUdpPort();
  // -timeout: SIPp's own hang guard (exits non-zero); -d 200: each call holds 200 ms before its BYE.
  const child = spawn(
    peers.sipp.binary,
    ['-sf', SIPP_SCENARIOS.uac, `${proxy.host}:${proxy.port}`, '-s', String(setId), '-i', '127.0.0.1', '-p', String(local), '-m', String(calls), '-r', '5', '-d', '200', '-nostdin', '-timeout', '120s', '-timeout_error'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  const exitCode = await exited(child);
  fs.rmSync(dir, { recursive: true, force: true });
  return { exitCode, output };
}

export interface UacLoad {
  /** Stops making calls, lets the calls in progress end (SIGUSR1: SIPp's soft quit), and returns the run. */
  stop(): Promise<UacRun & { successful: number; failed: number }>;
}

/** The cumulative column of a row of SIPp's end-of-run screen, e.g. `Successful call | 0 | 42`. */
function screenTotal(output: string, row: string): number {
  const lines = output.split('\n').filter((l) => l.trimStart().startsWith(row));
  const last = lines.at(-1);
  return last ? Number(last.split('|')[2]?.trim() ?? NaN) : NaN;
}

/**
 * Calls through the proxy to set `setId` at `rate` per second, each held `holdMs` before its BYE,
 * until stop(): load that runs across a whole clone and scale-down.
 */
export async function startUacLoad(peers: ServicePeers, proxy: { host: string; port: number }, setId: number, o: { rate: number; holdMs: number }): Promise<UacLoad> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-uac-'));
  const local = await freeUdpPort();
  const child = spawn(
    peers.sipp.binary,
    ['-sf', SIPP_SCENARIOS.uac, `${proxy.host}:${proxy.port}`, '-s', String(setId), '-i', '127.0.0.1', '-p', String(local), '-m', '1000000', '-r', String(o.rate), '-d', String(o.holdMs), '-nostdin', '-timeout', '900s', '-timeout_error'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-40_000)));
  child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-40_000)));
  const exit = exited(child);
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGUSR1');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exit, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 60_000)))]);
      clearTimeout(timer);
      if (code === 'hung') {
        child.kill('SIGKILL');
        await exit;
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return { exitCode: code === 'hung' ? null : code, output, successful: screenTotal(output, 'Successful call'), failed: screenTotal(output, 'Failed call') };
    },
  };
}

/** What a worker started by scripts/peers/sipp-worker.sh has counted: calls received, calls in progress (its stats CSV, written every second). */
export function workerStats(peers: ServicePeers, ip: string, port = 5070): { incoming: number; current: number } {
  const file = path.join(peers.sipp.stateDir, `uas-${ip}-${port}-stat.csv`);
  return { incoming: statsColumn(file, 'IncomingCall(C)'), current: statsColumn(file, 'CurrentCall') };
}
