/**
 * The matchmaker's reads do not grow with the clouds it weighs: a warm `matchmake` (limits,
 * flavors and networks from the cache) costs the same statements for 2 clouds and for 8, counted
 * on the broker's data source; learned terms, standby images and policies are read once for all.
 */
import { Sandbox } from '../../sandbox';
import { Principal } from '../../src/domain/principal';
import { Role } from '../../src/domain/roles';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { bootSandboxServer, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { countQueries } from '../support/scale-seed';
import { createTenantWithToken, TenantToken } from '../support/tenants';

const REGISTER = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`;

describe('matchmake statement count', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let op: TenantToken;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('mmq-home', 'mmq-other');
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { CLOUD_HEALTH_INTERVAL_SECONDS: '86400', MATCHMAKING_CACHE_SECONDS: '600' });
    op = await createTenantWithToken(broker.url, broker.adminToken, 'mm-queries');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await sandbox?.stop();
  });

  it('costs the same statements for 2 clouds and for 8', async () => {
    const register = async (sandboxName: string, name: string) =>
      (await gqlOk(broker.url, op.token, REGISTER, { input: registerCloudInput(sandbox.cloud(sandboxName), name, { defaults: { flavor: 'm1.tiny', network: 'private' } }) })).registerCloud.id as string;
    const home = await register('mmq-home', 'home');
    await register('mmq-other', 'other-0');
    const type = (await gqlOk(broker.url, op.token, `mutation { createVmType(input: { name: "sip", minInstances: 1, maxInstances: 3 }) { id } }`)).createVmType.id;
    const server = await bootSandboxServer(sandbox.cloud('mmq-home'), 'sip-1');
    const vmId = (await gqlOk(broker.url, op.token, `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, { input: { cloudId: home, serverId: server.id, vmTypeId: type } })).importVm.id;
    const principal: Principal = { tokenId: 'test', tokenName: 'test', tenantId: op.tenantId, tenantName: 'mm-queries', role: Role.OPERATOR };
    const counter = countQueries(broker.dataSource);
    /**
     * Statements of a warm call (the first call fills the cache), and how many clouds it weighed.
     * The fewest of three: the broker's own background work (its scheduler) shares the counter.
     */
    const warmCall = async () => {
      await broker.services.matchmaking.rank(principal, vmId);
      let statements = Infinity;
      let ranked = await broker.services.matchmaking.rank(principal, vmId);
      for (let i = 0; i < 3; i++) {
        const before = counter.count;
        ranked = await broker.services.matchmaking.rank(principal, vmId);
        statements = Math.min(statements, counter.count - before);
      }
      return { statements, clouds: ranked.length, eligible: ranked.filter((c) => c.eligible).length };
    };
    const two = await warmCall();
    // Six more clouds (the same sandbox endpoint under other names: six more candidates to weigh).
    for (let i = 1; i <= 6; i++) await register('mmq-other', `other-${i}`);
    const eight = await warmCall();
    expect(two).toMatchObject({ clouds: 2, eligible: 2 });
    expect(eight).toMatchObject({ clouds: 8, eligible: 8 });
    expect(eight.statements).toBe(two.statements);
    expect(two.statements).toBeLessThanOrEqual(8);
  });
});
