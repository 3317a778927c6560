/**
 * Event fan-out benchmark: 1,000 `auditEvents` subscribers on one stream (500 graphql-ws
 * connections over loopback, two subscriptions each) of real broker processes
 * (`node dist/src/main.js`), while this process publishes 10 events/s to that stream through
 * the bus adapter. Runs, side by side in one invocation (`--runs`, in this order):
 *   per-subscriber  EVENT_FANOUT=per-subscriber: each subscriber reads the table on every event
 *                   (the delivery before the shared reader; off by default, it is slow);
 *   unshared        shared reader, WS_SHARED_EXECUTION=off: graphql-js executes the selection
 *                   set once per subscriber per event (the delivery before shared executions);
 *   shared-unbatched  shared reader and executions, WS_BATCHED_FRAMES=off: graphql-ws serialises
 *                   every frame and each frame is its own socket write (the delivery before
 *                   src/api/ws-frames.ts);
 *   shared          shared reader, shared executions, batched frames (the default configuration);
 *   shared-2-unbatched, shared-2  the same two, subscribers over two broker replicas on one database.
 * Per run it prints commit -> delivery p50/p99 (from just before COMMIT is sent to the frame's
 * arrival at the client, so commit time is included), reads of the events table per event, and
 * PASS/FAIL against the 50 ms p99 goal; then the ratios against `unshared` and of each batched
 * run against its unbatched twin.
 *
 * The clients run in `--client-workers` worker threads (default 2, events-clients.ts), not in the
 * publishing thread; an arrival is timed as its frame is handled. To tell client lag from broker
 * lag each run also prints the event-loop delay (p99 and max over the window) of the worst broker
 * (prom-client's histogram, reset by a /metrics read as the window starts) and of the worst
 * client thread, and the busiest client thread's event-loop utilisation.
 *
 * Then (`--idle`, default 10,000; 0 skips it) idle subscribers on one replica and on two: the
 * brokers' RSS and V8 heap (from their /metrics) before the subscriptions and once all are live
 * (each has replayed one event), and the difference per subscriber. It asserts nothing.
 *
 * Reads are PostgreSQL's own count (pg_stat_user_tables: seq_scan + idx_scan of `events`),
 * taken when every subscriber has replayed and again after the broker has exited (a backend
 * flushes its counts when it exits, and an idle one within 10 s, hence the pause before the
 * first count).
 *
 *   npm run bench:events -- [--subscribers 1000] [--per-connection 2] [--rate 10] [--seconds 15]
 *                           [--runs unshared,shared-unbatched,shared,shared-2-unbatched,shared-2]
 *                           [--idle 10000] [--idle-per-connection 20] [--client-workers 2]
 *
 * Environment: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
 * database is created and dropped there).
 */
import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Client } from 'pg';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { EventFanout, PostgresEventBus } from '../../src/adapters/postgres/postgres-event-bus';
import { auditStream } from '../../src/services/audit.service';
import { gqlOk } from '../support/graphql';
import type { ClientsReport, ClientsWorkerData } from './events-clients';

const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN_JS = path.resolve(__dirname, '../../src/main.js');
/** PostgreSQL flushes an idle backend's table counts within 10 s (PGSTAT_IDLE_INTERVAL). */
const STATS_FLUSH_MS = 11_000;

interface Options {
  subscribers: number;
  perConnection: number;
  rate: number;
  seconds: number;
  /** Worker threads the subscribers' connections are spread over. */
  clientWorkers: number;
}

/** One configuration measured: how the brokers deliver, and over how many replicas. */
interface RunSpec {
  name: string;
  fanout: EventFanout;
  sharedExecution: boolean;
  /** WS_BATCHED_FRAMES: one serialisation per shared result, one socket write per connection per tick. */
  batchedFrames: boolean;
  replicas: number;
}

const RUNS: Record<string, RunSpec> = {
  'per-subscriber': { name: 'per-subscriber', fanout: 'per-subscriber', sharedExecution: false, batchedFrames: false, replicas: 1 },
  unshared: { name: 'unshared', fanout: 'shared', sharedExecution: false, batchedFrames: false, replicas: 1 },
  'shared-unbatched': { name: 'shared-unbatched', fanout: 'shared', sharedExecution: true, batchedFrames: false, replicas: 1 },
  'shared-2-unbatched': { name: 'shared-2-unbatched', fanout: 'shared', sharedExecution: true, batchedFrames: false, replicas: 2 },
  shared: { name: 'shared', fanout: 'shared', sharedExecution: true, batchedFrames: true, replicas: 1 },
  'shared-2': { name: 'shared-2', fanout: 'shared', sharedExecution: true, batchedFrames: true, replicas: 2 },
};

interface RunResult {
  spec: RunSpec;
  /** CPU time of the brokers (user + system) while events were published and delivered, per delivery. */
  brokerCpuUsPerDelivery: number;
  /** The same for this process, whose clients receive and parse every frame: on a loaded machine it competes with the brokers. */
  clientCpuUsPerDelivery: number;
  events: number;
  deliveries: number;
  expected: number;
  p50: number;
  p99: number;
  readsPerEvent: number;
  /** Event-loop delay over the measured window, ms: the worst broker, and the worst client worker thread. */
  brokerLoopP99: number;
  brokerLoopMax: number;
  clientLoopP99: number;
  clientLoopMax: number;
  /** The busiest client thread's event-loop utilisation over the window (near 1: the clients could not keep up). */
  clientLoopUtilisation: number;
}

const GOAL_P99_MS = 50;
const CONNECT_BATCH = 25;
const REPLAY_BATCH = 500;

/** utime + stime of a process so far, ms (clock ticks of 10 ms on Linux). */
function cpuMs(child: ChildProcess): number {
  const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);

async function withPg<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Index and sequential scans of `events` so far, as PostgreSQL counted them. */
const eventReads = (url: string) =>
  withPg(url, async (c) => {
    const { rows } = await c.query(`SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE relname = 'events'`);
    return Number(rows[0].n);
  });

function startBroker(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  // To look inside a broker: BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
  const nodeArgs = (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, MAIN_JS], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.homedir(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out}`)), 60_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^Intercloud broker listening on (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('exit', (code) => reject(new Error(`broker exited (${code}) before listening: ${out}`)));
  });
}

async function stopBroker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

interface Setting {
  databaseUrl: string;
  adminToken: string;
  secretKey: string;
}

interface Brokers {
  list: { child: ChildProcess; url: string }[];
  stop(): Promise<void>;
}

/** `replicas` broker processes on one database, sized for `connections` x `perConnection` subscriptions. */
async function startBrokers(spec: Omit<RunSpec, 'name'>, connections: number, perConnection: number, set: Setting): Promise<Brokers> {
  const dataDirs: string[] = [];
  const list: Brokers['list'] = [];
  const stop = async () => {
    for (const b of list) await stopBroker(b.child);
    for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < spec.replicas; i++) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-events-'));
      dataDirs.push(dataDir);
      list.push(
        await startBroker({
          DATABASE_URL: set.databaseUrl,
          PORT: '0',
          HOST: '127.0.0.1',
          INTERCLOUD_ADMIN_TOKEN: set.adminToken,
          INTERCLOUD_SECRET_KEY: set.secretKey,
          INTERCLOUD_DATA_DIR: dataDir,
          LOG_LEVEL: 'warn',
          EVENT_FANOUT: spec.fanout,
          WS_SHARED_EXECUTION: spec.sharedExecution ? 'on' : 'off',
          WS_BATCHED_FRAMES: spec.batchedFrames ? 'on' : 'off',
          SHUTDOWN_GRACE_MS: '2000',
          WS_MAX_CONNECTIONS_PER_ADDRESS: String(connections + 10),
          WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(perConnection + 1),
          RATE_LIMIT_PER_MINUTE: '1000000',
        }),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { list, stop };
}

/** Publishes one audit event to the admin tenant's stream; `sentAt` is taken just before COMMIT. */
function publisher(ds: DataSource, bus: PostgresEventBus, tenantId: string) {
  const stream = auditStream(tenantId);
  return async (): Promise<{ seq: number; sentAt: number }> => {
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const at = new Date().toISOString();
      const e = await bus.publish(runner.manager, { stream, tenantId, type: 'audit', payload: { actorTokenId: null, action: 'bench.tick', objectType: 'Bench', objectId: 'bench', details: {}, at } });
      const sentAt = performance.now();
      await runner.commitTransaction();
      return { seq: e.seq, sentAt };
    } finally {
      await runner.release();
    }
  };
}

/** The subscribers, spread over worker threads (events-clients.ts). */
interface ClientPool {
  live(): number;
  received(): number;
  /** Starts the measured window of the workers' event-loop figures. */
  measure(): void;
  report(): Promise<ClientsReport[]>;
  dispose(): Promise<void>;
}

/**
 * Opens `subscribers` subscriptions replaying from `fromSeq` (so their first frame says they are
 * live) over `workers` worker threads, connections alternating over the brokers.
 */
async function subscribeAll(urls: string[], adminToken: string, subscribers: number, perConnection: number, fromSeq: number, workers: number): Promise<ClientPool> {
  const connections = Math.ceil(subscribers / perConnection);
  const threads: { worker: Worker; live: number; received: number; errors: number }[] = [];
  let firstConnection = 0;
  for (let w = 0; w < workers; w++) {
    const count = Math.floor(connections / workers) + (w < connections % workers ? 1 : 0);
    const data: ClientsWorkerData = {
      urls,
      adminToken,
      subscribers: Math.min(count * perConnection, subscribers - firstConnection * perConnection),
      perConnection,
      firstConnection,
      fromSeq,
      connectBatch: Math.max(1, Math.floor(CONNECT_BATCH / workers)),
      replayBatch: Math.max(1, Math.floor(REPLAY_BATCH / workers)),
    };
    firstConnection += count;
    const t = { worker: new Worker(path.join(__dirname, 'events-clients.js'), { workerData: data }), live: 0, received: 0, errors: 0 };
    t.worker.on('message', (m: { type: string; live?: number; received?: number; errors?: number }) => {
      if (m.type === 'progress') Object.assign(t, { live: m.live, received: m.received, errors: m.errors });
    });
    t.worker.on('error', (err) => console.error('client worker failed:', err));
    threads.push(t);
  }
  const ask = <T>(t: (typeof threads)[number], type: string, answer: string) =>
    new Promise<T>((resolve) => {
      const on = (m: { type: string }) => {
        if (m.type !== answer) return;
        t.worker.off('message', on);
        resolve(m as T);
      };
      t.worker.on('message', on);
      t.worker.postMessage({ type });
    });
  const pool: ClientPool = {
    live: () => threads.reduce((n, t) => n + t.live, 0),
    received: () => threads.reduce((n, t) => n + t.received, 0),
    measure: () => threads.forEach((t) => t.worker.postMessage({ type: 'measure' })),
    report: () => Promise.all(threads.map((t) => ask<ClientsReport>(t, 'report', 'report'))),
    dispose: async () => {
      await Promise.all(threads.map((t) => ask(t, 'dispose', 'disposed')));
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
  const deadline = Date.now() + 120_000;
  while (pool.live() < subscribers && Date.now() < deadline) await sleep(100);
  if (pool.live() < subscribers) {
    const live = pool.live();
    const errors = threads.reduce((n, t) => n + t.errors, 0);
    await pool.dispose();
    throw new Error(`only ${live} of ${subscribers} subscribers went live (${errors} subscription errors)`);
  }
  return pool;
}

/** The p99 and max of a broker's event-loop delay since its /metrics was last read (prom-client resets the histogram on every read). */
async function brokerLoopDelay(broker: { url: string }): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(new URL('/metrics', broker.url))).text();
  const read = (name: string) => Number(new RegExp(`^intercloud_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99: read('p99'), max: read('max') };
}

async function run(spec: RunSpec, o: Options, set: Setting): Promise<RunResult> {
  const connections = Math.ceil(o.subscribers / o.perConnection);
  const brokers = await startBrokers(spec, connections, o.perConnection, set);
  const urls = brokers.list.map((b) => b.url);
  const ds = createDataSource(set.databaseUrl, 2);
  await ds.initialize();
  const bus = new PostgresEventBus(ds, set.databaseUrl, pino({ level: 'silent' }));
  let pool: ClientPool | null = null;
  try {
    const tenantId = (await gqlOk(urls[0], set.adminToken, '{ me { tenantId } }')).me.tenantId as string;
    const publishOne = publisher(ds, bus, tenantId);
    const first = await publishOne();
    pool = await subscribeAll(urls, set.adminToken, o.subscribers, o.perConnection, first.seq, o.clientWorkers);
    await sleep(STATS_FLUSH_MS);
    const readsBefore = await eventReads(set.databaseUrl);

    const total = Math.round(o.rate * o.seconds);
    const sent = new Map<number, number>();
    await Promise.all(brokers.list.map(brokerLoopDelay)); // starts the brokers' loop-delay window
    pool.measure();
    const cpuBefore = brokers.list.reduce((n, b) => n + cpuMs(b.child), 0);
    const clientBefore = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / o.rate - performance.now();
      if (wait > 0) await sleep(wait);
      const p = await publishOne();
      sent.set(p.seq, performance.timeOrigin + p.sentAt);
    }
    const settle = Date.now() + 10_000;
    while (pool.received() < total * o.subscribers && Date.now() < settle) await sleep(100);
    const brokerCpuMs = brokers.list.reduce((n, b) => n + cpuMs(b.child), 0) - cpuBefore;
    const client = process.cpuUsage(clientBefore);
    const brokerLoop = await Promise.all(brokers.list.map(brokerLoopDelay));
    const reports = await pool.report();

    const latencies: number[] = [];
    for (const r of reports) {
      for (let i = 0; i < r.arrivals.length; i += 2) {
        const at = sent.get(r.arrivals[i]);
        if (at !== undefined) latencies.push(r.arrivals[i + 1] - at);
      }
    }
    latencies.sort((a, b) => a - b);
    const brokerCpuUsPerDelivery = (brokerCpuMs * 1000) / Math.max(1, latencies.length);
    const clientCpuUsPerDelivery = (client.user + client.system) / Math.max(1, latencies.length);
    await pool.dispose();
    pool = null;
    await brokers.stop();
    await sleep(500); // the brokers' backends report their counts as they exit
    const reads = (await eventReads(set.databaseUrl)) - readsBefore;
    return {
      spec,
      brokerCpuUsPerDelivery,
      clientCpuUsPerDelivery,
      events: total,
      deliveries: latencies.length,
      expected: total * o.subscribers,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      readsPerEvent: reads / total,
      brokerLoopP99: Math.max(...brokerLoop.map((l) => l.p99)),
      brokerLoopMax: Math.max(...brokerLoop.map((l) => l.max)),
      clientLoopP99: Math.max(...reports.map((r) => r.loopDelayP99Ms)),
      clientLoopMax: Math.max(...reports.map((r) => r.loopDelayMaxMs)),
      clientLoopUtilisation: Math.max(...reports.map((r) => r.loopUtilisation)),
    };
  } finally {
    await pool?.dispose();
    await brokers.stop();
    await ds.destroy();
  }
}

interface Memory {
  rss: number;
  heap: number;
}

/** A broker's resident set (from /proc) and V8 heap in use (from its own /metrics). */
async function memoryOf(broker: { child: ChildProcess; url: string }): Promise<Memory> {
  const status = fs.readFileSync(`/proc/${broker.child.pid}/status`, 'utf8');
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024;
  const text = await (await fetch(new URL('/metrics', broker.url))).text();
  const heap = Number(/^intercloud_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
  return { rss, heap };
}

/**
 * `subscribers` idle subscriptions over `replicas` brokers: memory per broker before and once
 * all are live, then one event to all of them (they are held, not just counted).
 */
async function idle(replicas: number, subscribers: number, perConnection: number, workers: number, set: Setting): Promise<void> {
  const connections = Math.ceil(subscribers / perConnection);
  const brokers = await startBrokers({ fanout: 'shared', sharedExecution: true, batchedFrames: true, replicas }, connections, perConnection, set);
  const ds = createDataSource(set.databaseUrl, 2);
  await ds.initialize();
  const bus = new PostgresEventBus(ds, set.databaseUrl, pino({ level: 'silent' }));
  let pool: ClientPool | null = null;
  try {
    const tenantId = (await gqlOk(brokers.list[0].url, set.adminToken, '{ me { tenantId } }')).me.tenantId as string;
    const publishOne = publisher(ds, bus, tenantId);
    const first = await publishOne();
    await sleep(2000);
    const before = await Promise.all(brokers.list.map(memoryOf));
    pool = await subscribeAll(
      brokers.list.map((b) => b.url),
      set.adminToken,
      subscribers,
      perConnection,
      first.seq,
      workers,
    );
    await sleep(2000);
    const after = await Promise.all(brokers.list.map(memoryOf));
    await publishOne();
    const deadline = Date.now() + 30_000;
    while (pool.received() < subscribers && Date.now() < deadline) await sleep(100);
    const lastSeen = pool.received();
    const perReplica = subscribers / replicas;
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    brokers.list.forEach((_, i) => {
      const rss = (after[i].rss - before[i].rss) / perReplica;
      const heap = (after[i].heap - before[i].heap) / perReplica;
      console.log(
        `idle ${subscribers} subscribers over ${connections} connections, replica ${i + 1}/${replicas}: RSS ${mib(before[i].rss)} -> ${mib(after[i].rss)} MiB, heap ${mib(before[i].heap)} -> ${mib(after[i].heap)} MiB; per subscriber RSS ${(rss / 1024).toFixed(1)} KiB, heap ${(heap / 1024).toFixed(1)} KiB`,
      );
    });
    console.log(`idle ${subscribers} over ${replicas} replica(s): a live event reached ${lastSeen}/${subscribers} of them: ${lastSeen === subscribers ? 'PASS' : 'FAIL'}`);
  } finally {
    await pool?.dispose();
    await brokers.stop();
    await ds.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '1000' },
      'per-connection': { type: 'string', default: '2' },
      rate: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '15' },
      runs: { type: 'string', default: 'unshared,shared-unbatched,shared,shared-2-unbatched,shared-2' },
      idle: { type: 'string', default: '10000' },
      'idle-per-connection': { type: 'string', default: '20' },
      'client-workers': { type: 'string', default: '2' },
    },
  });
  const o: Options = { subscribers: Number(values.subscribers), perConnection: Number(values['per-connection']), rate: Number(values.rate), seconds: Number(values.seconds), clientWorkers: Math.max(1, Number(values['client-workers'])) };
  const specs = values.runs.split(',').filter((name) => name.trim() !== '').map((name) => {
    const spec = RUNS[name.trim()];
    if (!spec) throw new Error(`--runs: unknown run ${name}; known: ${Object.keys(RUNS).join(', ')}`);
    return spec;
  });
  const name = `intercloud_bench_events_${crypto.randomBytes(4).toString('hex')}`;
  await withPg(PG_SERVER, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(PG_SERVER);
  u.pathname = `/${name}`;
  const set: Setting = { databaseUrl: u.toString(), adminToken: `icb_bench_${crypto.randomBytes(24).toString('base64url')}`, secretKey: crypto.randomBytes(32).toString('base64') };
  console.log(`bench:events: ${o.subscribers} subscribers on one stream over ${Math.ceil(o.subscribers / o.perConnection)} connections, ${o.rate} events/s for ${o.seconds} s, loopback; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}`);
  try {
    const results: RunResult[] = [];
    for (const spec of specs) {
      const r = await run(spec, o, set);
      results.push(r);
      console.log(
        `${spec.name.padEnd(15)} replicas ${spec.replicas}  delivered ${r.deliveries}/${r.expected}  commit->delivery p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  reads/event ${r.readsPerEvent.toFixed(2)}  CPU/delivery broker ${r.brokerCpuUsPerDelivery.toFixed(0)} us, clients ${r.clientCpuUsPerDelivery.toFixed(0)} us  loop delay p99/max broker ${r.brokerLoopP99.toFixed(0)}/${r.brokerLoopMax.toFixed(0)} ms, clients ${r.clientLoopP99.toFixed(0)}/${r.clientLoopMax.toFixed(0)} ms (busiest client thread ${(100 * r.clientLoopUtilisation).toFixed(0)}% busy)  load ${os.loadavg()[0].toFixed(1)}  p99 <= ${GOAL_P99_MS} ms: ${r.p99 <= GOAL_P99_MS && r.deliveries === r.expected ? 'PASS' : 'FAIL'}`,
      );
    }
    const base = results.find((r) => r.spec.name === 'unshared');
    if (base) {
      for (const r of results.filter((x) => x !== base)) {
        console.log(`ratio ${r.spec.name}/unshared: p50 ${(r.p50 / base.p50).toFixed(2)}  p99 ${(r.p99 / base.p99).toFixed(2)}  broker CPU per delivery ${(r.brokerCpuUsPerDelivery / base.brokerCpuUsPerDelivery).toFixed(2)}`);
      }
    }
    for (const r of results) {
      const twin = results.find((x) => x.spec.name === `${r.spec.name}-unbatched`);
      if (twin) console.log(`ratio ${r.spec.name}/${twin.spec.name}: p50 ${(r.p50 / twin.p50).toFixed(2)}  p99 ${(r.p99 / twin.p99).toFixed(2)}  broker CPU per delivery ${(r.brokerCpuUsPerDelivery / twin.brokerCpuUsPerDelivery).toFixed(2)}`);
    }
    for (const r of results.filter((x) => x.spec.fanout === 'shared')) {
      console.log(`reads per event independent of subscribers (${r.spec.name}): ${r.readsPerEvent <= 1 ? 'PASS' : 'FAIL'} (${r.readsPerEvent.toFixed(2)})`);
    }
    const idleCount = Number(values.idle);
    if (idleCount > 0) {
      for (const replicas of [1, 2]) await idle(replicas, idleCount, Number(values['idle-per-connection']), o.clientWorkers, set);
    }
  } finally {
    await withPg(PG_SERVER, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
