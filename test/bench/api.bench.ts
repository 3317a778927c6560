/**
 * API hot-path benchmark: `{ me { role } }` at 10 concurrent clients (autocannon, keep-alive,
 * loopback) against a real broker process (`node dist/src/main.js`, fresh PostgreSQL database)
 * and, side by side in the same run, against a raw graphql-js HTTP server in its own process
 * (raw-graphql.server.ts). The two are measured in alternating rounds so drift on a shared
 * machine hits both alike. Prints req/s, p50, p99 per target and the ratio broker/raw
 * (goal: >= 0.7); asserts nothing. About 45 s. Also prints each server's CPU time per request
 * (user + system, from /proc on Linux): on a machine shared with other work, req/s follow the
 * load, while CPU per request is what the server itself spends, so its ratio is the steadier one.
 *
 *   npm run bench:api
 *   npm run bench:api -- --connections 10 --seconds 8 --rounds 2
 *
 * The broker runs with its defaults except RATE_LIMIT_PER_MINUTE (raised: the per-token limit
 * would otherwise answer 429 after 600 requests). Environment: BENCH_POSTGRES_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres; a database is created and dropped there),
 * BENCH_BROKER_MAIN (another build's dist/src/main.js, to compare with an earlier commit),
 * BENCH_BROKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to look inside the broker).
 */
import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { request } from 'undici';

const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN_JS = process.env.BENCH_BROKER_MAIN ?? path.resolve(__dirname, '../../src/main.js');
const RAW_JS = path.resolve(__dirname, 'raw-graphql.server.js');
const QUERY = JSON.stringify({ query: '{ me { role } }' });
const GOAL = 0.7;

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
  },
});

const cleanups: (() => Promise<void>)[] = [];

async function withPg<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: PG_SERVER, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(): Promise<string> {
  const name = `intercloud_bench_${crypto.randomBytes(5).toString('hex')}`;
  await withPg((c) => c.query(`CREATE DATABASE ${name}`));
  cleanups.push(() => withPg((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined));
  const u = new URL(PG_SERVER);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Starts `node script` with `env` and resolves with the URL of its first `listening on <url>` line. */
async function startProcess(what: string, script: string, env: NodeJS.ProcessEnv, pattern: RegExp, nodeArgs: string[] = []): Promise<{ url: string; pid: number }> {
  if (!fs.existsSync(script)) throw new Error(`${script} is missing: run through \`npm run bench:api\` (it builds first)`);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  child.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 60 s:\n${output.slice(-2000)}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString('utf8');
      const m = pattern.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(() => reject(new Error(`${what} exited before listening:\n${output.slice(-2000)}`)));
  });
  return { url, pid: child.pid! };
}

interface Target {
  name: string;
  url: string;
  token: string;
  pid: number;
}

/** CPU seconds (user + system) the process has used so far, or null where /proc is missing. */
function cpuSeconds(pid: number): number | null {
  try {
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 12th, stime the 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  bad: number;
  /** CPU milliseconds the server spent per request answered (NaN without /proc). */
  cpuMs: number;
}

async function load(t: Target, seconds: number): Promise<Figures> {
  const cpuBefore = cpuSeconds(t.pid);
  const r = await autocannon({
    url: t.url,
    method: 'POST',
    connections: Number(args.connections),
    duration: seconds,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
    body: QUERY,
  });
  const cpuAfter = cpuSeconds(t.pid);
  const cpuMs = cpuBefore === null || cpuAfter === null || r.requests.total === 0 ? NaN : ((cpuAfter - cpuBefore) * 1000) / r.requests.total;
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, bad: r.non2xx + r.errors + r.timeouts, cpuMs };
}

/** One real answer before the load: the same query must succeed on both, or the figures mean nothing. */
async function check(t: Target): Promise<void> {
  const res = await request(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` }, body: QUERY });
  const body = (await res.body.json()) as { data?: { me?: { role?: string } } };
  if (res.statusCode !== 200 || body.data?.me?.role !== 'ADMIN') throw new Error(`${t.name} answered ${res.statusCode} ${JSON.stringify(body)}`);
}

const fmt = (n: number, digits = 0) => n.toFixed(digits).padStart(9);

async function main(): Promise<void> {
  const databaseUrl = await createDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-api-'));
  cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const adminToken = `icb_bench_${crypto.randomBytes(24).toString('base64url')}`;
  const broker = await startProcess(
    'the broker',
    MAIN_JS,
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
      INTERCLOUD_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '1000000',
      SHUTDOWN_GRACE_MS: '3000',
    },
    /^Intercloud broker listening on (\S+)$/m,
    // To look inside: BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
    (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  );
  const raw = await startProcess('the raw graphql-js server', RAW_JS, { PATH: process.env.PATH }, /^listening on (\S+)$/m);
  const targets: Target[] = [
    { name: 'raw graphql-js', url: raw.url, token: 'bench', pid: raw.pid },
    { name: 'broker', url: broker.url, token: adminToken, pid: broker.pid },
  ];
  for (const t of targets) await check(t);
  console.log(`{ me { role } } at ${args.connections} connections, ${args.rounds} alternating rounds of ${args.seconds} s each (after ${args.warmup} s warm-up), ${os.cpus().length} CPUs`);
  for (const t of targets) await load(t, Number(args.warmup));
  const results = new Map<string, Figures[]>(targets.map((t) => [t.name, []]));
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const t of targets) {
      const f = await load(t, Number(args.seconds));
      results.get(t.name)!.push(f);
      console.log(`  round ${round} ${t.name.padEnd(15)} ${fmt(f.rps)} req/s  p50 ${fmt(f.p50, 1)} ms  p99 ${fmt(f.p99, 1)} ms  cpu ${fmt(f.cpuMs, 3)} ms/req  ${f.bad} failed of ${f.requests}`);
    }
  }
  const mean = (runs: Figures[], k: keyof Figures) => runs.reduce((s, f) => s + f[k], 0) / runs.length;
  console.log('\n  target              req/s     p50 ms     p99 ms  cpu ms/req');
  for (const t of targets) {
    const runs = results.get(t.name)!;
    console.log(`  ${t.name.padEnd(15)} ${fmt(mean(runs, 'rps'))} ${fmt(mean(runs, 'p50'), 1)}  ${fmt(mean(runs, 'p99'), 1)}  ${fmt(mean(runs, 'cpuMs'), 3)}`);
  }
  const ratio = mean(results.get('broker')!, 'rps') / mean(results.get('raw graphql-js')!, 'rps');
  const failed = [...results.values()].flat().reduce((s, f) => s + f.bad, 0);
  const cpuRatio = mean(results.get('raw graphql-js')!, 'cpuMs') / mean(results.get('broker')!, 'cpuMs');
  console.log(`\n  ratio broker/raw: ${ratio.toFixed(2)} (goal >= ${GOAL}: ${ratio >= GOAL ? 'met' : 'NOT met'})${failed > 0 ? `; ${failed} requests failed: figures suspect` : ''}`);
  if (!Number.isNaN(cpuRatio)) console.log(`  CPU per request, raw/broker: ${cpuRatio.toFixed(2)} (CPU the raw server spends per request over what the broker spends: the throughput ratio on a machine with spare cores)`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error('cleanup failed:', err));
  });
