/**
 * Scheduler and ingestion at scale (issue 12, part 3), on a real PostgreSQL (BENCH_POSTGRES_URL,
 * default 127.0.0.1:5432 when it answers, else an embedded one) in a fresh database, with an
 * in-process broker whose own scheduler is idle (the bench drives the rounds):
 *
 * - a fleet seeded set-based: 100 clouds, 1,000 VM types (a SCALE_UP and a SCALE_DOWN threshold
 *   each; 1 in 10 overloaded at its maximum, so its verdict is a blocked decision), 10,000 VMs,
 *   samples every 15 s for both metrics of every VM over the longest hold window;
 * - one scheduler tick over everything (AutoscalerService.evaluateAll): wall time and statements
 *   (a counting TypeORM logger), the first round (every block new, stored) and the steady one; the
 *   baseline is the per-type evaluation (evaluate(vmTypeId) one type after another, the shape of
 *   the old evaluateAll) in the same run, and both must reach the same verdicts;
 * - sample ingestion through the real SampleService.record (recordSamples' use case), batches of
 *   1,000 from 4 concurrent callers, sustained for --ingest-seconds;
 * - matchmake over --match-clouds sandbox clouds (registered through the API) for a VM imported
 *   from one of them, through GraphQL: the first call and the p50/p95 of the next ones, so a quota
 *   cache (MATCHMAKING_CACHE_SECONDS, when the broker has it) shows in the warm figure;
 * - table growth: rows and bytes of samples, scaling_decisions and events for one simulated hour
 *   at this fleet's rates (720 ticks of 5 s, 10,000 x 2 samples per 15 s), from the measured bytes
 *   per row, and the size they level off at under the retention settings.
 *
 * Each figure is printed with its goal and PASS/FAIL. It asserts nothing.
 *
 *   npm run bench:scale -- [--types 1000] [--vms-per-type 10] [--clouds 100] [--match-clouds 100] [--ingest-seconds 15]
 *
 * `--match-clouds 0` skips the matchmake part (starting 100 sandbox clouds takes minutes on a busy machine).
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { startEmbeddedPostgres } from '../../src/adapters/postgres/embedded-postgres';
import { loadConfig } from '../../src/config';
import { SampleState } from '../../src/domain/enums';
import { Principal } from '../../src/domain/principal';
import { Role } from '../../src/domain/roles';
import { AutoscalerService, TypeEvaluation } from '../../src/services/autoscaler.service';
import { startTestBroker, TestBroker } from '../support/broker';
import { registerSandboxCloud, setUpClone } from '../support/clone-fixture';
import { gqlOk } from '../support/graphql';
import { labCloudApiFactory, startSandboxClouds } from '../support/sandbox';
import { countQueries, LONGEST_HOLD_SECONDS, SCALE_DOWN_METRIC, SCALE_UP_METRIC, seedScale } from '../support/scale-seed';

const GOALS = { tickMs: 1000, samplesPerSecond: 1300, matchmakeMs: 100 };
const SAMPLE_EVERY_S = 15;
const TICK_S = 5;

const { values: args } = parseArgs({
  options: {
    types: { type: 'string', default: '1000' },
    'vms-per-type': { type: 'string', default: '10' },
    clouds: { type: 'string', default: '100' },
    'match-clouds': { type: 'string', default: '100' },
    'ingest-seconds': { type: 'string', default: '15' },
  },
});
const TYPES = Number(args.types);
const VMS_PER_TYPE = Number(args['vms-per-type']);
const CLOUDS = Number(args.clouds);
const MATCH_CLOUDS = Number(args['match-clouds']);
const INGEST_SECONDS = Number(args['ingest-seconds']);

const cleanups: (() => Promise<unknown>)[] = [];
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const ms = (x: number) => `${x.toFixed(0)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** 127.0.0.1:5432 (or BENCH_POSTGRES_URL) when it answers, else an embedded PostgreSQL in a temporary directory. */
async function postgresServer(): Promise<{ url: string; where: string }> {
  const url = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const probe = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await probe.connect();
    await probe.end();
    return { url, where: `PostgreSQL at ${new URL(url).host}` };
  } catch {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-pg-'));
    const embedded = await startEmbeddedPostgres(dir, pino({ level: 'warn' }));
    cleanups.push(async () => {
      await embedded.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return { url: embedded.url, where: 'embedded PostgreSQL' };
  }
}

async function freshDatabase(serverUrl: string): Promise<string> {
  const name = `intercloud_bench_scale_${crypto.randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  cleanups.push(async () => {
    const c = new Client({ connectionString: serverUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function tableSize(ds: DataSource, table: 'samples' | 'scaling_decisions' | 'events'): Promise<{ rows: number; bytes: number }> {
  const [row] = await ds.query(`SELECT (SELECT count(*) FROM ${table})::bigint AS rows, pg_total_relation_size($1::regclass)::bigint AS bytes`, [table]);
  return { rows: Number(row.rows), bytes: Number(row.bytes) };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  const pg = await postgresServer();
  const dbUrl = await freshDatabase(pg.url);
  console.log(`bench:scale on ${pg.where}, database ${new URL(dbUrl).pathname.slice(1)}; ${os.cpus().length} CPU(s)`);
  // The broker's own scheduler waits an hour: the bench drives the rounds itself.
  const broker: TestBroker = await startTestBroker(dbUrl, { SCHEDULER_TICK_SECONDS: '3600' });
  cleanups.push(() => broker.stop());
  const ds = createDataSource(dbUrl, 10);
  await ds.initialize();
  cleanups.push(() => ds.destroy());

  // ---------------------------------------------------------------- the fleet
  const now = new Date();
  const seeded = await timed(() =>
    seedScale(ds, { clouds: CLOUDS, types: TYPES, vmsPerType: VMS_PER_TYPE, heldTypes: Math.ceil(TYPES / 10), sampleEverySeconds: SAMPLE_EVERY_S, historySeconds: LONGEST_HOLD_SECONDS + 3 * SAMPLE_EVERY_S, now }),
  );
  const seededSamples = await tableSize(ds, 'samples');
  console.log(`seeded ${CLOUDS} clouds, ${TYPES} VM types, ${TYPES * VMS_PER_TYPE} VMs, ${seededSamples.rows} samples (every ${SAMPLE_EVERY_S} s, 2 metrics, ${LONGEST_HOLD_SECONDS + 3 * SAMPLE_EVERY_S} s) in ${ms(seeded.ms)}`);

  // ---------------------------------------------------------------- one scheduler tick
  const s = broker.services;
  const autoscaler = new AutoscalerService(ds, s.scalingDecisions, s.clone, s.scaleDown, s.matchmaking, s.audit, pino({ level: 'silent' }), { pollIntervalMs: SAMPLE_EVERY_S * 1000 });
  const counter = countQueries(ds);
  const round = async (fn: () => Promise<TypeEvaluation[]>) => {
    const before = counter.count;
    const r = await timed(fn);
    return { evaluations: r.value, ms: r.ms, queries: counter.count - before };
  };
  const before = { decisions: await tableSize(ds, 'scaling_decisions'), events: await tableSize(ds, 'events') };
  const first = await round(() => autoscaler.evaluateAll(now));
  const afterFirst = { decisions: await tableSize(ds, 'scaling_decisions'), events: await tableSize(ds, 'events') };
  const tick2 = new Date(now.getTime() + 1000);
  const steady = await round(() => autoscaler.evaluateAll(tick2));
  const tick3 = new Date(now.getTime() + 2000);
  const baseline = await round(async () => {
    const out: TypeEvaluation[] = [];
    for (const id of seeded.value.vmTypeIds) out.push(await autoscaler.evaluate(id, tick3));
    return out;
  });
  const afterTicks = { decisions: await tableSize(ds, 'scaling_decisions'), events: await tableSize(ds, 'events') };
  const outcomes = (r: TypeEvaluation[]) => JSON.stringify([...r].sort((a, b) => a.vmTypeId.localeCompare(b.vmTypeId)).map((e) => [e.vmTypeId, e.verdict?.outcome ?? null]));
  const sameVerdicts = outcomes(steady.evaluations) === outcomes(baseline.evaluations);
  const blocked = steady.evaluations.filter((e) => e.verdict).length;
  console.log('\n== scheduler tick over everything');
  console.log(`  first round (every block new, ${first.evaluations.filter((e) => e.recorded).length} decisions stored): ${ms(first.ms)}, ${first.queries} statements`);
  console.log(`  steady round (set-based evaluateAll): ${ms(steady.ms)}, ${steady.queries} statements, ${blocked} blocked types (not stored again)   goal <= ${GOALS.tickMs} ms: ${verdict(steady.ms <= GOALS.tickMs)}`);
  console.log(`  baseline (per-type evaluate, one type after another): ${ms(baseline.ms)}, ${baseline.queries} statements`);
  console.log(`  ratio baseline/set-based: time x${(baseline.ms / steady.ms).toFixed(1)}, statements x${(baseline.queries / steady.queries).toFixed(1)}; same verdicts: ${sameVerdicts ? 'yes' : 'NO'}`);
  console.log(`  first round within the goal too: ${verdict(first.ms <= GOALS.tickMs)}`);

  // ---------------------------------------------------------------- ingestion
  const [{ name: tenantName }] = await ds.query(`SELECT name FROM tenants WHERE id = $1`, [seeded.value.tenantId]);
  const principal: Principal = { tokenId: crypto.randomUUID(), tokenName: 'bench', tenantId: seeded.value.tenantId, tenantName, role: Role.OPERATOR };
  const vmIds: string[] = (await ds.query(`SELECT id FROM vms WHERE tenant_id = $1 ORDER BY id`, [seeded.value.tenantId])).map((r: { id: string }) => r.id);
  const samplesBefore = await tableSize(ds, 'samples');
  let stored = 0;
  let cursor = 0;
  const ingestEnd = performance.now() + INGEST_SECONDS * 1000;
  const batchMs: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < ingestEnd) {
        const at = new Date();
        const batch = Array.from({ length: 1000 }, (_, i) => {
          const k = cursor + i;
          return { vmId: vmIds[Math.floor(k / 2) % vmIds.length], metric: k % 2 === 0 ? SCALE_UP_METRIC : SCALE_DOWN_METRIC, state: SampleState.OK, value: 40, observedAt: at };
        });
        cursor += 1000;
        const r = await timed(() => s.samples.record(principal, batch));
        batchMs.push(r.ms);
        stored += r.value;
      }
    }),
  );
  const rate = stored / ((performance.now() - t0) / 1000);
  const samplesAfter = await tableSize(ds, 'samples');
  console.log('\n== sample ingestion (SampleService.record, batches of 1,000, 4 callers)');
  console.log(`  ${stored} samples in ${INGEST_SECONDS} s: ${rate.toFixed(0)} samples/s sustained; batch p50 ${ms(pct(batchMs, 50))}, p95 ${ms(pct(batchMs, 95))}   goal >= ${GOALS.samplesPerSecond}/s: ${verdict(rate >= GOALS.samplesPerSecond)}`);
  const [idx] = await ds.query(`SELECT string_agg(indexdef, '; ' ORDER BY indexname) AS defs FROM pg_indexes WHERE tablename = 'samples'`);
  console.log(`  samples indexes: ${idx.defs}`);

  // ---------------------------------------------------------------- table growth, one simulated hour
  const sampleBytesPerRow = (samplesAfter.bytes - samplesBefore.bytes) / Math.max(1, samplesAfter.rows - samplesBefore.rows) || samplesAfter.bytes / samplesAfter.rows;
  const samplesPerHour = TYPES * VMS_PER_TYPE * 2 * (3600 / SAMPLE_EVERY_S);
  const perRow = (t: { rows: number; bytes: number }) => (t.rows > 0 ? t.bytes / t.rows : 0);
  // Decisions are stored when a block begins or changes, and on every action; the first round stored every block once, later ones none.
  const ticksPerHour = 3600 / TICK_S;
  const decisionsPerHour = afterTicks.decisions.rows - before.decisions.rows + ((afterTicks.decisions.rows - afterFirst.decisions.rows) / 2) * (ticksPerHour - 1);
  const eventsPerDecision = (afterFirst.events.rows - before.events.rows) / Math.max(1, afterFirst.decisions.rows - before.decisions.rows);
  // The broker's retention settings as configured from this environment (the defaults unless RETENTION_* are set).
  const config = loadConfig({ ...process.env, DATABASE_URL: dbUrl, INTERCLOUD_DATA_DIR: os.tmpdir(), INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64') });
  const retentionDays = { samples: config.retention.samplesDays, events: config.retention.eventsDays };
  console.log(`\n== table growth for one simulated hour (${ticksPerHour} ticks of ${TICK_S} s; ${TYPES * VMS_PER_TYPE} VMs x 2 metrics every ${SAMPLE_EVERY_S} s)`);
  console.log(`  samples: ${samplesPerHour} rows/h x ${sampleBytesPerRow.toFixed(0)} B/row (with indexes) = ${mb(samplesPerHour * sampleBytesPerRow)}/h; retention ${retentionDays.samples} d: levels off at ~${mb(samplesPerHour * 24 * retentionDays.samples * sampleBytesPerRow)}`);
  console.log(`  scaling_decisions: ${decisionsPerHour.toFixed(0)} rows/h (${afterFirst.decisions.rows - before.decisions.rows} when the ${blocked} blocks began, ${afterTicks.decisions.rows - afterFirst.decisions.rows} in the next 2 rounds) x ${perRow(afterTicks.decisions).toFixed(0)} B/row = ${mb(decisionsPerHour * perRow(afterTicks.decisions))}/h; no retention (kept)`);
  console.log(`  events: ${eventsPerDecision.toFixed(1)} per decision -> ${(decisionsPerHour * eventsPerDecision).toFixed(0)} rows/h x ${perRow(afterTicks.events).toFixed(0)} B/row = ${mb(decisionsPerHour * eventsPerDecision * perRow(afterTicks.events))}/h; retention ${retentionDays.events} d`);
  console.log(`  measured now: samples ${samplesAfter.rows} rows ${mb(samplesAfter.bytes)}; scaling_decisions ${afterTicks.decisions.rows} rows ${mb(afterTicks.decisions.bytes)}; events ${afterTicks.events.rows} rows ${mb(afterTicks.events.bytes)}`);

  // ---------------------------------------------------------------- matchmake over the sandbox clouds
  let p50 = NaN;
  if (MATCH_CLOUDS >= 2) p50 = await matchmake(broker);

  console.log('\n== summary');
  console.log(`  tick ${ms(steady.ms)} (${steady.queries} statements) vs baseline ${ms(baseline.ms)} (${baseline.queries}): ${verdict(steady.ms <= GOALS.tickMs)}`);
  console.log(`  ingestion ${rate.toFixed(0)} samples/s: ${verdict(rate >= GOALS.samplesPerSecond)}`);
  console.log(`  matchmake p50 ${MATCH_CLOUDS >= 2 ? ms(p50) : 'not measured'} over ${MATCH_CLOUDS} clouds: ${MATCH_CLOUDS >= 2 ? verdict(p50 <= GOALS.matchmakeMs) : '-'}`);
}

/** matchmake(vmId) through GraphQL over MATCH_CLOUDS sandbox clouds registered through the API; returns the warm p50. */
async function matchmake(broker: TestBroker): Promise<number> {
  console.log(`\n== matchmake over ${MATCH_CLOUDS} sandbox clouds (GraphQL matchmake(vmId))`);
  const names = Array.from({ length: MATCH_CLOUDS }, (_, i) => `mm-${i}`);
  const started = await timed(() => startSandboxClouds(...names));
  const sandbox = started.value;
  cleanups.push(() => sandbox.stop());
  const factory = labCloudApiFactory();
  cleanups.push(() => factory.close());
  const fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, names[0], names[1]);
  const registered = await timed(async () => {
    for (let i = 2; i < MATCH_CLOUDS; i += 8) await Promise.all(names.slice(i, i + 8).map((n) => registerSandboxCloud(broker.url, fx.tenant.token, sandbox.cloud(n))));
  });
  console.log(`  ${MATCH_CLOUDS} sandbox clouds started in ${ms(started.ms)}, registered in ${ms(registered.ms)}`);
  const { vmId } = await fx.importNewVm('mm-source');
  const MATCH = `query($v: ID!) { matchmake(vmId: $v) { cloud { id } eligible } }`;
  const cold = await timed(() => gqlOk(broker.url, fx.tenant.token, MATCH, { v: vmId }));
  const assessed: unknown[] = cold.value.matchmake;
  const warm: number[] = [];
  for (let i = 0; i < 20; i++) warm.push((await timed(() => gqlOk(broker.url, fx.tenant.token, MATCH, { v: vmId }))).ms);
  const p50 = pct(warm, 50);
  console.log(`  first call: ${ms(cold.ms)} (${assessed.length} clouds assessed)`);
  console.log(`  next 20 calls: p50 ${ms(p50)}, p95 ${ms(pct(warm, 95))}   goal p50 <= ${GOALS.matchmakeMs} ms: ${verdict(p50 <= GOALS.matchmakeMs)}`);
  console.log(`  (quota reads: ${process.env.MATCHMAKING_CACHE_SECONDS ? `MATCHMAKING_CACHE_SECONDS=${process.env.MATCHMAKING_CACHE_SECONDS}` : 'as the broker is configured by default'}; the sandbox clouds run in this process, next to the broker)`);
  return p50;
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of cleanups.reverse()) await c().catch((err) => console.error('cleanup:', err));
  });
