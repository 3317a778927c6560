/**
 * Event fan-out benchmark: 1,000 `auditEvents` subscribers on one stream (500 graphql-ws
 * connections over loopback, two subscriptions each) of a real broker process
 * (`node dist/src/main.js`), while this process publishes 10 events/s to that stream through
 * the bus adapter. Run twice, side by side: EVENT_FANOUT=per-subscriber (the old delivery, each
 * subscriber reads the table on every event) as the baseline, then `shared`. It prints, per
 * run, commit -> delivery p50/p99 (from just before COMMIT is sent to the frame's arrival at
 * the client, so commit time is included) and reads of the events table per event, and the
 * ratios. It asserts nothing.
 *
 * Reads are PostgreSQL's own count (pg_stat_user_tables: seq_scan + idx_scan of `events`),
 * taken when every subscriber has replayed and again after the broker has exited (a backend
 * flushes its counts when it exits, and an idle one within 10 s, hence the pause before the
 * first count).
 *
 *   npm run bench:events -- [--subscribers 1000] [--per-connection 2] [--rate 10] [--seconds 15]
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
import { Client as WsClient } from 'graphql-ws';
import { Client } from 'pg';
import pino from 'pino';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { EventFanout, PostgresEventBus } from '../../src/adapters/postgres/postgres-event-bus';
import { auditStream } from '../../src/services/audit.service';
import { gqlOk, wsClient } from '../support/graphql';

const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN_JS = path.resolve(__dirname, '../../src/main.js');
/** PostgreSQL flushes an idle backend's table counts within 10 s (PGSTAT_IDLE_INTERVAL). */
const STATS_FLUSH_MS = 11_000;
const AUDIT_EVENTS = 'subscription($afterSeq: Int) { auditEvents(afterSeq: $afterSeq) { seq } }';

interface Options {
  subscribers: number;
  perConnection: number;
  rate: number;
  seconds: number;
}

interface RunResult {
  fanout: EventFanout;
  events: number;
  deliveries: number;
  expected: number;
  p50: number;
  p99: number;
  readsPerEvent: number;
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
  const child = spawn(process.execPath, [MAIN_JS], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.homedir(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

async function run(fanout: EventFanout, o: Options, databaseUrl: string, adminToken: string, secretKey: string): Promise<RunResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-events-'));
  const connections = Math.ceil(o.subscribers / o.perConnection);
  const broker = await startBroker({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    INTERCLOUD_ADMIN_TOKEN: adminToken,
    INTERCLOUD_SECRET_KEY: secretKey,
    INTERCLOUD_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    EVENT_FANOUT: fanout,
    SHUTDOWN_GRACE_MS: '2000',
    WS_MAX_CONNECTIONS_PER_ADDRESS: String(connections + 10),
    WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(o.perConnection + 1),
    RATE_LIMIT_PER_MINUTE: '1000000',
  });
  const ds = createDataSource(databaseUrl, 2);
  await ds.initialize();
  const bus = new PostgresEventBus(ds, databaseUrl, pino({ level: 'silent' }));
  const clients: WsClient[] = [];
  try {
    const tenantId = (await gqlOk(broker.url, adminToken, '{ me { tenantId } }')).me.tenantId as string;
    const stream = auditStream(tenantId);
    const publishOne = async (): Promise<{ seq: number; sentAt: number }> => {
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

    // Every subscriber replays from one event back, so its first frame says it is live.
    const first = await publishOne();
    const arrivals = new Map<number, number[]>();
    let live = 0;
    for (let c = 0; c < connections; c++) {
      const client = wsClient(broker.url, adminToken);
      clients.push(client);
      for (let s = 0; s < o.perConnection && c * o.perConnection + s < o.subscribers; s++) {
        let seen = false;
        client.subscribe<{ auditEvents: { seq: number } }>(
          { query: AUDIT_EVENTS, variables: { afterSeq: first.seq - 1 } },
          {
            next: (r) => {
              const now = performance.now();
              const seq = r.data?.auditEvents.seq;
              if (seq === undefined) return;
              if (!seen) {
                seen = true;
                live++;
              }
              if (seq > first.seq) (arrivals.get(seq) ?? arrivals.set(seq, []).get(seq)!).push(now);
            },
            error: (err) => console.error(`subscription error: ${JSON.stringify(err)}`),
            complete: () => undefined,
          },
        );
      }
    }
    const deadline = Date.now() + 60_000;
    while (live < o.subscribers && Date.now() < deadline) await sleep(100);
    if (live < o.subscribers) throw new Error(`only ${live} of ${o.subscribers} subscribers went live`);
    await sleep(STATS_FLUSH_MS);
    const readsBefore = await eventReads(databaseUrl);

    const total = Math.round(o.rate * o.seconds);
    const sent = new Map<number, number>();
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / o.rate - performance.now();
      if (wait > 0) await sleep(wait);
      const p = await publishOne();
      sent.set(p.seq, p.sentAt);
    }
    const settle = Date.now() + 10_000;
    const delivered = () => [...arrivals.values()].reduce((n, a) => n + a.length, 0);
    while (delivered() < total * o.subscribers && Date.now() < settle) await sleep(100);

    const latencies: number[] = [];
    for (const [seq, times] of arrivals) {
      const at = sent.get(seq);
      if (at !== undefined) for (const t of times) latencies.push(t - at);
    }
    latencies.sort((a, b) => a - b);
    for (const c of clients.splice(0)) await c.dispose();
    await stopBroker(broker.child);
    await sleep(500); // the broker's backends report their counts as they exit
    const reads = (await eventReads(databaseUrl)) - readsBefore;
    return { fanout, events: total, deliveries: latencies.length, expected: total * o.subscribers, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), readsPerEvent: reads / total };
  } finally {
    for (const c of clients) await Promise.resolve(c.dispose()).catch(() => undefined);
    await stopBroker(broker.child);
    await ds.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { subscribers: { type: 'string', default: '1000' }, 'per-connection': { type: 'string', default: '2' }, rate: { type: 'string', default: '10' }, seconds: { type: 'string', default: '15' } },
  });
  const o: Options = { subscribers: Number(values.subscribers), perConnection: Number(values['per-connection']), rate: Number(values.rate), seconds: Number(values.seconds) };
  const name = `intercloud_bench_events_${crypto.randomBytes(4).toString('hex')}`;
  await withPg(PG_SERVER, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(PG_SERVER);
  u.pathname = `/${name}`;
  const adminToken = `icb_bench_${crypto.randomBytes(24).toString('base64url')}`;
  const secretKey = crypto.randomBytes(32).toString('base64');
  console.log(`bench:events: ${o.subscribers} subscribers on one stream over ${Math.ceil(o.subscribers / o.perConnection)} connections, ${o.rate} events/s for ${o.seconds} s, loopback`);
  try {
    const results: RunResult[] = [];
    for (const fanout of ['per-subscriber', 'shared'] as const) {
      const r = await run(fanout, o, u.toString(), adminToken, secretKey);
      results.push(r);
      console.log(
        `${fanout.padEnd(15)} delivered ${r.deliveries}/${r.expected}  commit->delivery p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  reads/event ${r.readsPerEvent.toFixed(2)}`,
      );
    }
    const [base, shared] = results;
    console.log(`ratio shared/per-subscriber: p50 ${(shared.p50 / base.p50).toFixed(2)}  p99 ${(shared.p99 / base.p99).toFixed(2)}  reads/event ${(shared.readsPerEvent / base.readsPerEvent).toFixed(4)}`);
    console.log(`goal p99 <= 50 ms: ${shared.p99 <= 50 ? 'met' : 'not met'} (${shared.p99.toFixed(1)} ms); reads per event independent of subscribers: ${shared.readsPerEvent <= 1 ? 'met' : 'not met'} (${shared.readsPerEvent.toFixed(2)})`);
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
