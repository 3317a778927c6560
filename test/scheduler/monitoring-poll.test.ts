/**
 * The monitoring poller on a real PostgreSQL, with real brokers in this process.
 *
 * Most tests here give the poller a MonitoringSource that returns fixed service states written
 * inline, on purpose: they test the poller's own logic (host name -> VM by the binding's
 * template, service -> metric, enabled metrics only, last_check as the observation time, stale,
 * never-run and future-dated checks skipped, two tenants, a failing Nagios recorded and never
 * mistaken for OK), which needs exact timestamps and failures no real Nagios reports on demand.
 * The real adapter (src/adapters/nagios: statusjson.cgi over HTTP) is tested against the peers'
 * Nagios 4 in test/adapters/nagios.adapter.test.ts, and the last test here runs the poller with
 * it, end to end: a passive result written to that Nagios becomes a stored sample.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { MonitoringServerEntity, SampleEntity, VmEntity } from '../../src/domain/entities';
import { SampleState } from '../../src/domain/enums';
import { UpstreamUnavailableError } from '../../src/domain/errors';
import { STORE_BATCH } from '../../src/services/monitoring-poll.service';
import { MonitoringSource, NagiosStatusEndpoint, ServiceStatus } from '../../src/ports/monitoring.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloud, insertVm } from '../support/fixtures';
import { gqlOk } from '../support/graphql';
import { createSshKey, NAGIOS_HOST_TEMPLATE, registerMonitoringServer } from '../support/integrations';
import { keyPair, tempKeyDir } from '../support/ssh-keys';
import { submitPassive } from '../support/nagios';
import { describeWithServicePeers } from '../support/service-peers';
import { createTenantWithToken, TenantToken } from '../support/tenants';
import { waitFor } from '../support/wait';

/** Fixed answers, as the Nagios adapter would give them; `failure` makes every read throw it. */
class FixedMonitoringSource implements MonitoringSource {
  statuses: ServiceStatus[] = [];
  failure: Error | null = null;
  readonly reads: NagiosStatusEndpoint[] = [];

  async services(endpoint: NagiosStatusEndpoint): Promise<ServiceStatus[]> {
    this.reads.push(endpoint);
    if (this.failure) throw this.failure;
    return this.statuses.map((s) => ({ ...s }));
  }

  async hasHost(): Promise<boolean> {
    throw new Error('not used by the poller');
  }

  async programStatus(): Promise<never> {
    throw new Error('not used by the poller');
  }
}

const at = (iso: string) => new Date(iso);
const status = (host: string, service: string, state: SampleState, observedAt: string, value: number | null = null): ServiceStatus => ({
  host,
  service,
  state,
  observedAt: at(observedAt),
  value,
  output: `${state} - ${value ?? ''}`,
});

describe('monitoring poller', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let url: string;
  let a: TenantToken;
  let b: TenantToken;
  let dir: string;
  const source = new FixedMonitoringSource();

  /** A tenant's Nagios, a VM type bound to it with `hostName`, thresholds, and VMs named `names` in a cloud named `cloud`. */
  async function fleet(t: TenantToken, o: { type: string; hostName?: string; cloud?: string; names: string[] }) {
    const key = await createSshKey(url, t.token, `key-${o.type}`, keyPair(dir, `key-${o.type}`));
    const server = await registerMonitoringServer(url, t.token, `nagios-${o.type}`, key.id, keyPair(dir, `host-${o.type}`).publicKey);
    const { createVmType } = await gqlOk(url, t.token, `mutation($input: VmTypeInput!) { createVmType(input: $input) { id } }`, {
      input: {
        name: o.type,
        minInstances: 1,
        maxInstances: 4,
        monitoring: { serverId: server.id, hostTemplate: NAGIOS_HOST_TEMPLATE, hostName: o.hostName, metrics: [{ service: 'Active Calls', metric: 'active calls' }] },
      },
    });
    await gqlOk(url, t.token, `mutation($id: ID!, $t: [ThresholdInput!]!) { setThresholds(vmTypeId: $id, thresholds: $t) { id } }`, {
      id: createVmType.id,
      t: [
        { metric: 'active calls', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: 'SCALE_DOWN' },
        { metric: 'Registered OpenSIPS Users', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: 'SCALE_UP' },
        { metric: 'load', active: false, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: 'SCALE_UP' },
      ],
    });
    const cloud = await insertCloud(broker.dataSource, t.tenantId, o.cloud ?? `cloud-${o.type}`);
    const vms: VmEntity[] = [];
    for (const name of o.names) {
      const vm = await insertVm(broker.dataSource, t.tenantId, cloud.id, createVmType.id);
      vms.push(await broker.dataSource.getRepository(VmEntity).save({ ...vm, name }));
    }
    return { server: await broker.dataSource.getRepository(MonitoringServerEntity).findOneByOrFail({ id: server.id }), vmTypeId: createVmType.id, vms };
  }

  const samplesOf = (vmId: string) =>
    broker.dataSource.getRepository(SampleEntity).find({ where: { vmId }, order: { metric: 'ASC', observedAt: 'ASC' } }).then((rows) =>
      rows.map((r) => ({ metric: r.metric, state: r.state, value: r.value, observedAt: r.observedAt.toISOString(), source: r.source })),
    );
  const poll = (server: MonitoringServerEntity) => broker.services.monitoringPoll!.pollServer(server);
  const serverRow = (id: string) => broker.dataSource.getRepository(MonitoringServerEntity).findOneByOrFail({ id });

  beforeAll(async () => {
    db = await createTestDatabase();
    // The scheduler's own rounds would race the rounds this test runs by hand: an hour apart, they do not.
    broker = await startTestBroker(db.url, { MONITORING_POLL_SECONDS: '3600' }, { adapters: { monitoringSource: source } });
    url = broker.url;
    a = await createTenantWithToken(url, broker.adminToken, 'poll-a');
    b = await createTenantWithToken(url, broker.adminToken, 'poll-b');
    dir = tempKeyDir('poller');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    source.failure = null;
    source.statuses = [];
  });

  it('stores one sample per VM per enabled metric, with the state, value and last_check Nagios reported', async () => {
    const { server, vms } = await fleet(a, { type: 'opensips', names: ['sip-1', 'sip-2'] });
    source.statuses = [
      status('sip-1', 'Active Calls', SampleState.WARNING, '2026-12-01T10:00:00.000Z', 42),
      status('sip-1', 'Registered OpenSIPS Users', SampleState.CRITICAL, '2026-12-01T10:00:01.000Z', 950),
      status('sip-1', 'load', SampleState.CRITICAL, '2026-12-01T10:00:02.000Z', 9), // threshold not active
      status('sip-1', 'Disk', SampleState.CRITICAL, '2026-12-01T10:00:02.000Z'), // no threshold at all
      status('sip-2', 'Active Calls', SampleState.OK, '2026-12-01T10:00:03.000Z', 0),
      status('unknown-host', 'Active Calls', SampleState.CRITICAL, '2026-12-01T10:00:03.000Z', 7),
    ];
    const result = await poll(server);
    expect(result).toMatchObject({ ok: true, stored: 3, stale: 0, unmatchedHosts: 1, unrenderable: 0, ambiguousHosts: [] });
    expect(await samplesOf(vms[0].id)).toEqual([
      { metric: 'Registered OpenSIPS Users', state: 'CRITICAL', value: 950, observedAt: '2026-12-01T10:00:01.000Z', source: 'nagios' },
      { metric: 'active calls', state: 'WARNING', value: 42, observedAt: '2026-12-01T10:00:00.000Z', source: 'nagios' },
    ]);
    expect(await samplesOf(vms[1].id)).toEqual([{ metric: 'active calls', state: 'OK', value: 0, observedAt: '2026-12-01T10:00:03.000Z', source: 'nagios' }]);
    expect(await serverRow(server.id)).toMatchObject({ health: 'HEALTHY', lastError: null, lastPolledAt: expect.any(Date) });
    // The adapter was given the server's status endpoint with its (decrypted) password.
    expect(source.reads.at(-1)).toEqual({ statusUrl: server.statusUrl, username: 'nagiosadmin', password: 'nagios-secret-pw' });
    // What the poller stored reads like any sample through the API.
    const { samples } = await gqlOk(url, a.token, `query($v: ID!) { samples(vmId: $v, metric: "active calls") { state value observedAt source } }`, { v: vms[0].id });
    expect(samples).toEqual([{ state: 'WARNING', value: 42, observedAt: '2026-12-01T10:00:00.000Z', source: 'nagios' }]);
  });

  it('does not store a check again, nor an older one: only a newer last_check is a fresh sample', async () => {
    const { server, vms } = await fleet(a, { type: 'stale', names: ['stale-1'] });
    source.statuses = [
      status('stale-1', 'Active Calls', SampleState.CRITICAL, '2026-12-01T11:00:00.000Z', 5),
      status('stale-1', 'Registered OpenSIPS Users', SampleState.OK, '2026-12-01T11:00:00.000Z', 1),
    ];
    expect(await poll(server)).toMatchObject({ ok: true, stored: 2, stale: 0 });
    // Nagios has not checked again: the same answer is no news.
    expect(await poll(server)).toMatchObject({ ok: true, stored: 0, stale: 2 });
    // One service checked again, the other reports an older check than the one stored.
    source.statuses = [
      status('stale-1', 'Active Calls', SampleState.OK, '2026-12-01T11:00:15.000Z', 0),
      status('stale-1', 'Registered OpenSIPS Users', SampleState.CRITICAL, '2026-12-01T10:59:00.000Z', 999),
    ];
    expect(await poll(server)).toMatchObject({ ok: true, stored: 1, stale: 1 });
    // A pushed sample counts too: a Nagios check older than it is not stored.
    await gqlOk(url, a.token, `mutation($s: [SampleInput!]!) { recordSamples(samples: $s) }`, {
      s: [{ vmId: vms[0].id, metric: 'active calls', state: 'WARNING', value: 3, observedAt: '2026-12-01T11:00:20.000Z' }],
    });
    source.statuses = [status('stale-1', 'Active Calls', SampleState.CRITICAL, '2026-12-01T11:00:18.000Z', 9)];
    expect(await poll(server)).toMatchObject({ ok: true, stored: 0, stale: 1 });
    expect((await samplesOf(vms[0].id)).map((s) => `${s.metric} ${s.state} ${s.observedAt} ${s.source}`)).toEqual([
      'Registered OpenSIPS Users OK 2026-12-01T11:00:00.000Z nagios',
      'active calls CRITICAL 2026-12-01T11:00:00.000Z nagios',
      'active calls OK 2026-12-01T11:00:15.000Z nagios',
      'active calls WARNING 2026-12-01T11:00:20.000Z push',
    ]);
  });

  it('stores a large Nagios in several batches, and a re-read of it stores nothing again', async () => {
    const { server, vmTypeId } = await fleet(a, { type: 'sip-many', names: [] });
    const count = Math.ceil(STORE_BATCH / 2) + 50; // two metrics per VM: more candidates than one batch holds
    const [{ cloud_id: cloudId }] = await broker.dataSource.query(`SELECT id AS cloud_id FROM clouds WHERE tenant_id = $1 AND name = 'cloud-sip-many'`, [a.tenantId]);
    await broker.dataSource.query(
      `INSERT INTO vms (tenant_id, vm_type_id, cloud_id, server_id, name, state, origin)
       SELECT $1, $2, $3, gen_random_uuid()::text, 'many-' || g, 'ACTIVE', 'IMPORTED' FROM generate_series(1, $4) g`,
      [a.tenantId, vmTypeId, cloudId, count],
    );
    source.statuses = Array.from({ length: count }, (_, i) => [
      status(`many-${i + 1}`, 'Active Calls', SampleState.OK, '2026-12-01T11:00:00.000Z', i),
      status(`many-${i + 1}`, 'Registered OpenSIPS Users', SampleState.WARNING, '2026-12-01T11:00:01.000Z', i),
    ]).flat();
    expect(await poll(server)).toMatchObject({ ok: true, stored: count * 2, stale: 0, unmatchedHosts: 0 });
    const [{ n }] = await broker.dataSource.query(`SELECT count(*)::int AS n FROM samples s JOIN vms v ON v.id = s.vm_id WHERE v.vm_type_id = $1`, [vmTypeId]);
    expect(n).toBe(count * 2);
    expect(await poll(server)).toMatchObject({ ok: true, stored: 0, stale: count * 2 });
  });

  it('skips checks that never ran or are dated far in the future, keeping the newer of two services feeding one metric', async () => {
    const { server, vms } = await fleet(a, { type: 'odd-times', names: ['odd-1'] });
    const future = new Date(Date.now() + 3600_000).toISOString();
    source.statuses = [
      status('odd-1', 'Registered OpenSIPS Users', SampleState.UNKNOWN, '1970-01-01T00:00:00.000Z'),
      status('odd-1', 'active calls', SampleState.CRITICAL, future, 1),
      // Both feed "active calls" (one by the mapping, one by its own name): the newer wins.
      status('odd-1', 'Active Calls', SampleState.WARNING, '2026-12-01T12:00:00.000Z', 2),
      status('odd-1', 'active calls', SampleState.OK, '2026-12-01T12:00:05.000Z', 0),
    ];
    expect(await poll(server)).toMatchObject({ ok: true, stored: 1 });
    expect(await samplesOf(vms[0].id)).toEqual([{ metric: 'active calls', state: 'OK', value: 0, observedAt: '2026-12-01T12:00:05.000Z', source: 'nagios' }]);
  });

  it('finds VMs by the rendered hostName template, skipping VMs it cannot render, ambiguous names and retired VMs', async () => {
    const { server, vms } = await fleet(a, { type: 'templated', hostName: '{{cloudName}}-{{hostname}}', cloud: 'partner', names: ['SIP-A', 'sip b', 'twin', 'TWIN', 'gone'] });
    await broker.dataSource.getRepository(VmEntity).update({ id: vms[4].id }, { retiredAt: new Date(), state: 'RETIRED' });
    source.statuses = [
      status('partner-sip-a', 'Active Calls', SampleState.CRITICAL, '2026-12-01T13:00:00.000Z', 8),
      status('partner-twin', 'Active Calls', SampleState.CRITICAL, '2026-12-01T13:00:00.000Z', 8),
      status('partner-gone', 'Active Calls', SampleState.CRITICAL, '2026-12-01T13:00:00.000Z', 8),
      status('SIP-A', 'Active Calls', SampleState.CRITICAL, '2026-12-01T13:00:00.000Z', 8),
    ];
    const result = await poll(server);
    // "sip b" is no RFC 1123 host name, so {{hostname}} has no value for it; twin and TWIN are both partner-twin.
    expect(result).toMatchObject({ ok: true, stored: 1, unrenderable: 1, ambiguousHosts: ['partner-twin'], unmatchedHosts: 3 });
    expect((await samplesOf(vms[0].id)).map((s) => s.metric)).toEqual(['active calls']);
    for (const vm of vms.slice(1)) expect(await samplesOf(vm.id)).toEqual([]);
  });

  it("reads each tenant's Nagios for that tenant's VMs only", async () => {
    const mine = await fleet(a, { type: 'tenant-a-type', names: ['shared-name'] });
    const theirs = await fleet(b, { type: 'tenant-b-type', names: ['shared-name'] });
    source.statuses = [status('shared-name', 'Active Calls', SampleState.CRITICAL, '2026-12-01T14:00:00.000Z', 3)];
    expect(await poll(mine.server)).toMatchObject({ ok: true, stored: 1 });
    expect(await samplesOf(mine.vms[0].id)).toHaveLength(1);
    expect(await samplesOf(theirs.vms[0].id)).toEqual([]);
    expect((await samplesOf(mine.vms[0].id))[0]).toMatchObject({ metric: 'active calls' });
    const [{ tenant_id }] = await broker.dataSource.query(`SELECT tenant_id FROM samples WHERE vm_id = $1`, [mine.vms[0].id]);
    expect(tenant_id).toBe(a.tenantId);
  });

  it('records an unreachable or failing Nagios on the server and stores nothing, then recovers', async () => {
    const { server, vms } = await fleet(a, { type: 'flaky', names: ['flaky-1'] });
    source.statuses = [status('flaky-1', 'Active Calls', SampleState.OK, '2026-12-01T15:00:00.000Z', 0)];
    source.failure = new UpstreamUnavailableError('nagios-flaky (http://127.0.0.1:8080/cgi-bin/nagios4/statusjson.cgi): no answer (the connection failed, was cut or timed out)');
    expect(await poll(server)).toMatchObject({ ok: false, error: expect.stringContaining('no answer') });
    expect(await serverRow(server.id)).toMatchObject({ health: 'UNREACHABLE', lastError: expect.stringContaining('nagios-flaky') });
    expect(await samplesOf(vms[0].id)).toEqual([]);
    // Something that is not a domain error (a bug, a parse failure) is named, never shown.
    source.failure = new TypeError("Cannot read properties of undefined (reading 'servicelist') at /srv/secret/path.js");
    expect(await poll(server)).toMatchObject({ ok: false });
    const failed = await serverRow(server.id);
    expect(failed).toMatchObject({ health: 'UNREACHABLE', lastError: "internal error (the broker's log has the detail)" });
    const { monitoringServer } = await gqlOk(url, a.token, `query($id: ID!) { monitoringServer(id: $id) { health lastError lastPolledAt } }`, { id: server.id });
    expect(monitoringServer).toEqual({ health: 'UNREACHABLE', lastError: "internal error (the broker's log has the detail)", lastPolledAt: failed.lastPolledAt!.toISOString() });
    source.failure = null;
    expect(await poll(server)).toMatchObject({ ok: true, stored: 1 });
    expect(await serverRow(server.id)).toMatchObject({ health: 'HEALTHY', lastError: null });
  });

  it('polls every registered server, one failure not stopping the others', async () => {
    source.statuses = [];
    source.failure = new UpstreamUnavailableError('no answer');
    const results = await broker.services.monitoringPoll!.pollAll();
    expect(results.length).toBe((await broker.dataSource.getRepository(MonitoringServerEntity).count()));
    expect(results.every((r) => !r.ok)).toBe(true);
  });

  it('runs as a task of the leader scheduler every MONITORING_POLL_SECONDS', async () => {
    // The first broker leads this database's scheduler; a broker polling every second replaces it.
    await broker.stop();
    const ticking = new FixedMonitoringSource();
    broker = await startTestBroker(db.url, { MONITORING_POLL_SECONDS: '1' }, { adapters: { monitoringSource: ticking } });
    url = broker.url;
    const { server, vms } = await fleet(a, { type: 'scheduled', names: ['tick-1'] });
    ticking.statuses = [status('tick-1', 'Active Calls', SampleState.CRITICAL, new Date().toISOString(), 4)];
    await waitFor(async () => (await samplesOf(vms[0].id)).length === 1, 'a sample stored by the scheduled poller', 20_000, 200);
    expect(await serverRow(server.id)).toMatchObject({ health: 'HEALTHY', lastError: null });
    expect(ticking.reads.length).toBeGreaterThan(0);
  });
});

describeWithServicePeers('monitoring poller with the real Nagios adapter', (peers) => {
  let db: TestDatabase;
  let broker: TestBroker;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    // No adapter override: the broker's own Nagios adapter reads the peers' statusjson.cgi.
    broker = await startTestBroker(db.url, { MONITORING_POLL_SECONDS: '3600' });
    dir = tempKeyDir('poller-real');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores what the real Nagios reports for a VM: a passive result becomes a sample with its state and value', async () => {
    const t = await createTenantWithToken(broker.url, broker.adminToken, 'poll-real');
    const key = await createSshKey(broker.url, t.token, 'key-real', keyPair(dir, 'key-real'));
    const server = await registerMonitoringServer(broker.url, t.token, 'nagios-peers', key.id, keyPair(dir, 'host-real').publicKey, {
      statusUrl: peers.nagios.statusUrl,
      username: peers.nagios.username,
      password: peers.nagios.password,
    });
    const { createVmType } = await gqlOk(broker.url, t.token, `mutation($input: VmTypeInput!) { createVmType(input: $input) { id } }`, {
      input: { name: 'real', minInstances: 1, maxInstances: 4, monitoring: { serverId: server.id, hostTemplate: NAGIOS_HOST_TEMPLATE, metrics: [{ service: peers.nagios.passiveService, metric: 'calls' }] } },
    });
    await gqlOk(broker.url, t.token, `mutation($id: ID!, $t: [ThresholdInput!]!) { setThresholds(vmTypeId: $id, thresholds: $t) { id } }`, {
      id: createVmType.id,
      t: [{ metric: 'calls', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: 'SCALE_UP' }],
    });
    // A VM named like the peers' own Nagios host (the binding's default hostName is the VM's name).
    const cloud = await insertCloud(broker.dataSource, t.tenantId, 'cloud-real');
    const vm = await broker.dataSource.getRepository(VmEntity).save({ ...(await insertVm(broker.dataSource, t.tenantId, cloud.id, createVmType.id)), name: peers.nagios.host });
    // A value no other test writes, so the sample found is this result and not an earlier one.
    const value = 100_000 + crypto.randomInt(900_000);
    await submitPassive(peers, peers.nagios.host, peers.nagios.passiveService, 1, `WARNING - ${value} calls|calls=${value}`);
    const entity = await broker.dataSource.getRepository(MonitoringServerEntity).findOneByOrFail({ id: server.id });
    const sample = await waitFor(async () => {
      const result = await broker.services.monitoringPoll!.pollServer(entity);
      if (!result.ok) throw new Error(`the poller could not read the peers' Nagios: ${JSON.stringify(result)}`);
      return broker.dataSource.getRepository(SampleEntity).findOneBy({ vmId: vm.id, metric: 'calls', value });
    }, 'the passive result to be stored as a sample', 60_000, 500);
    expect(sample).toMatchObject({ state: 'WARNING', source: 'nagios' });
    expect(await broker.dataSource.getRepository(MonitoringServerEntity).findOneByOrFail({ id: server.id })).toMatchObject({ health: 'HEALTHY', lastError: null });
  });
});
