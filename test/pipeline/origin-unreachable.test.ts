/**
 * Origin unreachable (the attacked cloud the standby images exist for), end to end against three
 * sandbox clouds, real PostgreSQL and the broker's own health prober: once every call to the
 * origin fails and the prober has marked it UNREACHABLE, a clone of one of its VMs boots from the
 * freshest standby image of its type in a partner cloud (not the cloud the matchmaker would rank
 * first), without a single snapshot or download asked of the origin; without a fresh standby it
 * fails at once, saying the origin is unreachable. The autoscaler's commit does the same and its
 * decision says so, in its reason and its evidence.
 */
import { Client } from 'pg';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { startTestBroker, TestBroker } from '../support/broker';
import { CLONE_JOB_FIELDS, CloneFixture, registerSandboxCloud, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { labCloudApiFactory, startSandboxClouds } from '../support/sandbox';
import { waitFor } from '../support/wait';

const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { ${CLONE_JOB_FIELDS} standbyImage { id cloudId imageId } } }`;
const PREPARE = `mutation($t: ID!, $c: ID!) { prepareStandby(vmTypeId: $t, cloudId: $c) { id } }`;
const DECISIONS = `query($t: ID) { scalingDecisions(vmTypeId: $t, first: 100) { id action reason evidence cloneJobId } }`;
const RECORD = `mutation($s: [SampleInput!]!) { recordSamples(samples: $s) }`;
/** What only a clone that snapshots its origin asks of it: a snapshot, a look for one, a download. */
const SNAPSHOT_CALLS = ['nova.server.createImage', 'glance.image.list', 'glance.image.download'] as const;

type Decision = { id: string; action: string; reason: string; evidence: Record<string, any>; cloneJobId: string | null };

describe('a clone whose origin cloud is unreachable', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let fx: CloneFixture;
  /** A partner cloud the matchmaker prefers (cheaper, faster link) that holds no standby image. */
  let preferredCloudId: string;
  let withStandby: { typeId: string; vmId: string; standbyImageId: string };
  let without: { typeId: string; vmId: string };

  const gql = (query: string, variables?: Record<string, unknown>) => gqlOk(broker.url, fx.tenant.token, query, variables);
  const createType = async (name: string) => (await gql(`mutation($n: String!) { createVmType(input: { name: $n, minInstances: 1, maxInstances: 4, scaleUpCooldownSeconds: 1 }) { id } }`, { n: name })).createVmType.id as string;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('ou-origin', 'ou-standby', 'ou-cheap');
    for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
    factory = labCloudApiFactory();
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { CLOUD_HEALTH_INTERVAL_SECONDS: '1', SCHEDULER_TICK_SECONDS: '1', RATE_LIMIT_PER_MINUTE: '100000' });
    fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'ou-origin', 'ou-standby');
    const cheap = sandbox.cloud('ou-cheap');
    const info = await cheap.control.info();
    preferredCloudId = await registerSandboxCloud(broker.url, fx.tenant.token, cheap, { network: info.networks.private.name, floatingNetwork: info.networks.public.name });
    await gql(`mutation($id: ID!) { updateCloud(id: $id, input: { costPerHour: 0.01 }) { id } }`, { id: preferredCloudId });

    const typeId = await createType('sip-standby');
    const { vmId } = await fx.importNewVm('sip-with-standby', undefined, typeId);
    const { prepareStandby } = await gql(PREPARE, { t: typeId, c: fx.targetCloudId });
    const prepared = await waitForJobState(broker.url, fx.tenant.token, prepareStandby.id, ['DONE', 'FAILED', 'CANCELLED'], 90_000);
    expect(prepared.state).toBe('DONE');
    const { cloneJob } = await gql(`query($id: ID!) { cloneJob(id: $id) { standbyImage { id } } }`, { id: prepareStandby.id });
    withStandby = { typeId, vmId, standbyImageId: cloneJob.standbyImage.id };
    const bareType = await createType('sip-no-standby');
    without = { typeId: bareType, vmId: (await fx.importNewVm('sip-without-standby', undefined, bareType)).vmId };
    // No ranking precondition here: the learned matchmaker already prefers the standby's cloud (its measured prepare
    // was fast, and a fresh standby zeroes snapshot and transfer). What this file checks is that, with the origin down,
    // the clone goes where a standby is and no step asks the origin for anything.

    // The origin goes down: every call to it fails, until the prober has seen it.
    await sandbox.cloud('ou-origin').control.injectFault({ operation: '*', count: 'always' });
    await waitFor(
      async () => (await gql(`query($id: ID!) { cloud(id: $id) { health } }`, { id: fx.sourceCloudId })).cloud.health === 'UNREACHABLE',
      'the health prober to find the origin UNREACHABLE',
      60_000,
      200,
    );
  }, 180_000);

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
  });

  it('boots from the freshest standby in a partner cloud, asking the origin for nothing', async () => {
    const origin = sandbox.cloud('ou-origin').control;
    await origin.resetCalls();
    const { cloneVm } = await gql(CLONE, { input: { vmId: withStandby.vmId } });
    expect(cloneVm.targetCloud.id).toBe(fx.targetCloudId);
    expect(cloneVm.standbyImage.id).toBe(withStandby.standbyImageId);
    const job = await waitForJobState(broker.url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED', 'CANCELLED'], 90_000);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');
    expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['BOOT', 'NETWORK']);
    expect(job.resultVm.cloud.id).toBe(fx.targetCloudId);
    const calls = await origin.calls();
    for (const op of SNAPSHOT_CALLS) expect([op, calls[op] ?? 0]).toEqual([op, 0]);

    // The job's first event says why it went where it went.
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query(`SELECT payload FROM events WHERE stream = $1 ORDER BY seq LIMIT 1`, [`clone-job:${cloneVm.id}`]);
      expect(rows[0].payload.message).toContain('(its origin cloud ou-origin is unreachable: ou-standby holds the freshest standby image)');
    } finally {
      await pg.end();
    }
  });

  it('fails at once, naming the origin, when no partner cloud holds a fresh standby of the type', async () => {
    const err = await gqlError(broker.url, fx.tenant.token, CLONE, { input: { vmId: without.vmId } });
    expect(err.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', field: 'input.vmId', cloudId: fx.sourceCloudId });
    expect(err.message).toMatch(/^the origin cloud ou-origin of VM sip-without-standby is unreachable \(.+\), so no snapshot can be taken, and no partner cloud holds a fresh standby image of its VM type to boot from$/);

    // A named target without a standby is refused the same way, not snapshotted.
    const named = await gqlError(broker.url, fx.tenant.token, CLONE, { input: { vmId: withStandby.vmId, targetCloudId: preferredCloudId } });
    expect(named.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', field: 'input.vmId' });
    expect(named.message).toContain('the named target cloud holds no fresh standby image');
  });

  it("the autoscaler's commit boots from the standby and its decision says the origin is down; without a standby it says why it could not", async () => {
    const critical = (vmId: string) => {
      const now = Date.now();
      return gql(RECORD, { s: Array.from({ length: 4 }, (_, i) => ({ vmId, metric: 'load', state: 'CRITICAL', value: 99, observedAt: new Date(now - (3 - i) * 1000).toISOString() })) });
    };
    for (const typeId of [withStandby.typeId, without.typeId]) {
      await gql(
        `mutation($id: ID!) { setThresholds(vmTypeId: $id, thresholds: [{ metric: "load", active: true, warningHoldSeconds: 3600, criticalHoldSeconds: 2, role: SCALE_UP, prepareOnWarning: false }]) { id } }`,
        { id: typeId },
      );
    }
    await critical(withStandby.vmId);
    await critical(without.vmId);
    const decided = (typeId: string, match: (d: Decision) => boolean, what: string) =>
      waitFor(async () => ((await gql(DECISIONS, { t: typeId })).scalingDecisions as Decision[]).find(match), what, 60_000, 200);

    const up = await decided(withStandby.typeId, (d) => d.action === 'SCALE_UP', 'a SCALE_UP decision');
    expect(up.reason).toContain('the origin cloud ou-origin is unreachable');
    expect(up.reason).toContain('the clone boots from standby image');
    expect(up.evidence).toMatchObject({ targetCloudId: fx.targetCloudId, standbyImageId: withStandby.standbyImageId, originUnreachable: { cloudId: fx.sourceCloudId, name: 'ou-origin' } });
    const job = await waitForJobState(broker.url, fx.tenant.token, up.cloneJobId!, ['DONE', 'FAILED', 'CANCELLED'], 90_000);
    expect(job.state).toBe('DONE');
    expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['BOOT', 'NETWORK']);

    const refused = await decided(without.typeId, (d) => d.evidence.outcome === 'ACTION_REFUSED', 'a refused decision');
    expect(refused.action).toBe('NONE');
    expect(refused.reason).toContain('but it could not start: the origin cloud ou-origin of VM sip-without-standby is unreachable');
    expect(refused.reason).toContain('no partner cloud holds a fresh standby image');
    expect(refused.evidence).toMatchObject({ decided: 'SCALE_UP', originUnreachable: { cloudId: fx.sourceCloudId } });
  }, 150_000);
});
