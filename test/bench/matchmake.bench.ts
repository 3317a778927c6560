/**
 * Matchmake benchmark: the `matchmake` dry run over many sandbox clouds, each answering its API
 * calls after a set latency, through two in-process brokers on one fresh PostgreSQL database
 * measured side by side in alternating rounds: one reading every cloud's limits, flavors and
 * networks on each query (MATCHMAKING_CACHE_SECONDS=0), one answering from its cache
 * (MATCHMAKING_CACHE_SECONDS=600, warmed by one query). Prints p50/p95 per broker, the ratio,
 * and the Nova limits calls each made (counted by the sandbox); asserts nothing.
 *
 *   npm run bench:matchmake
 *   npm run bench:matchmake -- --clouds 100 --api-ms 20 --queries 20
 *
 * Goal (issue 12 part 3): matchmake over 100 clouds answers in <= 100 ms with quota reads cached.
 * Environment: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres; a
 * database is created and dropped there).
 */
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { startTestBroker, TestBroker } from '../support/broker';
import { gqlOk } from '../support/graphql';
import { bootSandboxServer, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { createTenantWithToken } from '../support/tenants';

const PG_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const GOAL_MS = 100;

const { values: args } = parseArgs({
  options: {
    clouds: { type: 'string', default: '100' },
    'api-ms': { type: 'string', default: '20' },
    queries: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
  },
});
const CLOUDS = Number(args.clouds);
const API_MS = Number(args['api-ms']);
const QUERIES = Number(args.queries);
const ROUNDS = Number(args.rounds);

const MATCHMAKE = `query($v: ID!) { matchmake(vmId: $v) { cloud { id } eligible rank estimatedSecondsToCapacity quotaAgeSeconds reasons } }`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: PG_SERVER });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const dbName = `intercloud_bench_mm_${crypto.randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${dbName}`));
  const dbUrl = new URL(PG_SERVER);
  dbUrl.pathname = `/${dbName}`;
  const names = Array.from({ length: CLOUDS }, (_, i) => `bench-mm-${i}`);
  console.log(`starting ${CLOUDS} sandbox clouds (API latency ${API_MS} ms) and two brokers ...`);
  const sandbox = await startSandboxClouds(...names.map((name) => ({ name, latency: { apiMs: API_MS } })));
  const env = { CLOUD_HEALTH_INTERVAL_SECONDS: '86400', CLONE_CONCURRENCY: '0', RATE_LIMIT_PER_MINUTE: '100000' };
  let fresh: TestBroker | null = null;
  let cached: TestBroker | null = null;
  try {
    fresh = await startTestBroker(dbUrl.toString(), { ...env, MATCHMAKING_CACHE_SECONDS: '0' });
    cached = await startTestBroker(dbUrl.toString(), { ...env, MATCHMAKING_CACHE_SECONDS: '600', INTERCLOUD_ADMIN_TOKEN: fresh.adminToken });
    const tenant = await createTenantWithToken(fresh.url, fresh.adminToken, 'bench-matchmake');
    const ids: string[] = [];
    for (const [i, name] of names.entries()) {
      const input = registerCloudInput(sandbox.cloud(name), name, { bandwidthMbps: 100 + i, costPerHour: 0.1, defaults: { flavor: 'm1.tiny', network: 'private' } });
      ids.push((await gqlOk(fresh.url, tenant.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, { input })).registerCloud.id);
    }
    const type = (await gqlOk(fresh.url, tenant.token, `mutation { createVmType(input: { name: "sip", minInstances: 1, maxInstances: 3 }) { id } }`)).createVmType.id;
    const server = await bootSandboxServer(sandbox.cloud(names[0]), 'sip-1');
    const vmId = (await gqlOk(fresh.url, tenant.token, `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, { input: { cloudId: ids[0], serverId: server.id, vmTypeId: type } })).importVm.id;

    const limitsCalls = async () => {
      let n = 0;
      for (const name of names) n += (await sandbox.cloud(name).control.calls())['nova.limits'] ?? 0;
      return n;
    };
    const resetCalls = async () => {
      for (const name of names) await sandbox.cloud(name).control.resetCalls();
    };
    const brokers = { fresh: fresh!, cached: cached! };
    const times: Record<keyof typeof brokers, number[]> = { fresh: [], cached: [] };
    const calls: Record<keyof typeof brokers, number> = { fresh: 0, cached: 0 };
    // Warm both (connections, tokens; the cached one's cache).
    for (const b of Object.values(brokers)) await gqlOk(b.url, tenant.token, MATCHMAKE, { v: vmId });
    for (let round = 0; round < ROUNDS; round++) {
      for (const key of ['fresh', 'cached'] as const) {
        await resetCalls();
        for (let q = 0; q < QUERIES; q++) {
          const started = process.hrtime.bigint();
          const { matchmake } = await gqlOk(brokers[key].url, tenant.token, MATCHMAKE, { v: vmId });
          times[key].push(Number(process.hrtime.bigint() - started) / 1e6);
          if (matchmake.length !== CLOUDS) throw new Error(`matchmake answered ${matchmake.length} clouds, expected ${CLOUDS}`);
        }
        calls[key] += await limitsCalls();
      }
    }
    console.log(`\nmatchmake over ${CLOUDS} clouds, ${API_MS} ms per cloud API call, ${ROUNDS} x ${QUERIES} queries per broker`);
    for (const key of ['fresh', 'cached'] as const) {
      const sorted = [...times[key]].sort((a, b) => a - b);
      console.log(`  ${key.padEnd(7)} p50 ${percentile(sorted, 50).toFixed(1)} ms  p95 ${percentile(sorted, 95).toFixed(1)} ms  Nova limits calls ${calls[key]} (${(calls[key] / times[key].length).toFixed(1)} per query)`);
    }
    const p50 = (k: 'fresh' | 'cached') => percentile([...times[k]].sort((a, b) => a - b), 50);
    console.log(`  ratio cached/fresh p50: ${(p50('cached') / p50('fresh')).toFixed(2)}`);
    console.log(`  goal: cached p50 <= ${GOAL_MS} ms: ${p50('cached') <= GOAL_MS ? 'met' : 'NOT met'} (${p50('cached').toFixed(1)} ms)`);
  } finally {
    await cached?.stop();
    await fresh?.stop();
    await sandbox.stop();
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
