/**
 * Finding: upstream error text reached tenants verbatim (a non-JSON body was passed on whole), and
 * connection errors said what failed (refused, reset, timed out, unresolvable): together a way to
 * read internal pages and to scan ports through error messages. Now a tenant reads only the
 * OpenStack fault's own `message`, stripped and bounded, and one sentence for every connection
 * failure; the broker's log keeps the cause. Checked where such text reaches a tenant: GraphQL
 * errors, Cloud.healthMessage, matchmake reasons and cloudServers.
 */
import { Sandbox, SandboxCloud } from '../../sandbox';
import { NO_ANSWER } from '../../src/adapters/openstack/http.client';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { closedPort, Listener, RecordingListener, startBlackHole, startRecordingListener, startResettingListener } from '../support/listeners';
import { captureLogs, CapturedLogs } from '../support/logs';
import { bootSandboxServer, labCloudApiFactory, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { createTenantWithToken, TenantToken } from '../support/tenants';
import { waitFor } from '../support/wait';

const REGISTER = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`;
const SERVERS = `query($c: ID!) { cloudServers(cloudId: $c) { id } }`;
const INTERNAL = 'INTERNAL-ADMIN-PAGE root:x:0:0:root:/root:/bin/bash';
/** Markup and terminal control sequences a hostile cloud might put in a fault message. */
const HOSTILE_MESSAGE = 'Quota <script>alert(1)</script>exceeded<br/>\u0007\u001b[2J for instances';


/** Nothing a tenant reads may carry markup or control characters. */
function expectClean(text: string): void {
  expect(text).not.toMatch(/[<>]/);
  // eslint-disable-next-line no-control-regex
  expect(text).not.toMatch(/[\u0000-\u001f\u007f]/);
}

describe('upstream text reaches tenants only as the fault message, and connection failures all read the same', () => {
  let sandbox: Sandbox;
  let home: SandboxCloud;
  let target: SandboxCloud;
  let db: TestDatabase;
  let broker: TestBroker;
  let logs: CapturedLogs;
  let tenant: TenantToken;
  let homeId: string;
  let targetId: string;
  const listeners: Listener[] = [];

  beforeAll(async () => {
    sandbox = await startSandboxClouds('up-home', 'up-target');
    home = sandbox.cloud('up-home');
    target = sandbox.cloud('up-target');
    db = await createTestDatabase();
    logs = captureLogs('warn');
    broker = await startTestBroker(db.url, { CLOUD_HEALTH_INTERVAL_SECONDS: '1' }, { logger: logs.logger });
    tenant = await createTenantWithToken(broker.url, broker.adminToken, 'upstream-reader');
    homeId = (await gqlOk(broker.url, tenant.token, REGISTER, { input: registerCloudInput(home, 'up-home') })).registerCloud.id;
    targetId = (await gqlOk(broker.url, tenant.token, REGISTER, { input: registerCloudInput(target, 'up-target', { defaults: { flavor: 'm1.tiny' } }) })).registerCloud.id;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    for (const l of listeners) await l.close();
    await sandbox?.stop();
  });

  afterEach(async () => {
    for (const c of sandbox.clouds) await c.control.clearFaults();
  });

  const hostileKeystone = async (status: number, contentType: string, body: string): Promise<RecordingListener> => {
    const l = await startRecordingListener((_req, res) => void res.writeHead(status, { 'content-type': contentType }).end(body));
    listeners.push(l);
    return l;
  };

  it.each([
    [400, 'text/html', `<html><body><h1>${INTERNAL}</h1></body></html>`],
    [418, 'text/plain', INTERNAL],
    [500, 'text/plain', `database error: ${INTERNAL}`],
  ])('a Keystone answering HTTP %i with a raw body: the status reaches the tenant, the body does not', async (status, type, body) => {
    const keystone = await hostileKeystone(status, type, body);
    const err = await gqlError(broker.url, tenant.token, REGISTER, { input: registerCloudInput(home, `raw-${status}`, { authUrl: `${keystone.url}/v3` }) });
    expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toMatch(new RegExp(`^cloud raw-${status}: keystone POST /auth/tokens failed.*: HTTP ${status}$`));
    expect(err.message).not.toContain('INTERNAL');
  });

  it("an OpenStack fault's own message is passed on, stripped of markup and control characters and bounded", async () => {
    const keystone = await hostileKeystone(400, 'application/json', JSON.stringify({ error: { code: 400, title: 'Bad Request', message: `${HOSTILE_MESSAGE} ${'x'.repeat(2000)}` } }));
    const err = await gqlError(broker.url, tenant.token, REGISTER, { input: registerCloudInput(home, 'fault', { authUrl: `${keystone.url}/v3` }) });
    expect(err.message).toContain('HTTP 400: Quota alert(1) exceeded for instances xxx');
    expectClean(err.message);
    expect(err.message.length).toBeLessThan(500);
  });

  it('a catalog endpoint answering with a raw body: cloudServers shows the status only', async () => {
    const nova = await hostileKeystone(403, 'text/plain', INTERNAL);
    await target.control.setCatalogOverrides({ compute: `${nova.url}/compute/v2.1` });
    try {
      const id = (await gqlOk(broker.url, tenant.token, REGISTER, { input: registerCloudInput(target, 'raw-nova') })).registerCloud.id;
      const err = await gqlError(broker.url, tenant.token, SERVERS, { c: id });
      expect(err.message).toMatch(/nova GET .+ failed: HTTP 403$/);
      expect(err.message).not.toContain('INTERNAL');
    } finally {
      await target.control.setCatalogOverrides({ compute: null });
    }
  });

  it('fault messages are stripped wherever they reach a tenant: cloudServers, matchmake reasons, healthMessage', async () => {
    await home.control.injectFault({ operation: 'nova.server.list', mode: 'fail', status: 400, message: HOSTILE_MESSAGE, count: 'always' });
    const listed = await gqlError(broker.url, tenant.token, SERVERS, { c: homeId });
    expect(listed.message).toContain('HTTP 400: Quota alert(1) exceeded for instances');
    expectClean(listed.message);
    await home.control.clearFaults();

    const factory = labCloudApiFactory();
    try {
      const server = await bootSandboxServer(home, 'up-vm', undefined, factory);
      const { createVmType } = await gqlOk(broker.url, tenant.token, `mutation { createVmType(input: { name: "up", minInstances: 1, maxInstances: 2 }) { id } }`);
      const { importVm } = await gqlOk(broker.url, tenant.token, `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, {
        input: { cloudId: homeId, serverId: server.id, vmTypeId: createVmType.id },
      });
      await target.control.injectFault({ operation: 'nova.limits', mode: 'fail', status: 403, message: HOSTILE_MESSAGE, count: 'always' });
      const { matchmake } = await gqlOk(broker.url, tenant.token, `query($v: ID!) { matchmake(vmId: $v) { cloud { id } reasons } }`, { v: importVm.id });
      const reasons = matchmake.find((c: { cloud: { id: string } }) => c.cloud.id === targetId).reasons.join(' | ');
      expect(reasons).toContain('HTTP 403: Quota alert(1) exceeded for instances');
      expectClean(reasons);
    } finally {
      await factory.close();
    }

    await target.control.injectFault({ operation: 'keystone.token', mode: 'fail', status: 503, message: HOSTILE_MESSAGE, count: 'always' });
    const down = await waitFor(async () => {
      const { cloud } = await gqlOk(broker.url, tenant.token, `query($id: ID!) { cloud(id: $id) { health healthMessage } }`, { id: targetId });
      return cloud.health === 'UNREACHABLE' && cloud;
    }, 'the probe to see the failing Keystone');
    expect(down.healthMessage).toContain('HTTP 503: Quota alert(1) exceeded for instances');
    expectClean(down.healthMessage);
  });

  it('refused, reset, unresolvable and black-holed (accepts, never answers) Keystones read exactly the same; the log tells them apart', async () => {
    const hole = await startBlackHole();
    const reset = await startResettingListener();
    listeners.push(hole, reset);
    const urls = {
      refused: `http://127.0.0.1:${await closedPort()}/v3`,
      reset: `${reset.url}/v3`,
      unresolvable: 'http://keystone.nothing.invalid:5000/v3',
      'black hole': `${hole.url}/v3`,
    };
    const messages: Record<string, string> = {};
    for (const [kind, authUrl] of Object.entries(urls)) {
      // The same cloud name each time: only the cause differs.
      const err = await gqlError(broker.url, tenant.token, REGISTER, { input: registerCloudInput(home, 'unreachable', { authUrl }) });
      expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      messages[kind] = err.message;
    }
    const expected = `cloud unreachable: keystone POST /auth/tokens failed: ${NO_ANSWER}`;
    expect(messages).toEqual({ refused: expected, reset: expected, unresolvable: expected, 'black hole': expected });

    const details = logs
      .lines()
      .filter((l) => l.msg === 'upstream failure in GraphQL operation' && l.err?.message === expected)
      .map((l) => String(l.err.details?.detail));
    expect(details).toEqual([expect.stringContaining('ECONNREFUSED'), expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/), expect.stringMatching(/ENOTFOUND|EAI_AGAIN/), expect.stringContaining('timed out')]);
  }, 120_000);
});
