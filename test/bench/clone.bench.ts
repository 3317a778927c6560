/**
 * Clone benchmark: one VM cloned between two sandbox clouds through the broker's GraphQL API,
 * with the broker in its own process (`node dist/src/main.js`) on a fresh PostgreSQL database.
 * It prints numbers and a verdict per goal; it asserts nothing.
 *
 *   npm run bench:clone -- --size 2GiB --link 1gbit
 *   npm run bench:clone -- --sizes 1GiB,4GiB --link unlimited
 *
 * Per image size: a fresh sandbox (two clouds, in this process) and a fresh broker process; an
 * image of that size is seeded in the source cloud, a server booted from it and imported, then
 *   1. (when the link has a rate) cloneVm with the link throttled to that rate: clone time
 *      against wire time, per-phase durations, what the cloud itself took in each phase;
 *   2. cloneVm with the link unthrottled: the relay's throughput (bytes / TRANSFER phase);
 *   3. the same bytes through a raw HTTP pipe (undici GET of the source image piped into a PUT
 *      of a new target image, in a child process as the broker is one: no broker, no hashing
 *      on the client side), for the ratio relay/raw;
 *   4. with --hash-baseline, the unthrottled clone again through a broker restarted with
 *      TRANSFER_HASH=inline (sha512 on the event loop, as before the worker thread), so both
 *      relays are compared with the same raw pipe in one run;
 * during every clone /healthz is requested every 20 ms (its latency while TRANSFER runs is the
 * API's responsiveness) and the broker's event-loop delay p99 over the TRANSFER phase is read
 * from its /metrics (prom-client's monitorEventLoopDelay, reset by each scrape);
 * while the broker's RSS is sampled every 100 ms (and VmHWM read at the end), and the CPU time
 * of the broker and of this process (the sandbox clouds) is recorded per phase.
 *
 * Goals (from the issue): clone time <= 1.5 x wire time + the emulated cloud operation
 * latencies (the configured ones, plus the time the sandbox itself spends copying and hashing
 * the snapshot, measured from its events; the verdict also shows the configured-only budget);
 * relay/raw >= 0.9; peak RSS flat between 1 GiB and 4 GiB images (within 15%).
 *
 * Environment: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
 * database is created and dropped there), BENCH_BROKER_LOG_LEVEL (default warn),
 * BENCH_BROKER_OUTPUT (append the broker's output to this file), BENCH_BROKER_NODE_ARGS
 * (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to look inside the broker).
 */
import 'reflect-metadata';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { DEFAULT_LATENCY, Latency, Sandbox, SandboxCloud, startSandbox } from '../../sandbox';
import { transferInChildProcess } from '../../sandbox/bench/image-transfer';
import { CLONE_JOB_FIELDS, CloneFixture, setUpClone } from '../support/clone-fixture';
import { gqlOk } from '../support/graphql';
import { LAB_CLOUD_ENV } from '../support/lab';
import { labCloudApiFactory } from '../support/sandbox';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN_JS = path.resolve(__dirname, '../../src/main.js');
const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { ${CLONE_JOB_FIELDS} } }`;
/** Clone time may be at most this many wire times (plus the cloud's own latencies). */
const WIRE_FACTOR = 1.5;
const RELAY_GOAL = 0.9;
/**
 * Peak RSS is "flat" when no larger image makes it grow by more than this fraction of the
 * smallest image's peak (or RSS_FLAT_FLOOR, whichever is more: GC timing alone moves a
 * Node process's RSS by tens of MiB). Only growth counts: buffering that scales with the
 * image is what this looks for.
 */
const RSS_FLAT_TOLERANCE = 0.15;
const RSS_FLAT_FLOOR = 32 * MiB;

// ---------------------------------------------------------------------------------------------
// Arguments

class UsageError extends Error {}

const USAGE = `usage: npm run bench:clone -- [--size SIZE | --sizes SIZE,SIZE,...] [--link RATE] [options]

  --size SIZE         image size, e.g. 512MiB, 2GiB, 4GiB (default 2GiB)
  --sizes LIST        several sizes, run one after the other (e.g. 1GiB,4GiB); RSS side by side
  --link RATE         link between the clouds: 100mbit, 1gbit, 10gbit, ... or unlimited (default 1gbit)
  --api-ms N          sandbox latency added to every API call (default ${DEFAULT_LATENCY.apiMs})
  --snapshot-ms N     sandbox snapshot latency before the copy starts (default ${DEFAULT_LATENCY.snapshotMs})
  --boot-ms N         sandbox BUILD -> ACTIVE (default ${DEFAULT_LATENCY.bootMs})
  --floating-ip-ms N  sandbox floating IP association -> shown (default ${DEFAULT_LATENCY.floatingIpMs})
  --hash-baseline     also clone unthrottled with TRANSFER_HASH=inline (the old event-loop sha512), side by side
  --timeout SECONDS   stop (and clean up) after this long (default: estimated from sizes and link)
  --help`;

const SIZE_UNITS: Record<string, number> = { b: 1, kib: KiB, mib: MiB, gib: GiB, tib: 1024 * GiB, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };

export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m?.[2].toLowerCase() || 'b';
  if (!m || !(unit in SIZE_UNITS)) throw new UsageError(`bad size "${text}": expected a number and a unit such as 512MiB, 2GiB, 4GiB (also B, KiB, TiB, KB, MB, GB)`);
  const bytes = Math.round(Number(m[1]) * SIZE_UNITS[unit]);
  if (bytes < MiB) throw new UsageError(`size "${text}" is below 1 MiB: too small to measure a transfer`);
  if (bytes > 64 * GiB) throw new UsageError(`size "${text}" is above 64 GiB: not a benchmark this machine can finish`);
  return bytes;
}

const LINK_UNITS: Record<string, number> = { kbit: 1e3, mbit: 1e6, gbit: 1e9 };

/** Bytes per second, or null for an unlimited link. */
export function parseLink(text: string): number | null {
  if (/^\s*(unlimited|none|unthrottled)\s*$/i.test(text)) return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(kbit|mbit|gbit)(?:\/s|ps)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`bad link "${text}": expected a bit rate such as 100mbit, 1gbit, 10gbit, or "unlimited"`);
  const bytesPerSecond = Math.round((Number(m[1]) * LINK_UNITS[m[2].toLowerCase()]) / 8);
  if (bytesPerSecond < 125_000) throw new UsageError(`link "${text}" is below 1mbit: a benchmark at that rate would take hours`);
  return bytesPerSecond;
}

function parseMs(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > 600_000) throw new UsageError(`--${name} must be a whole number of milliseconds (0-600000), not "${text}"`);
  return Number(text);
}

interface Options {
  sizes: number[];
  link: number | null;
  linkText: string;
  latency: Latency;
  timeoutS: number | null;
  hashBaseline: boolean;
}

export function parseOptions(argv: string[]): Options | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        size: { type: 'string' },
        sizes: { type: 'string' },
        link: { type: 'string' },
        'api-ms': { type: 'string' },
        'snapshot-ms': { type: 'string' },
        'boot-ms': { type: 'string' },
        'floating-ip-ms': { type: 'string' },
        timeout: { type: 'string' },
        'hash-baseline': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.size !== undefined && v.sizes !== undefined) throw new UsageError('give --size or --sizes, not both');
  const sizeTexts = v.sizes !== undefined ? v.sizes.split(',').filter((s) => s.trim() !== '') : [v.size ?? '2GiB'];
  if (sizeTexts.length === 0) throw new UsageError('--sizes needs at least one size, e.g. --sizes 1GiB,4GiB');
  if (sizeTexts.length > 6) throw new UsageError('--sizes takes at most 6 sizes');
  const linkText = v.link ?? '1gbit';
  let timeoutS: number | null = null;
  if (v.timeout !== undefined) {
    if (!/^\d+$/.test(v.timeout) || Number(v.timeout) < 10) throw new UsageError(`--timeout must be a whole number of seconds, at least 10, not "${v.timeout}"`);
    timeoutS = Number(v.timeout);
  }
  return {
    sizes: sizeTexts.map(parseSize),
    link: parseLink(linkText),
    linkText: linkText.trim(),
    latency: {
      apiMs: parseMs('api-ms', v['api-ms'], DEFAULT_LATENCY.apiMs),
      snapshotMs: parseMs('snapshot-ms', v['snapshot-ms'], DEFAULT_LATENCY.snapshotMs),
      bootMs: parseMs('boot-ms', v['boot-ms'], DEFAULT_LATENCY.bootMs),
      floatingIpMs: parseMs('floating-ip-ms', v['floating-ip-ms'], DEFAULT_LATENCY.floatingIpMs),
      deleteMs: DEFAULT_LATENCY.deleteMs,
    },
    timeoutS,
    hashBaseline: v['hash-baseline'] ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const fmtBytes = (n: number): string => (n >= GiB ? `${+(n / GiB).toFixed(2)} GiB` : n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : `${n} B`);
const fmtRate = (bytesPerSecond: number): string => `${(bytesPerSecond / MiB).toFixed(1)} MiB/s (${((bytesPerSecond * 8) / 1e9).toFixed(2)} Gbit/s)`;
const fmtS = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(2));
const fmtLink = (link: number | null): string => (link === null ? 'unlimited' : `${((link * 8) / 1e6).toLocaleString('en')} Mbit/s = ${(link / MiB).toFixed(1)} MiB/s`);

/** First and last columns left-aligned (names, notes), numbers right-aligned. */
export function table(headers: string[], rows: string[][], lastLeft = false): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const left = (i: number) => i === 0 || (lastLeft && i === headers.length - 1);
  const line = (cells: string[]) => cells.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].map((l) => `  ${l.trimEnd()}`).join('\n');
}

function log(message = ''): void {
  console.log(message);
}

function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything this run makes is undone once, on success, failure, timeout or a signal.

const cleanups: Array<{ what: string; fn: () => Promise<void> }> = [];
let cleaning: Promise<void> | null = null;

export function onCleanup(what: string, fn: () => Promise<void>): () => Promise<void> {
  const entry = { what, fn };
  cleanups.push(entry);
  // Run early (e.g. the broker of one size before the next): done once, then forgotten.
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await fn();
  };
}

export function cleanUpAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { what, fn } = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup: could not ${what}: ${(err as Error).message}`);
      }
    }
  })();
  return cleaning;
}

// ---------------------------------------------------------------------------------------------
// The database, the broker process and its RSS

async function withPg<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_SERVER, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(): Promise<string> {
  const name = `intercloud_bench_${crypto.randomBytes(5).toString('hex')}`;
  try {
    await withPg((c) => c.query(`CREATE DATABASE ${name}`));
  } catch (err) {
    throw new Error(`cannot create a database on ${PG_SERVER} (set BENCH_POSTGRES_URL for another server): ${(err as Error).message}`);
  }
  onCleanup(`drop database ${name}`, () => withPg((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined));
  const u = new URL(PG_SERVER);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface BrokerProcess {
  url: string;
  adminToken: string;
  pid: number;
  stop(): Promise<void>;
}

/** What a restarted broker must share with the first one to read its database (the secret key) and accept its token. */
interface BrokerIdentity {
  adminToken: string;
  secretKey: string;
}

export function newBrokerIdentity(): BrokerIdentity {
  return { adminToken: `icb_bench_${crypto.randomBytes(24).toString('base64url')}`, secretKey: crypto.randomBytes(32).toString('base64') };
}

export async function spawnBroker(databaseUrl: string, dataDir: string, identity: BrokerIdentity, extraEnv: Record<string, string> = {}): Promise<BrokerProcess> {
  if (!fs.existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run through \`npm run bench:clone\` (it builds first)`);
  const { adminToken } = identity;
  // To look inside the broker: BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (and BENCH_BROKER_OUTPUT=file for its output)
  const nodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, MAIN_JS], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      INTERCLOUD_SECRET_KEY: identity.secretKey,
      INTERCLOUD_DATA_DIR: dataDir,
      LOG_LEVEL: process.env.BENCH_BROKER_LOG_LEVEL ?? 'warn',
      // The bench polls cloneJob like a client would, faster than the default per-token limit allows.
      RATE_LIMIT_PER_MINUTE: '1000000',
      SHUTDOWN_GRACE_MS: '3000',
      // The sandbox clouds are plain HTTP on 127.0.0.1.
      ...LAB_CLOUD_ENV,
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const copy = process.env.BENCH_BROKER_OUTPUT ? fs.createWriteStream(process.env.BENCH_BROKER_OUTPUT, { flags: 'a' }) : null;
  const keep = (chunk: Buffer) => {
    copy?.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) tail.push(line);
    while (tail.length > 40) tail.shift();
  };
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => ((exited = true), resolve(code))));
  const stop = onCleanup(`stop the broker (pid ${child.pid})`, async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exit;
    clearTimeout(timer);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the broker did not start within 60 s:\n${tail.join('\n')}`)), 60_000);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      buffered += chunk.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(buffered);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the broker exited with ${code} before listening:\n${tail.join('\n')}`));
    });
  });
  return { url, adminToken, pid: child.pid!, stop };
}

/** Per labelled window: the broker's peak VmRSS (sampled every 100 ms) and CPU time, and this process's CPU (the sandbox). */
export interface WindowStats {
  peakRss: number;
  brokerCpuMs: number;
  benchCpuMs: number;
  wallMs: number;
}

export class BrokerMonitor {
  private readonly timer: NodeJS.Timeout;
  private window = 'start';
  private at = { wall: performance.now(), broker: 0, bench: 0 };
  readonly windows = new Map<string, WindowStats>();

  constructor(private readonly pid: number) {
    this.at.broker = this.brokerCpuMs();
    this.at.bench = this.benchCpuMs();
    this.timer = setInterval(() => this.sample(), 100);
  }

  private status(): Record<string, number> {
    const out: Record<string, number> = {};
    try {
      for (const m of fs.readFileSync(`/proc/${this.pid}/status`, 'utf8').matchAll(/^(Vm\w+):\s+(\d+) kB$/gm)) out[m[1]] = Number(m[2]) * KiB;
    } catch {
      // the process is gone
    }
    return out;
  }

  /** utime + stime of the broker process (clock ticks of 10 ms on Linux). */
  private brokerCpuMs(): number {
    try {
      const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return this.at.broker;
    }
  }

  private benchCpuMs(): number {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }

  private stats(): WindowStats {
    let w = this.windows.get(this.window);
    if (!w) this.windows.set(this.window, (w = { peakRss: 0, brokerCpuMs: 0, benchCpuMs: 0, wallMs: 0 }));
    return w;
  }

  sample(): void {
    const rss = this.status().VmRSS;
    if (rss !== undefined) this.stats().peakRss = Math.max(this.stats().peakRss, rss);
  }

  /** Closes the current window (CPU and wall time) and opens `window`. */
  enter(window: string): void {
    this.sample();
    const now = { wall: performance.now(), broker: this.brokerCpuMs(), bench: this.benchCpuMs() };
    const w = this.stats();
    w.wallMs += now.wall - this.at.wall;
    w.brokerCpuMs += now.broker - this.at.broker;
    w.benchCpuMs += now.bench - this.at.bench;
    this.at = now;
    this.window = window;
    this.sample();
  }

  get(window: string): WindowStats | undefined {
    return this.windows.get(window);
  }

  /** All windows whose label starts with `prefix`, together (peak of peaks, sums of times). */
  sum(prefix: string): WindowStats | undefined {
    const ws = [...this.windows].filter(([k]) => k.startsWith(prefix)).map(([, w]) => w);
    if (ws.length === 0) return undefined;
    return ws.reduce((a, w) => ({ peakRss: Math.max(a.peakRss, w.peakRss), brokerCpuMs: a.brokerCpuMs + w.brokerCpuMs, benchCpuMs: a.benchCpuMs + w.benchCpuMs, wallMs: a.wallMs + w.wallMs }));
  }

  hwm(): number | undefined {
    return this.status().VmHWM;
  }

  stop(): void {
    this.enter('stopped');
    clearInterval(this.timer);
  }
}

/** Latencies of /healthz answers, ms. */
interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

function latencyStats(samples: number[] | undefined): LatencyStats | null {
  if (!samples || samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] };
}

/**
 * The API's responsiveness during a clone: /healthz every 20 ms, each answer's latency filed
 * under the phase the job poll last saw; and the broker's own event-loop delay (prom-client's
 * monitorEventLoopDelay, reset by every scrape of /metrics) read when TRANSFER starts and again
 * when the poll sees it over (up to 200 ms late, so a little of IMPORT may count).
 */
class ApiProbe {
  private phase = 'QUEUED';
  private running = true;
  private readonly samples = new Map<string, number[]>();
  private readonly done: Promise<void>;
  private readonly origin: string;
  transferLag: { p99Ms: number; maxMs: number } | null = null;

  constructor(url: string) {
    this.origin = new URL(url).origin;
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const phase = this.phase;
      const t0 = performance.now();
      try {
        const res = await fetch(`${this.origin}/healthz`);
        await res.arrayBuffer();
        const list = this.samples.get(phase) ?? [];
        list.push(performance.now() - t0);
        this.samples.set(phase, list);
      } catch {
        // the broker is stopping: nothing to measure
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async eventLoopLag(): Promise<{ p99Ms: number; maxMs: number } | null> {
    const text = await (await fetch(`${this.origin}/metrics`)).text();
    const read = (name: string) => {
      const m = new RegExp(`^intercloud_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) * 1000 : NaN;
    };
    const lag = { p99Ms: read('p99'), maxMs: read('max') };
    return Number.isFinite(lag.p99Ms) ? lag : null;
  }

  async enterPhase(phase: string): Promise<void> {
    if (phase === this.phase) return;
    if (phase === 'TRANSFER') await this.eventLoopLag(); // the scrape resets the histogram
    else if (this.phase === 'TRANSFER') this.transferLag = await this.eventLoopLag();
    this.phase = phase;
  }

  stats(phase: string): LatencyStats | null {
    return latencyStats(this.samples.get(phase));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

// ---------------------------------------------------------------------------------------------
// One clone through the API, with what the clouds themselves reported along the way

interface PhaseTiming {
  phase: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

export interface CloneRun {
  label: string;
  link: number | null;
  job: Record<string, any> & { phases: PhaseTiming[] };
  cloneMs: number;
  /** Poll saw DONE, from the mutation's answer (client view). */
  observedMs: number;
  bytes: number;
  calls: { source: number; target: number };
  /** When each cloud reported its part done (ms since epoch). */
  cloud: { snapshotActive?: number; targetImageActive?: number; serverActive?: number; floatingIpShown?: number };
  /** Broker peak RSS and CPU, sandbox CPU, while the job ran. */
  stats: WindowStats | undefined;
  /** The same per phase, as the poll saw the phases change (200 ms granularity). */
  phaseStats: Record<string, WindowStats>;
  /** /healthz latency while TRANSFER ran, and the broker's event-loop delay over TRANSFER. */
  api: { healthz: LatencyStats | null; lag: { p99Ms: number; maxMs: number } | null };
}

export async function cloneOnce(
  label: string,
  url: string,
  fx: CloneFixture,
  vmId: string,
  src: SandboxCloud,
  dst: SandboxCloud,
  link: number | null,
  rss: BrokerMonitor,
  timeoutMs: number,
): Promise<CloneRun> {
  const bandwidth = { uploadBytesPerSecond: link, downloadBytesPerSecond: link };
  // Both ends of the one link: the source's downloads and the target's uploads.
  await src.control.setBandwidth(bandwidth);
  await dst.control.setBandwidth(bandwidth);
  await Promise.all([src.control.resetCalls(), dst.control.resetCalls()]);
  const cloud: CloneRun['cloud'] = {};
  const floatingIpMs = (await dst.control.settings()).latency.floatingIpMs;
  const handlers = {
    snap: () => void (cloud.snapshotActive ??= Date.now()),
    img: () => void (cloud.targetImageActive ??= Date.now()),
    srv: () => void (cloud.serverActive ??= Date.now()),
    fip: () => void (cloud.floatingIpShown ??= Date.now() + floatingIpMs),
  };
  src.events.on('image.active', handlers.snap);
  dst.events.on('image.active', handlers.img);
  dst.events.on('server.active', handlers.srv);
  dst.events.on('floatingip.associated', handlers.fip);
  const probe = new ApiProbe(url);
  try {
    rss.enter(`${label}/QUEUED`);
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId, name: `bench-${label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}` } });
    const tAccepted = Date.now();
    const job = (await watchJob(url, fx.tenant.token, cloneVm.id, label, rss, probe, timeoutMs)) as CloneRun['job'];
    await probe.stop();
    const observedMs = Date.now() - tAccepted;
    if (job.state !== 'DONE') throw new Error(`clone ${label} ended ${job.state}: ${JSON.stringify(job.error)}`);
    const [sc, dc] = await Promise.all([src.control.calls(), dst.control.calls()]);
    const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    return {
      label,
      link,
      job,
      cloneMs: Date.parse(job.finishedAt) - Date.parse(job.createdAt),
      observedMs,
      bytes: job.bytesTransferred,
      calls: { source: sum(sc), target: sum(dc) },
      cloud,
      stats: rss.sum(`${label}/`),
      phaseStats: Object.fromEntries([...rss.windows].filter(([k]) => k.startsWith(`${label}/`)).map(([k, w]) => [k.slice(label.length + 1), w])),
      api: { healthz: probe.stats('TRANSFER'), lag: probe.transferLag },
    };
  } finally {
    await probe.stop();
    src.events.off('image.active', handlers.snap);
    dst.events.off('image.active', handlers.img);
    dst.events.off('server.active', handlers.srv);
    dst.events.off('floatingip.associated', handlers.fip);
  }
}

/**
 * Polls the job's state and phase (a light query, every 200 ms: the clone time comes from the
 * job's own timestamps, so polling only needs to be frequent enough to window the monitor by
 * phase) and returns the whole job once it ended.
 */
async function watchJob(url: string, token: string, id: string, label: string, monitor: BrokerMonitor, probe: ApiProbe, timeoutMs: number): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let phase = 'QUEUED';
  for (;;) {
    const { cloneJob } = await gqlOk(url, token, `query($id: ID!) { cloneJob(id: $id) { state phase } }`, { id });
    if (cloneJob.phase !== phase && !['DONE', 'FAILED', 'CANCELLED'].includes(cloneJob.phase)) monitor.enter(`${label}/${(phase = cloneJob.phase)}`);
    await probe.enterPhase(cloneJob.phase);
    if (['DONE', 'FAILED', 'CANCELLED'].includes(cloneJob.state)) break;
    if (Date.now() > deadline) throw new Error(`clone ${label}: job ${id} still ${cloneJob.state}/${cloneJob.phase} after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  monitor.enter(`${label}:ended`);
  await probe.enterPhase('ended');
  return (await gqlOk(url, token, `query($id: ID!) { cloneJob(id: $id) { ${CLONE_JOB_FIELDS} } }`, { id })).cloneJob;
}

/** Flushes dirty pages so one measurement does not pay for the previous one's writes. */
export function flushDisk(): void {
  const t0 = performance.now();
  try {
    execFileSync('sync', { stdio: 'ignore', timeout: 120_000 });
  } catch {
    // not fatal: the numbers are just noisier
  }
  progress(`sync took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------------------------------------
// One image size

interface SizeResult {
  size: number;
  seedS: number;
  throttled: CloneRun | null;
  open: CloneRun;
  /** With --hash-baseline: the unthrottled clone through a broker hashing on its event loop. */
  inline: CloneRun | null;
  raw: { seconds: number; bytes: number; stats: WindowStats | undefined; cpuMs: number };
  idleRss: number | undefined;
  hwm: number | undefined;
  latency: { source: Latency; target: Latency };
}

async function runSize(size: number, o: Options, databaseUrl: string, rootDir: string, deadline: number): Promise<SizeResult> {
  const dir = fs.mkdtempSync(path.join(rootDir, `size-${Math.round(size / MiB)}m-`));
  const sandboxDir = path.join(dir, 'sandbox');
  const brokerDir = path.join(dir, 'broker');
  fs.mkdirSync(brokerDir);
  const remaining = () => Math.max(10_000, deadline - Date.now());

  progress(`${fmtBytes(size)}: starting two sandbox clouds and a broker process`);
  const sandbox: Sandbox = await startSandbox({
    dataDir: sandboxDir,
    clouds: [
      { name: 'bench-src', images: [], latency: o.latency, quotas: { instances: 20, cores: 40, ramMb: 100_000, floatingIps: 20 } },
      { name: 'bench-dst', images: [], latency: o.latency, quotas: { instances: 20, cores: 40, ramMb: 100_000, floatingIps: 20 } },
    ],
  });
  const stopSandbox = onCleanup('stop the sandbox and remove its data', async () => {
    await sandbox.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const factory = labCloudApiFactory();
  const closeFactory = onCleanup('close the OpenStack client pool', () => factory.close());
  const src = sandbox.cloud('bench-src');
  const dst = sandbox.cloud('bench-dst');
  try {
    const seedStart = performance.now();
    const identity = newBrokerIdentity();
    let [broker, image] = await Promise.all([spawnBroker(databaseUrl, brokerDir, identity), src.control.seedImage({ name: 'bench-vm-image', sizeBytes: size })]);
    const seedS = (performance.now() - seedStart) / 1000;
    progress(`${fmtBytes(size)}: seeded in ${seedS.toFixed(1)} s; broker pid ${broker.pid} at ${broker.url}`);
    let rss = new BrokerMonitor(broker.pid);
    try {
      const fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'bench-src', 'bench-dst');
      const { vmId } = await fx.importNewVm('bench-vm', image.id);
      rss.enter('idle');
      await new Promise((r) => setTimeout(r, 300));
      const idleRss = rss.get('idle')?.peakRss;

      let throttled: CloneRun | null = null;
      if (o.link !== null) {
        flushDisk();
        progress(`${fmtBytes(size)}: cloneVm over a ${o.linkText} link (wire time ${(size / o.link).toFixed(1)} s)`);
        throttled = await cloneOnce(`clone@${o.linkText}`, broker.url, fx, vmId, src, dst, o.link, rss, remaining());
        progress(`${fmtBytes(size)}: done in ${fmtS(throttled.cloneMs)} s`);
      }
      flushDisk();
      progress(`${fmtBytes(size)}: cloneVm with the link unthrottled`);
      const open = await cloneOnce('clone@unthrottled', broker.url, fx, vmId, src, dst, null, rss, remaining());
      let hwm = rss.hwm();
      let inline: CloneRun | null = null;
      if (o.hashBaseline) {
        progress(`${fmtBytes(size)}: done in ${fmtS(open.cloneMs)} s; restarting the broker with TRANSFER_HASH=inline`);
        rss.stop();
        await broker.stop();
        broker = await spawnBroker(databaseUrl, brokerDir, identity, { TRANSFER_HASH: 'inline' });
        rss = new BrokerMonitor(broker.pid);
        flushDisk();
        inline = await cloneOnce('clone@unthrottled, inline hash', broker.url, fx, vmId, src, dst, null, rss, remaining());
        hwm = Math.max(hwm ?? 0, rss.hwm() ?? 0);
      }
      progress(`${fmtBytes(size)}: done in ${fmtS((inline ?? open).cloneMs)} s; raw HTTP pipe of the source image`);
      flushDisk();
      rss.enter('raw pipe (broker idle)');
      const raw = await transferInChildProcess(src, dst, image.id, 'bench-raw-pipe');
      rss.enter('after');
      const rawStats = rss.get('raw pipe (broker idle)');
      const latency = { source: (await src.control.settings()).latency, target: (await dst.control.settings()).latency };
      return { size, seedS, throttled, open, inline, raw: { seconds: raw.seconds, bytes: image.size ?? size, stats: rawStats, cpuMs: raw.cpuMs }, idleRss, hwm, latency };
    } finally {
      rss.stop();
      await broker.stop();
    }
  } finally {
    await closeFactory();
    await stopSandbox();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

/** The cloud's own time on the critical path: configured latencies, API latency per call, and the snapshot's copy. */
function cloudAllowance(run: CloneRun, latency: SizeResult['latency']): { configuredMs: number; snapshotCopyMs: number; text: string } {
  const api = run.calls.source * latency.source.apiMs + run.calls.target * latency.target.apiMs;
  const configuredMs = latency.source.snapshotMs + latency.target.bootMs + latency.target.floatingIpMs + api;
  const snap = run.job.phases.find((p) => p.phase === 'SNAPSHOT');
  const snapshotCopyMs = snap && run.cloud.snapshotActive ? Math.max(0, run.cloud.snapshotActive - Date.parse(snap.startedAt) - latency.source.snapshotMs) : 0;
  const text =
    `snapshot ${latency.source.snapshotMs} ms + boot ${latency.target.bootMs} ms + floating IP ${latency.target.floatingIpMs} ms` +
    ` + API ${latency.source.apiMs}/${latency.target.apiMs} ms x ${run.calls.source}/${run.calls.target} calls (source/target) = ${fmtS(configuredMs)} s configured`;
  return { configuredMs, snapshotCopyMs, text };
}

function phaseTable(run: CloneRun, wireMs: number | null, rawMs: number | null): string {
  const created = Date.parse(run.job.createdAt);
  const rows: string[][] = [];
  const phases = run.job.phases;
  const rel = (t: number | undefined) => (t === undefined ? '-' : `+${fmtS(t - created)}`);
  const cpu = (phase: string) => {
    const w = run.phaseStats[phase];
    return w ? [fmtS(w.brokerCpuMs), fmtS(w.benchCpuMs)] : ['-', '-'];
  };
  if (phases.length > 0) rows.push(['(queued)', '+0.00', fmtS(Date.parse(phases[0].startedAt) - created), '-', '-', ...cpu('QUEUED'), 'cloneVm accepted -> a runner took the job']);
  let prevEnd: number | null = null;
  for (const p of phases) {
    const start = Date.parse(p.startedAt);
    const end = p.finishedAt ? Date.parse(p.finishedAt) : undefined;
    if (prevEnd !== null && start - prevEnd >= 10) rows.push(['(between)', rel(prevEnd), fmtS(start - prevEnd), '-', '-', '', '', '']);
    let cloudDone: number | undefined;
    let note = '';
    switch (p.phase) {
      case 'SNAPSHOT':
        cloudDone = run.cloud.snapshotActive;
        note = 'cloud: createImage -> snapshot active (latency + disk copy + hashes)';
        break;
      case 'TRANSFER':
        cloudDone = run.cloud.targetImageActive;
        note = wireMs !== null ? `wire time ${fmtS(wireMs)} s` : rawMs !== null ? `raw pipe of the same bytes ${fmtS(rawMs)} s` : '';
        break;
      case 'IMPORT':
        note = 'target image active, its sha512 checked';
        break;
      case 'BOOT':
        cloudDone = run.cloud.serverActive;
        note = 'cloud: server BUILD -> ACTIVE';
        break;
      case 'NETWORK':
        cloudDone = run.cloud.floatingIpShown;
        note = 'cloud: floating IP associated -> shown';
        break;
    }
    const cloudMs = cloudDone !== undefined ? cloudDone - start : undefined;
    const lag = cloudDone !== undefined && end !== undefined ? `${Math.round(end - cloudDone)}` : '-';
    rows.push([p.phase, rel(start), fmtS(p.durationMs), cloudMs !== undefined ? fmtS(cloudMs) : '-', lag, ...cpu(p.phase), note]);
    prevEnd = end ?? null;
  }
  if (prevEnd !== null) rows.push(['(finish)', rel(prevEnd), fmtS(Date.parse(run.job.finishedAt) - prevEnd), '-', '-', '', '', 'clone VM recorded, job DONE']);
  rows.push(['total', '', fmtS(run.cloneMs), '', '', fmtS(run.stats?.brokerCpuMs), fmtS(run.stats?.benchCpuMs), `(poll saw DONE ${fmtS(run.observedMs)} s after cloneVm answered)`]);
  return table(['phase', 'start s', 'took s', 'cloud s', 'noticed +ms', 'broker CPU s', 'sandbox CPU s', 'note'], rows, true);
}

function report(o: Options, results: SizeResult[]): void {
  const verdicts: string[] = [];
  const verdict = (met: boolean | null, text: string) => {
    verdicts.push(`  ${met === null ? 'n/a    ' : met ? 'MET    ' : 'NOT MET'}  ${text}`);
  };

  for (const r of results) {
    const rawRate = r.raw.bytes / r.raw.seconds;
    const transfer = r.open.job.phases.find((p) => p.phase === 'TRANSFER');
    const relayRate = transfer?.durationMs ? r.open.bytes / (transfer.durationMs / 1000) : 0;
    log('');
    log(`=== ${fmtBytes(r.size)} image (${r.size.toLocaleString('en')} bytes; snapshot ${r.open.bytes.toLocaleString('en')} bytes), link ${fmtLink(o.link)} ===`);
    log(`seeded the source image in ${r.seedS.toFixed(1)} s`);
    log(
      `emulated cloud latencies: source { api ${r.latency.source.apiMs} ms, snapshot ${r.latency.source.snapshotMs} ms }, ` +
        `target { api ${r.latency.target.apiMs} ms, boot ${r.latency.target.bootMs} ms, floating IP ${r.latency.target.floatingIpMs} ms }`,
    );
    for (const run of [r.throttled, r.open, r.inline]) {
      if (!run) continue;
      const wireMs = run.link !== null ? (run.bytes / run.link) * 1000 : null;
      log('');
      log(`--- ${run.label}: clone time ${fmtS(run.cloneMs)} s (job createdAt -> finishedAt), ${run.bytes.toLocaleString('en')} bytes moved ---`);
      log(phaseTable(run, wireMs, run.link === null ? r.raw.seconds * 1000 : null));
      log(`  cloud s: until the sandbox reported the phase's work done; noticed +ms: how much later the broker ended the phase;`);
      log(`  CPU: broker process, and this process (the sandbox clouds), while the poll (every 200 ms) saw that phase`);
      if (wireMs !== null) {
        const a = cloudAllowance(run, r.latency);
        const budget = WIRE_FACTOR * wireMs + a.configuredMs + a.snapshotCopyMs;
        log(`  wire time ${fmtS(wireMs)} s (${fmtBytes(run.bytes)} at ${fmtLink(run.link)}); clone/wire ${(run.cloneMs / wireMs).toFixed(2)}`);
        log(`  cloud latencies: ${a.text}; + the sandbox's snapshot disk copy ${fmtS(a.snapshotCopyMs)} s (measured)`);
        log(`  budget ${WIRE_FACTOR} x wire + cloud = ${fmtS(budget)} s; clone ${fmtS(run.cloneMs)} s; broker overhead beyond wire + cloud ${fmtS(run.cloneMs - wireMs - a.configuredMs - a.snapshotCopyMs)} s`);
        verdict(
          run.cloneMs <= budget,
          `${fmtBytes(r.size)} clone time ${fmtS(run.cloneMs)} s <= ${WIRE_FACTOR} x wire ${fmtS(wireMs)} s + cloud ${fmtS(a.configuredMs)} s configured + ${fmtS(a.snapshotCopyMs)} s snapshot copy = ${fmtS(budget)} s` +
            ` (counting configured latencies only: <= ${fmtS(WIRE_FACTOR * wireMs + a.configuredMs)} s, ${run.cloneMs <= WIRE_FACTOR * wireMs + a.configuredMs ? 'met' : 'not met'})`,
        );
      }
    }
    log('');
    log(`--- relay (TRANSFER phase, link unthrottled) vs raw HTTP pipe (undici GET -> PUT in a child process, no broker) ---`);
    const relays = [
      { name: 'broker relay, sha512 on a worker thread', run: r.open },
      ...(r.inline ? [{ name: 'broker relay, sha512 inline (baseline)', run: r.inline }] : []),
    ].map(({ name, run }) => {
      const t = run.job.phases.find((p) => p.phase === 'TRANSFER');
      return { name, run, durationMs: t?.durationMs ?? null, rate: t?.durationMs ? run.bytes / (t.durationMs / 1000) : 0 };
    });
    log(
      table(
        ['path', 'bytes', 'seconds', 'throughput', 'client CPU s', 'sandbox CPU s', 'ratio to raw'],
        [
          ...relays.map((x) => {
            const ts = x.run.phaseStats.TRANSFER;
            return [x.name, x.run.bytes.toLocaleString('en'), fmtS(x.durationMs), fmtRate(x.rate), fmtS(ts?.brokerCpuMs), fmtS(ts?.benchCpuMs), (x.rate / rawRate).toFixed(3)];
          }),
          ['raw pipe (GET -> PUT)', r.raw.bytes.toLocaleString('en'), r.raw.seconds.toFixed(2), fmtRate(rawRate), fmtS(r.raw.cpuMs), fmtS(r.raw.stats?.benchCpuMs), '1.000'],
        ],
      ),
    );
    if (relays.length > 1) log(`  worker/inline throughput ${(relays[0].rate / relays[1].rate).toFixed(3)} (same image, same run)`);
    verdict(relayRate / rawRate >= RELAY_GOAL, `${fmtBytes(r.size)} relay/raw ${(relayRate / rawRate).toFixed(3)} >= ${RELAY_GOAL} (relay ${fmtRate(relayRate)}, raw ${fmtRate(rawRate)})`);

    log('');
    log(`--- API responsiveness while TRANSFER ran: GET /healthz every 20 ms (client-side latency), broker event-loop delay (its /metrics) ---`);
    const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(1));
    log(
      table(
        ['clone', 'healthz n', 'p50 ms', 'p99 ms', 'max ms', 'loop delay p99 ms', 'loop delay max ms'],
        [r.throttled, r.open, r.inline]
          .filter((run): run is CloneRun => run !== null)
          .map((run) => [run.label, String(run.api.healthz?.n ?? 0), ms(run.api.healthz?.p50), ms(run.api.healthz?.p99), ms(run.api.healthz?.max), ms(run.api.lag?.p99Ms), ms(run.api.lag?.maxMs)]),
      ),
    );
  }

  log('');
  log('=== broker peak RSS (own process, VmRSS sampled every 100 ms; VmHWM over the process life) ===');
  const windows = ['idle', ...(o.link !== null ? [`clone@${o.linkText}`] : []), 'clone@unthrottled', ...(o.hashBaseline ? ['clone@unthrottled, inline hash'] : [])];
  const mib = (n: number | undefined) => (n === undefined ? '-' : `${(n / MiB).toFixed(0)} MiB`);
  log(
    table(
      ['', ...results.map((r) => fmtBytes(r.size))],
      [
        ...windows.map((w) => [w === 'idle' ? 'idle before cloning' : `peak during ${w}`, ...results.map((r) => mib(w === 'idle' ? r.idleRss : [r.throttled, r.open, r.inline].find((c) => c?.label === w)?.stats?.peakRss))]),
        ['VmHWM (whole run)', ...results.map((r) => mib(r.hwm))],
      ],
    ),
  );
  const hwms = results.map((r) => r.hwm).filter((n): n is number => n !== undefined);
  if (results.length > 1 && hwms.length === results.length) {
    const bySize = results.map((r) => ({ size: r.size, hwm: r.hwm! })).sort((a, b) => a.size - b.size);
    const base = bySize[0];
    const allowed = Math.max(RSS_FLAT_TOLERANCE * base.hwm, RSS_FLAT_FLOOR);
    const growth = Math.max(...bySize.slice(1).map((x) => x.hwm - base.hwm));
    verdict(
      growth <= allowed,
      `peak RSS flat across ${bySize.map((x) => fmtBytes(x.size)).join(', ')}: VmHWM ${bySize.map((x) => mib(x.hwm)).join(' vs ')}` +
        ` (growth over the ${fmtBytes(base.size)} run ${growth >= 0 ? '+' : '-'}${mib(Math.abs(growth))}, allowed +${mib(allowed)}: ${Math.round(RSS_FLAT_TOLERANCE * 100)}% of it, at least ${mib(RSS_FLAT_FLOOR)})`,
    );
  } else {
    verdict(null, `peak RSS ${hwms.map((h) => mib(h)).join(', ')}: flatness needs several sizes (--sizes 1GiB,4GiB)`);
  }
  if (o.link === null) verdict(null, 'clone time vs wire time: the link is unlimited, so there is no wire time to judge against (use --link 1gbit)');

  log('');
  log('=== verdicts ===');
  for (const v of verdicts) log(v);
}

// ---------------------------------------------------------------------------------------------

function estimateSeconds(o: Options): number {
  // seeding, two snapshots and the raw pipe at ~60 MiB/s on a slow disk, the wire time twice, plus start-up
  return Math.ceil(o.sizes.reduce((s, size) => s + (5 * size) / (60 * MiB) + (o.link ? (3 * size) / o.link : 0) + 30, 60));
}

function checkDisk(dir: string, o: Options): void {
  // per size (sandbox removed after each): source image + snapshot; target: one image per clone + the raw copy
  const need = Math.max(...o.sizes) * (o.link !== null ? 5 : 4) + GiB;
  const st = fs.statfsSync(dir);
  const free = st.bavail * st.bsize;
  progress(`disk: ${fmtBytes(free)} free in ${dir}, this run needs about ${fmtBytes(need)}`);
  if (free < need) throw new UsageError(`not enough disk in ${dir}: ${fmtBytes(free)} free, the run needs about ${fmtBytes(need)} (set TMPDIR elsewhere or use smaller sizes)`);
}

async function main(): Promise<number> {
  let o: Options | 'help';
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bench:clone: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (o === 'help') {
    log(USAGE);
    return 0;
  }
  const options = o;
  const timeoutS = options.timeoutS ?? estimateSeconds(options);
  const started = Date.now();
  const deadline = started + timeoutS * 1000;
  checkDisk(os.tmpdir(), options);

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      console.error(`bench:clone: ${signal} again, exiting without finishing the clean-up`);
      process.exit(130);
    }
    interrupted = true;
    console.error(`bench:clone: ${signal}: cleaning up`);
    void cleanUpAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const watchdog = setTimeout(() => {
    console.error(`bench:clone: still running after ${timeoutS} s (--timeout): stopping and cleaning up`);
    void cleanUpAll().finally(() => process.exit(1));
  }, timeoutS * 1000);

  const rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-clone-bench-'));
  onCleanup(`remove ${rootDir}`, async () => fs.rmSync(rootDir, { recursive: true, force: true }));
  try {
    log(`clone benchmark: sizes ${options.sizes.map(fmtBytes).join(', ')}, link ${fmtLink(options.link)}, ${os.cpus().length} cores, node ${process.version}, time limit ${timeoutS} s`);
    const databaseUrl = await createDatabase();
    const results: SizeResult[] = [];
    for (const size of options.sizes) results.push(await runSize(size, options, databaseUrl, rootDir, deadline));
    report(options, results);
    log('');
    log(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    // A benchmark: goals not met are reported above, not an error exit.
    return 0;
  } finally {
    clearTimeout(watchdog);
    await cleanUpAll();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    async (err: unknown) => {
      console.error(`bench:clone failed: ${err instanceof Error ? err.message : String(err)}`);
      await cleanUpAll();
      process.exit(1);
    },
  );
}
