/**
 * Reaction benchmark (`npm run bench:reaction`): how fast and how steadily the autoscaler
 * reacts, measured through the real AutoscalerService (its SQL, the pure rules, the decision
 * store) of a broker started in this process on a PostgreSQL database of its own. It prints a
 * table and a verdict per goal; it asserts nothing.
 *
 * The rules take time from the samples' observation times and from the `now` they are given,
 * so the first two streams run on an accelerated clock: samples are stored with synthetic
 * `observedAt` (in the past, where recordSamples accepts them), then `evaluate(vmTypeId, now)`
 * is called once per tick of the synthetic clock. Their VM types live in a tenant whose only
 * cloud is full, so a decision to act is stored (ACTION_REFUSED) but starts no clone job: the
 * event measured is the verdict (SCALE_UP or PREPARE), which is what the scheduler acts on.
 *
 *   1. Latency: per configuration (hold, tick), trials with the onset at a random phase of the
 *      sample and tick grids; onset = the first observation of the overload (CRITICAL), decision
 *      = the first tick whose verdict is SCALE_UP. Goal: p95 <= hold + tick.
 *   2. Benign: a stream of CRITICAL spikes whose observed run is shorter than the hold, between
 *      OK samples, for several synthetic minutes. Goal: no SCALE_UP or PREPARE verdict.
 *   3. Flapping: in real time, with real clone and scale-down jobs between two sandbox clouds,
 *      a stream that alternates overload and underload faster than the stabilisation window.
 *      Goal: no scale-down within the window after a scale-up (its start or its clone's end).
 *
 * Environment: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
 * database is created and dropped there; when no server answers, an embedded PostgreSQL in a
 * temporary directory is started and removed). Options: --trials N (default 20),
 * --benign-minutes M (default 5), --flap-seconds S (default 60).
 */
import 'reflect-metadata';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import pino from 'pino';
import { startSandbox, Sandbox } from '../../sandbox';
import { startEmbeddedPostgres } from '../../src/adapters/postgres/embedded-postgres';
import { Broker, startBroker } from '../../src/broker';
import { loadConfig } from '../../src/config';
import { ScalingAction } from '../../src/domain/enums';
import { autoscalerPrincipal } from '../../src/domain/principal';
import { registerSandboxCloud } from '../support/clone-fixture';
import { gqlOk } from '../support/graphql';
import { LAB_CLOUD_ENV } from '../support/lab';
import { bootSandboxServer, labCloudApiFactory } from '../support/sandbox';
import { createTenantWithToken } from '../support/tenants';

const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** MONITORING_POLL_SECONDS of the bench broker: a gap over 3 of them (15 s) breaks a hold. */
const POLL_SECONDS = 5;
/**
 * Hold, tick, and the period of the samples: 1 s (pushed with recordSamples, as `npm run demo`
 * does), and 5 s (a monitoring check every 5 s), where the hold can only be seen at the first
 * sample at least `hold` after the first overloaded one, up to one sample period later.
 */
const CONFIGS = [
  { holdSeconds: 5, tickSeconds: 1, sampleSeconds: 1 },
  { holdSeconds: 5, tickSeconds: 5, sampleSeconds: 1 },
  { holdSeconds: 15, tickSeconds: 1, sampleSeconds: 1 },
  { holdSeconds: 15, tickSeconds: 5, sampleSeconds: 1 },
  { holdSeconds: 30, tickSeconds: 5, sampleSeconds: 1 },
  { holdSeconds: 30, tickSeconds: 10, sampleSeconds: 1 },
  { holdSeconds: 15, tickSeconds: 5, sampleSeconds: 5 },
  { holdSeconds: 30, tickSeconds: 5, sampleSeconds: 5 },
];

const cleanups: { what: string; run: () => Promise<void> | void }[] = [];
const onCleanup = (what: string, run: () => Promise<void> | void) => cleanups.push({ what, run });

async function runCleanups(): Promise<void> {
  for (const c of cleanups.reverse()) {
    try {
      await c.run();
    } catch (err) {
      console.error(`cleanup "${c.what}" failed: ${(err as Error).message}`);
    }
  }
  cleanups.length = 0;
}

async function withPg<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A database of the bench's own: on the server at BENCH_POSTGRES_URL if it answers, else an embedded one. */
async function benchDatabase(): Promise<{ url: string; where: string }> {
  try {
    await withPg(PG_SERVER, (c) => c.query('SELECT 1'));
  } catch {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-reaction-'));
    // As root, embedded PostgreSQL runs as `postgres`, which must reach the directory (mkdtemp makes 0700).
    fs.chmodSync(dir, 0o755);
    onCleanup('remove the embedded database directory', () => fs.rmSync(dir, { recursive: true, force: true }));
    const embedded = await startEmbeddedPostgres(dir, pino({ level: 'silent' }));
    onCleanup('stop the embedded PostgreSQL', () => embedded.stop());
    return { url: embedded.url, where: `embedded PostgreSQL in ${dir}` };
  }
  const name = `intercloud_bench_reaction_${crypto.randomBytes(4).toString('hex')}`;
  await withPg(PG_SERVER, (c) => c.query(`CREATE DATABASE ${name}`));
  onCleanup(`drop database ${name}`, () => withPg(PG_SERVER, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined));
  const u = new URL(PG_SERVER);
  u.pathname = `/${name}`;
  return { url: u.toString(), where: `database ${name} on ${u.host}` };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface Sample {
  vmId: string;
  metric: string;
  state: 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';
  value: number;
  observedAt: Date;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { trials: { type: 'string', default: '20' }, 'benign-minutes': { type: 'string', default: '5' }, 'flap-seconds': { type: 'string', default: '60' } } });
  const trials = Number(values.trials);
  const benignMinutes = Number(values['benign-minutes']);
  const flapSeconds = Number(values['flap-seconds']);

  const db = await benchDatabase();
  const sandboxDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-reaction-sandbox-'));
  onCleanup('remove the sandbox directory', () => fs.rmSync(sandboxDir, { recursive: true, force: true }));
  const sandbox: Sandbox = await startSandbox({
    dataDir: sandboxDir,
    clouds: [
      { name: 'home', port: 0, latency: { bootMs: 100, deleteMs: 100, snapshotMs: 100 } },
      { name: 'partner', port: 0, latency: { bootMs: 500, deleteMs: 100, snapshotMs: 100 } },
    ],
  });
  onCleanup('stop the sandbox', () => sandbox.stop());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-reaction-broker-'));
  onCleanup('remove the broker directory', () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const adminToken = `icb_bench_${crypto.randomBytes(24).toString('base64url')}`;
  const broker: Broker = await startBroker(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      INTERCLOUD_DATA_DIR: dataDir,
      INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      ...LAB_CLOUD_ENV,
      // The bench calls the autoscaler itself, tick by tick; the leader's own loop must stay out of the way.
      SCHEDULER_TICK_SECONDS: '3600',
      MONITORING_POLL_SECONDS: String(POLL_SECONDS),
      CLONE_REAPER_INTERVAL_SECONDS: '86400',
      CLONE_CONCURRENCY: '1',
      SCALE_DOWN_CONCURRENCY: '1',
    }),
    pino({ level: process.env.BENCH_BROKER_LOG_LEVEL ?? 'silent' }),
  );
  onCleanup('stop the broker', () => broker.stop());
  const factory = labCloudApiFactory();
  onCleanup('close the cloud client', () => factory.close());
  const autoscaler = broker.services.autoscaler;
  console.log(`bench:reaction on ${db.where}; a gap over ${3 * POLL_SECONDS} s between samples breaks a hold\n`);

  // Tenant "decide": only the home cloud, full once its VMs are imported: verdicts are stored, no clone starts.
  const decide = await createTenantWithToken(broker.url, adminToken, 'bench-decide');
  const homeId = await registerSandboxCloud(broker.url, decide.token, sandbox.cloud('home'));
  const principal = autoscalerPrincipal(decide.tenantId, 'bench-decide');
  const vmTypeOf = async (tenantToken: string, cloudId: string, name: string, hold: number, extra: { down?: boolean; upCooldown?: number; downCooldown?: number } = {}) => {
    const { createVmType } = await gqlOk(broker.url, tenantToken, `mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }`, {
      i: { name, minInstances: 1, maxInstances: 3, scaleUpCooldownSeconds: extra.upCooldown ?? 0, scaleDownCooldownSeconds: extra.downCooldown ?? 0 },
    });
    const thresholds = [{ metric: 'load', active: true, warningHoldSeconds: hold, criticalHoldSeconds: hold, role: 'SCALE_UP', prepareOnWarning: false }];
    if (extra.down) thresholds.push({ metric: 'idle', active: true, warningHoldSeconds: hold, criticalHoldSeconds: hold, role: 'SCALE_DOWN', prepareOnWarning: false });
    await gqlOk(broker.url, tenantToken, `mutation($id: ID!, $t: [ThresholdInput!]!) { setThresholds(vmTypeId: $id, thresholds: $t) { id } }`, { id: createVmType.id, t: thresholds });
    const server = await bootSandboxServer(sandbox.cloud('home'), `${name}-vm`, undefined, factory);
    const { importVm } = await gqlOk(broker.url, tenantToken, `mutation($i: ImportVmInput!) { importVm(input: $i) { id } }`, { i: { cloudId, serverId: server.id, vmTypeId: createVmType.id } });
    return { vmTypeId: createVmType.id as string, vmId: importVm.id as string };
  };
  // Room for every VM of the bench at home while they are imported.
  await sandbox.cloud('home').control.setQuotas({ instances: 100 });
  const types = [];
  for (const c of CONFIGS) {
    const key = `${c.holdSeconds}-${c.tickSeconds}-${c.sampleSeconds}`;
    types.push({ ...c, latency: await vmTypeOf(decide.token, homeId, `lat-${key}`, c.holdSeconds), benign: await vmTypeOf(decide.token, homeId, `benign-${key}`, c.holdSeconds) });
  }

  // Tenant "flap": home and partner, real clones (home has room for nothing more, so they go to partner).
  const flap = await createTenantWithToken(broker.url, adminToken, 'bench-flap');
  const flapHome = await registerSandboxCloud(broker.url, flap.token, sandbox.cloud('home'));
  const partnerInfo = await sandbox.cloud('partner').control.info();
  await registerSandboxCloud(broker.url, flap.token, sandbox.cloud('partner'), { network: partnerInfo.networks.private.name, floatingNetwork: partnerInfo.networks.public.name });
  const FLAP = { holdSeconds: 3, downCooldown: 20, upCooldown: 1, halfPeriodSeconds: 6 };
  const flapType = await vmTypeOf(flap.token, flapHome, 'flap', FLAP.holdSeconds, { down: true, upCooldown: FLAP.upCooldown, downCooldown: FLAP.downCooldown });
  const homeControl = sandbox.cloud('home').control;
  await homeControl.setQuotas({ instances: (await homeControl.listServers()).length });

  const record = async (p: ReturnType<typeof autoscalerPrincipal>, samples: Sample[]) => {
    for (let i = 0; i < samples.length; i += 1000) await broker.services.samples.record(p, samples.slice(i, i + 1000));
  };
  // Synthetic time: a week back (recordSamples refuses the future), each stream in a window of its own,
  // 5 minutes apart: far more than the autoscaler reads back (the longest hold plus one allowed gap).
  let windowStart = Date.now() - 7 * 86_400_000;
  const nextWindow = (ms: number) => {
    const start = windowStart;
    windowStart += ms + 300_000;
    if (windowStart > Date.now() - 60_000) throw new Error('the synthetic windows reached the present: fewer --trials or --benign-minutes');
    return start;
  };
  const rand = (n: number) => Math.floor(Math.random() * n);
  const acts = (action: ScalingAction | undefined) => action === ScalingAction.SCALE_UP || action === ScalingAction.PREPARE;

  const rows: { sample: number; budget: number; lagP95: number; hold: number; tick: number; p50: number; p95: number; max: number; missed: number; goal: boolean; benignTicks: number; falseTriggers: number }[] = [];
  for (const t of types) {
    const holdMs = t.holdSeconds * 1000;
    const tickMs = t.tickSeconds * 1000;
    const SAMPLE_MS = t.sampleSeconds * 1000;
    // 1. Latency.
    const latencies: number[] = [];
    /** From the sample that first shows the hold complete to the decision: the scheduler's own share (goal: within one tick). */
    const lags: number[] = [];
    let missed = 0;
    for (let trial = 0; trial < trials; trial++) {
      const start = nextWindow(120_000 + holdMs * 3);
      const onset = start + 60_000 + rand(SAMPLE_MS);
      const samples: Sample[] = [];
      let firstCritical: number | null = null;
      for (let at = start + rand(SAMPLE_MS); at <= onset + holdMs + 60_000; at += SAMPLE_MS) {
        const critical = at >= onset;
        if (critical && firstCritical === null) firstCritical = at;
        samples.push({ vmId: t.latency.vmId, metric: 'load', state: critical ? 'CRITICAL' : 'OK', value: critical ? 95 : 30, observedAt: new Date(at) });
      }
      await record(principal, samples);
      let decidedAt: number | null = null;
      // From before the onset (a decision there would be a false one, counted as missed) until well after the hold.
      for (let now = onset - 10_000 + rand(tickMs); now <= onset + holdMs + 50_000; now += tickMs) {
        const { verdict } = await autoscaler.evaluate(t.latency.vmTypeId, new Date(now));
        if (acts(verdict?.action)) {
          decidedAt = now;
          break;
        }
      }
      if (decidedAt === null || firstCritical === null || decidedAt < firstCritical) missed++;
      else {
        latencies.push((decidedAt - firstCritical) / 1000);
        lags.push((decidedAt - (firstCritical + Math.ceil(holdMs / SAMPLE_MS) * SAMPLE_MS)) / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    lags.sort((a, b) => a - b);

    // 2. Benign spikes: CRITICAL runs whose observed length ((k - 1) x sample period) is under the hold, 1-10 OK samples between.
    const start = nextWindow(benignMinutes * 60_000 + 60_000);
    const end = start + benignMinutes * 60_000;
    const maxRun = Math.floor((holdMs - 1) / SAMPLE_MS) + 1;
    const samples: Sample[] = [];
    for (let at = start; at < end; ) {
      for (let ok = 1 + rand(10); ok > 0 && at < end; ok--, at += SAMPLE_MS) samples.push({ vmId: t.benign.vmId, metric: 'load', state: 'OK', value: 30, observedAt: new Date(at) });
      for (let k = 1 + rand(maxRun); k > 0 && at < end; k--, at += SAMPLE_MS) samples.push({ vmId: t.benign.vmId, metric: 'load', state: 'CRITICAL', value: 95, observedAt: new Date(at) });
    }
    await record(principal, samples);
    let benignTicks = 0;
    let falseTriggers = 0;
    for (let now = start + rand(tickMs); now < end; now += tickMs) {
      benignTicks++;
      const { verdict } = await autoscaler.evaluate(t.benign.vmTypeId, new Date(now));
      if (acts(verdict?.action)) falseTriggers++;
    }
    const budget = t.holdSeconds + t.tickSeconds + (t.sampleSeconds > 1 ? t.sampleSeconds : 0);
    const row = { sample: t.sampleSeconds, budget, hold: t.holdSeconds, tick: t.tickSeconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies.at(-1) ?? NaN, lagP95: percentile(lags, 95), missed, goal: missed === 0 && percentile(latencies, 95) <= budget, benignTicks, falseTriggers };
    rows.push(row);
    console.log(`  samples every ${t.sampleSeconds} s, hold ${t.holdSeconds} s, tick ${t.tickSeconds} s: p50 ${row.p50.toFixed(1)} s, p95 ${row.p95.toFixed(1)} s over ${latencies.length} trials (${missed} missed); ${falseTriggers} false triggers in ${benignTicks} benign ticks`);
  }

  // 3. Flapping, in real time with real jobs: the scheduler's rules against the clone and removal they start.
  console.log(`\n  flapping: ${flapSeconds} s of ${FLAP.halfPeriodSeconds} s overload / ${FLAP.halfPeriodSeconds} s underload, hold ${FLAP.holdSeconds} s, stabilisation window ${FLAP.downCooldown} s, tick 1 s (real clones between the sandbox clouds)`);
  const flapPrincipal = autoscalerPrincipal(flap.tenantId, 'bench-flap');
  const ds = broker.dataSource;
  const flapStart = Date.now();
  const ups: number[] = [];
  const downs: number[] = [];
  const blocked = new Map<string, number>();
  const flapTick = async (overloaded: boolean) => {
    const now = Date.now();
    const vms: { id: string }[] = await ds.query(`SELECT id FROM vms WHERE vm_type_id = $1 AND retired_at IS NULL`, [flapType.vmTypeId]);
    await record(
      flapPrincipal,
      vms.flatMap(({ id }) => [
        { vmId: id, metric: 'load', state: overloaded ? 'CRITICAL' : 'OK', value: overloaded ? 95 : 10, observedAt: new Date(now) },
        { vmId: id, metric: 'idle', state: overloaded ? 'OK' : 'WARNING', value: overloaded ? 95 : 10, observedAt: new Date(now) },
      ]),
    );
    const { verdict } = await autoscaler.evaluate(flapType.vmTypeId, new Date(now));
    if (verdict?.action === ScalingAction.SCALE_UP) ups.push(now);
    else if (verdict?.action === ScalingAction.SCALE_DOWN) downs.push(now);
    else if (verdict) blocked.set(verdict.outcome, (blocked.get(verdict.outcome) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, Math.max(0, now + 1000 - Date.now())));
  };
  while (Date.now() - flapStart < flapSeconds * 1000) await flapTick(Math.floor((Date.now() - flapStart) / (FLAP.halfPeriodSeconds * 1000)) % 2 === 0);
  // Then a steady underload: once the window has passed, one scale-down must come (the window, not a broken rule, held it back).
  const flapDowns = downs.length;
  const settleEnd = Date.now() + (FLAP.downCooldown + FLAP.holdSeconds + 15) * 1000;
  while (Date.now() < settleEnd && downs.length === flapDowns) await flapTick(false);
  const settled = downs.length > flapDowns;
  // A cycle: a scale-down within the window after a scale-up started or its clone finished.
  const clones: { created_at: Date; finished_at: Date | null }[] = await ds.query(
    `SELECT j.created_at, j.finished_at FROM clone_jobs j JOIN vms s ON s.id = j.source_vm_id WHERE s.vm_type_id = $1 AND j.purpose = 'CLONE'`,
    [flapType.vmTypeId],
  );
  const changes = [...ups, ...clones.flatMap((c) => [c.created_at.getTime(), ...(c.finished_at ? [c.finished_at.getTime()] : [])])];
  const cycles = downs.filter((d) => changes.some((c) => c <= d && d - c < FLAP.downCooldown * 1000)).length;
  const states: { state: string; n: string }[] = await ds.query(`SELECT j.state, count(*) AS n FROM clone_jobs j JOIN vms s ON s.id = j.source_vm_id WHERE s.vm_type_id = $1 AND j.purpose = 'CLONE' GROUP BY j.state`, [flapType.vmTypeId]);

  console.log('\n| samples every (s) | hold (s) | tick (s) | onset->decision p50 (s) | p95 (s) | max (s) | goal: p95 <= | | hold seen->decision p95 (s) | benign ticks | false triggers | goal 0 |');
  console.log('|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(`| ${r.sample} | ${r.hold} | ${r.tick} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${r.budget} s (hold + tick${r.sample > 1 ? ' + sample period' : ''}) | ${r.goal ? 'PASS' : `FAIL${r.missed ? ` (${r.missed} missed)` : ''}`} | ${r.lagP95.toFixed(1)} | ${r.benignTicks} | ${r.falseTriggers} | ${r.falseTriggers === 0 ? 'PASS' : 'FAIL'} |`);
  }
  const blockedText = [...blocked.entries()].map(([k, n]) => `${k} x${n}`).join(', ');
  console.log(`\nflapping: ${ups.length} scale-up(s), ${downs.length} scale-down(s), clone jobs ${states.map((s) => `${s.state} x${s.n}`).join(', ') || 'none'}; blocked ticks: ${blockedText || 'none'}`);
  console.log(`flapping: scale-down within the ${FLAP.downCooldown} s stabilisation window after a scale-up: ${cycles} -> ${cycles === 0 ? 'PASS' : 'FAIL'}`);
  console.log(`then steady underload: ${settled ? `scaled down ${((downs.at(-1)! - Math.max(...changes.filter((c) => c <= downs.at(-1)!))) / 1000).toFixed(1)} s after the last change (window ${FLAP.downCooldown} s)` : 'no scale-down (the rule did not act once the window was over)'}`);
  const latencyPass = rows.every((r) => r.goal);
  const benignPass = rows.every((r) => r.falseTriggers === 0);
  console.log(`\nGOALS: latency p95 <= hold + tick (+ the sample period where samples are coarser than 1 s): ${latencyPass ? 'PASS' : 'FAIL'}; false triggers on spikes shorter than the hold: ${benignPass ? 'PASS' : 'FAIL'}; no flapping cycle within the window: ${cycles === 0 ? 'PASS' : 'FAIL'}`);
}

let exitCode = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void runCleanups().then(() => process.exit(130));
  });
}
main()
  .catch((err) => {
    console.error(err);
    exitCode = 1;
  })
  .finally(async () => {
    await runCleanups();
    process.exit(exitCode);
  });
