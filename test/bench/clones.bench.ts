/**
 * Clone concurrency benchmark: `--clones` (default 20) clones at once through two broker
 * replicas (`node dist/src/main.js` twice, one PostgreSQL database) between two sandbox clouds
 * in this process, with the link between them throttled. Every clone is asked for at once,
 * alternately on each replica's API; which replica runs a job is up to the job queue.
 *
 * It reports:
 * - each job's end state (goal: all DONE) and clone time;
 * - which replica ran each job: the `lease_owner` column of clone_jobs (`host:pid:nonce` of the
 *   broker holding the job's lease) is sampled every 100 ms while jobs run, and each owner is
 *   mapped to its replica by pid; a job seen under two owners changed hands (goal: jobs on
 *   both replicas, none handed over);
 * - lease trouble from both brokers' logs (LOG_LEVEL info): "job paused" (lease lost or expired,
 *   see src/pipeline/lease-fence.ts), "could not renew the job lease", "handing out a job nobody
 *   runs" (a lapsed lease re-delivered) (goal: none);
 * - the API during the run: `{ me { role } }` polled back to back on each replica, p50/p99/max.
 * It prints PASS/FAIL per goal and asserts nothing.
 *
 *   npm run bench:clones -- [--clones 20] [--size 32MiB] [--link 200mbit] [--concurrency 10] [--same-vm]
 *
 * Each clone has its own source VM (imported first); --same-vm clones one VM `--clones` times.
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
import { Client } from 'pg';
import { startSandbox } from '../../sandbox';
import { setUpClone } from '../support/clone-fixture';
import { gqlOk } from '../support/graphql';
import { LAB_CLOUD_ENV } from '../support/lab';
import { labCloudApiFactory } from '../support/sandbox';
import { parseLink, parseSize } from './clone.bench';

const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MAIN_JS = path.resolve(__dirname, '../../src/main.js');
const TERMINAL = ['DONE', 'FAILED', 'CANCELLED'];
/** Log messages (src/pipeline/saga-runner.ts) that mean a job's lease was in trouble. */
const LEASE_TROUBLE = ['job paused; another broker will resume it', 'could not renew the job lease', 'handing out a job nobody runs'];

interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  /** Every log line of the broker, parsed where it is JSON. */
  logs: Record<string, unknown>[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);

async function withPg<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function startReplica(name: string, env: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, [MAIN_JS], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.homedir(), ...LAB_CLOUD_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let out = '';
  const keep = (d: string) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${JSON.stringify(logs.slice(-10))}`)), 60_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      keep(d);
      const m = logs.map((l) => /^Intercloud broker listening on (\S+)$/.exec(String(l.msg))).find(Boolean);
      if (m) {
        clearTimeout(timer);
        resolve({ name, child, url: m[1], logs });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', keep);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening: ${JSON.stringify(logs.slice(-10))}`)));
  });
}

async function stopReplica(r: Replica): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  const exited = new Promise((done) => r.child.once('exit', done));
  r.child.kill('SIGTERM');
  await exited;
}

/** `{ me { role } }` back to back on one replica until stopped: each answer's latency, ms. */
function poll(url: string, token: string): { stop: () => Promise<number[]> } {
  const samples: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        await gqlOk(url, token, '{ me { role } }');
        samples.push(performance.now() - t0);
      } catch {
        // counted as missing: the run's error count says so below
      }
      await sleep(10);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      clones: { type: 'string', default: '20' },
      size: { type: 'string', default: '32MiB' },
      link: { type: 'string', default: '200mbit' },
      concurrency: { type: 'string', default: '10' },
      timeout: { type: 'string', default: '600' },
      'same-vm': { type: 'boolean', default: false },
    },
  });
  const clones = Number(values.clones);
  if (!Number.isInteger(clones) || clones < 2 || clones > 100) throw new Error('--clones must be a whole number from 2 to 100');
  const size = parseSize(values.size);
  const link = parseLink(values.link);
  const concurrency = values.concurrency;
  const timeoutMs = Number(values.timeout) * 1000;

  const dbName = `intercloud_bench_clones_${crypto.randomBytes(4).toString('hex')}`;
  await withPg(PG_SERVER, (c) => c.query(`CREATE DATABASE ${dbName}`));
  const u = new URL(PG_SERVER);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-bench-clones-'));
  const adminToken = `icb_bench_${crypto.randomBytes(24).toString('base64url')}`;
  const secretKey = crypto.randomBytes(32).toString('base64');
  const replicas: Replica[] = [];
  const quotas = { instances: clones + 10, cores: 4 * (clones + 10), ramMb: 4096 * (clones + 10), floatingIps: clones + 10 };
  const sandbox = await startSandbox({
    dataDir: path.join(dir, 'sandbox'),
    clouds: [
      { name: 'bench-src', images: [], quotas },
      { name: 'bench-dst', images: [], quotas },
    ],
  });
  const factory = labCloudApiFactory();
  console.log(`bench:clones: ${clones} clones (${values['same-vm'] ? 'all of one VM' : 'one per source VM'}) of a ${values.size} image at once over 2 replicas (CLONE_CONCURRENCY=${concurrency} each), link ${values.link}; ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)}`);
  try {
    for (const name of ['replica-1', 'replica-2']) {
      const dataDir = path.join(dir, name);
      fs.mkdirSync(dataDir);
      replicas.push(
        await startReplica(name, {
          DATABASE_URL: databaseUrl,
          PORT: '0',
          HOST: '127.0.0.1',
          INTERCLOUD_ADMIN_TOKEN: adminToken,
          INTERCLOUD_SECRET_KEY: secretKey,
          INTERCLOUD_DATA_DIR: dataDir,
          LOG_LEVEL: 'info',
          CLONE_CONCURRENCY: concurrency,
          RATE_LIMIT_PER_MINUTE: '1000000',
          SHUTDOWN_GRACE_MS: '3000',
        }),
      );
    }
    const r1 = replicas[0];
    const src = sandbox.cloud('bench-src');
    const dst = sandbox.cloud('bench-dst');
    const image = await src.control.seedImage({ name: 'bench-vm-image', sizeBytes: size });
    const fx = await setUpClone(r1.url, adminToken, sandbox, factory, 'bench-src', 'bench-dst');
    const { createVmType } = await gqlOk(r1.url, fx.tenant.token, 'mutation($n: Int!) { createVmType(input: { name: "bench-many", minInstances: 0, maxInstances: $n }) { id } }', { n: 2 * clones + 1 });
    // One source VM per clone, as when many services peak at once. With --same-vm every clone
    // snapshots one server: Nova (and the sandbox) refuse a second createImage while one is
    // running (409, task_state image_snapshot), which the SNAPSHOT step retries and then fails.
    const sources = values['same-vm'] ? 1 : clones;
    const vmIds = (await Promise.all(Array.from({ length: sources }, (_, i) => fx.importNewVm(`bench-vm-${i + 1}`, image.id, createVmType.id)))).map((v) => v.vmId);
    // Both ends of the one link: the source's downloads and the target's uploads.
    await src.control.setBandwidth({ uploadBytesPerSecond: link, downloadBytesPerSecond: link });
    await dst.control.setBandwidth({ uploadBytesPerSecond: link, downloadBytesPerSecond: link });

    const pollers = replicas.map((r) => poll(r.url, fx.tenant.token));
    const owners = new Map<string, Set<string>>();
    const ownerSampler = await (async () => {
      const c = new Client({ connectionString: databaseUrl });
      await c.connect();
      return c;
    })();
    const started = performance.now();
    const jobIds: string[] = await Promise.all(
      Array.from({ length: clones }, async (_, i) => {
        const via = replicas[i % 2];
        const { cloneVm } = await gqlOk(via.url, fx.tenant.token, 'mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }', {
          input: { vmId: vmIds[i % vmIds.length], targetCloudId: fx.targetCloudId, name: `bench-clone-${i + 1}` },
        });
        return cloneVm.id as string;
      }),
    );
    const askedMs = performance.now() - started;
    const ended = new Map<string, { state: string; ms: number; error: unknown }>();
    const deadline = Date.now() + timeoutMs;
    while (ended.size < clones && Date.now() < deadline) {
      const { rows } = await ownerSampler.query(`SELECT id, state, lease_owner, error_code, error_message, EXTRACT(EPOCH FROM (coalesce(finished_at, now()) - created_at)) * 1000 AS ms FROM clone_jobs WHERE id = ANY($1::uuid[])`, [jobIds]);
      for (const row of rows) {
        if (row.lease_owner && !String(row.lease_owner).startsWith('requeued')) (owners.get(row.id) ?? owners.set(row.id, new Set()).get(row.id)!).add(row.lease_owner);
        if (TERMINAL.includes(row.state) && !ended.has(row.id)) ended.set(row.id, { state: row.state, ms: Number(row.ms), error: row.error_code ? `${row.error_code}: ${row.error_message}` : null });
      }
      await sleep(100);
    }
    const wallMs = performance.now() - started;
    // SNAPSHOT of a source server busy with another snapshot waits for it (snapshot.step.ts): how many jobs did, how long the phase took.
    const { rows: waits } = await ownerSampler.query(
      `SELECT count(DISTINCT stream)::int AS jobs, count(*)::int AS notes FROM events WHERE stream = ANY($1::text[]) AND payload->>'kind' = 'PROGRESS' AND payload->>'message' LIKE 'server busy with another %'`,
      [jobIds.map((id) => `clone-job:${id}`)],
    );
    const { rows: snapshotRows } = await ownerSampler.query(
      `SELECT (p->>'durationMs')::float AS ms FROM clone_jobs, jsonb_array_elements(phases) p WHERE id = ANY($1::uuid[]) AND p->>'phase' = 'SNAPSHOT' AND p->>'durationMs' IS NOT NULL`,
      [jobIds],
    );
    const snapshotTimes = snapshotRows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    await ownerSampler.end();
    const latencies = (await Promise.all(pollers.map((p) => p.stop()))).map((s) => [...s].sort((a, b) => a - b));

    const replicaOf = (owner: string) => replicas.find((r) => owner.split(':')[1] === String(r.child.pid))?.name ?? `unknown (${owner})`;
    const byReplica = new Map<string, number>();
    let handedOver = 0;
    for (const id of jobIds) {
      const seen = [...(owners.get(id) ?? [])].map(replicaOf);
      if (seen.length > 1) handedOver++;
      for (const name of new Set(seen)) byReplica.set(name, (byReplica.get(name) ?? 0) + 1);
    }
    const unseen = jobIds.filter((id) => !owners.has(id)).length;
    const done = [...ended.values()].filter((e) => e.state === 'DONE');
    const times = done.map((e) => e.ms).sort((a, b) => a - b);
    const trouble = replicas.flatMap((r) => r.logs.filter((l) => LEASE_TROUBLE.includes(String(l.msg))).map((l) => ({ replica: r.name, msg: l.msg, jobId: l.jobId, reason: l.reason })));

    console.log(`${clones} cloneVm answered within ${(askedMs / 1000).toFixed(1)} s; ${ended.size}/${clones} jobs ended within ${(wallMs / 1000).toFixed(1)} s`);
    console.log(`states: ${JSON.stringify(Object.fromEntries(['DONE', 'FAILED', 'CANCELLED'].map((s) => [s, [...ended.values()].filter((e) => e.state === s).length])))}`);
    for (const [id, e] of ended) if (e.state !== 'DONE') console.log(`  job ${id} ${e.state}: ${e.error}`);
    console.log(`clone time (created -> finished): p50 ${(quantile(times, 0.5) / 1000).toFixed(1)} s, max ${(quantile(times, 1) / 1000).toFixed(1)} s`);
    console.log(
      `SNAPSHOT phase: p50 ${(quantile(snapshotTimes, 0.5) / 1000).toFixed(1)} s, max ${(quantile(snapshotTimes, 1) / 1000).toFixed(1)} s; jobs that waited for a source server busy with another snapshot: ${waits[0].jobs} (${waits[0].notes} "waiting" events)`,
    );
    console.log(`jobs per replica (lease_owner sampled every 100 ms): ${[...byReplica].map(([n, c]) => `${n} ${c}`).join(', ')}${unseen ? `, never seen leased ${unseen}` : ''}; changed hands ${handedOver}`);
    console.log(`lease trouble in the brokers' logs: ${trouble.length}${trouble.length ? ` ${JSON.stringify(trouble.slice(0, 5))}` : ''}`);
    replicas.forEach((r, i) => {
      const l = latencies[i];
      console.log(`API { me { role } } on ${r.name} during the run: ${l.length} answers, p50 ${quantile(l, 0.5).toFixed(1)} ms, p99 ${quantile(l, 0.99).toFixed(1)} ms, max ${quantile(l, 1).toFixed(1)} ms`);
    });
    const verdicts: [boolean, string][] = [
      [done.length === clones, `all ${clones} DONE (${done.length})`],
      [replicas.every((r) => (byReplica.get(r.name) ?? 0) > 0), `jobs on both replicas (${replicas.map((r) => byReplica.get(r.name) ?? 0).join(' + ')})`],
      [trouble.length === 0 && handedOver === 0, `no lease lost (log lines ${trouble.length}, jobs that changed hands ${handedOver})`],
    ];
    for (const [ok, text] of verdicts) console.log(`${ok ? 'PASS' : 'FAIL'}  ${text}`);
    return verdicts.every(([ok]) => ok) ? 0 : 1;
  } finally {
    for (const r of replicas) await stopReplica(r).catch(() => undefined);
    await factory.close();
    await sandbox.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    await withPg(PG_SERVER, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
