/**
 * Profiles a warm `matchmake` over many sandbox clouds (not a benchmark: a tool for finding where
 * the time goes): the service call alone, the same through GraphQL, and the statements per call.
 *
 *   node dist/test/bench/matchmake-profile.js [--clouds 100]
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { Role } from '../../src/domain/roles';
import { startTestBroker } from '../support/broker';
import { gqlOk } from '../support/graphql';
import { bootSandboxServer, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { countQueries } from '../support/scale-seed';
import { createTenantWithToken } from '../support/tenants';

const { values: args } = parseArgs({ options: { clouds: { type: 'string', default: '100' } } });
const CLOUDS = Number(args.clouds);
const MATCHMAKE = `query($v: ID!) { matchmake(vmId: $v) { cloud { id } eligible rank estimatedSecondsToCapacity quotaAgeSeconds reasons } }`;

async function main() {
  const server = 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `intercloud_mmprof_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const names = Array.from({ length: CLOUDS }, (_, i) => `prof-mm-${i}`);
  const sandbox = await startSandboxClouds(...names);
  const broker = await startTestBroker(`postgres://postgres@127.0.0.1:5432/${name}`, { CLOUD_HEALTH_INTERVAL_SECONDS: '86400', CLONE_CONCURRENCY: '0', RATE_LIMIT_PER_MINUTE: '100000', MATCHMAKING_CACHE_SECONDS: '600' });
  try {
    const tenant = await createTenantWithToken(broker.url, broker.adminToken, 'prof-mm');
    const ids: string[] = [];
    for (const [i, n] of names.entries()) {
      const input = registerCloudInput(sandbox.cloud(n), n, { bandwidthMbps: 100 + i, costPerHour: 0.1, defaults: { flavor: 'm1.tiny', network: 'private' } });
      ids.push((await gqlOk(broker.url, tenant.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, { input })).registerCloud.id);
    }
    const type = (await gqlOk(broker.url, tenant.token, `mutation { createVmType(input: { name: "sip", minInstances: 1, maxInstances: 3 }) { id } }`)).createVmType.id;
    const srv = await bootSandboxServer(sandbox.cloud(names[0]), 'sip-1');
    const vmId = (await gqlOk(broker.url, tenant.token, `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, { input: { cloudId: ids[0], serverId: srv.id, vmTypeId: type } })).importVm.id;
    const [{ name: tenantName }] = await broker.dataSource.query(`SELECT name FROM tenants WHERE id = $1`, [tenant.tenantId]);
    const principal = { tokenId: crypto.randomUUID(), tokenName: 'prof', tenantId: tenant.tenantId, tenantName, role: Role.OPERATOR };
    await gqlOk(broker.url, tenant.token, MATCHMAKE, { v: vmId });
    const counter = countQueries(broker.dataSource);
    for (let round = 0; round < 3; round++) {
      const svc: number[] = [];
      const gql: number[] = [];
      let before = counter.count;
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        await broker.services.matchmaking.rank(principal, vmId);
        svc.push(performance.now() - t0);
      }
      const perSvc = (counter.count - before) / 10;
      before = counter.count;
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        await gqlOk(broker.url, tenant.token, MATCHMAKE, { v: vmId });
        gql.push(performance.now() - t0);
      }
      const perGql = (counter.count - before) / 10;
      const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(1);
      console.log(`round ${round}: service p50 ${p50(svc)} ms (${perSvc} statements), GraphQL p50 ${p50(gql)} ms (${perGql} statements)`);
    }
  } finally {
    await broker.stop();
    await sandbox.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
