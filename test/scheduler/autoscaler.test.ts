/**
 * The autoscaler end to end with a real broker (its leader scheduler ticking every second) and two
 * sandbox clouds, fed through recordSamples: a CRITICAL hold starts exactly one clone, the
 * decision says why, a hold that goes on while the clone runs starts no second one, and a held
 * scale-down metric removes the clone, never the original.
 */
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { AUTOSCALER_TOKEN_ID } from '../../src/domain/principal';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { labCloudApiFactory, startSandboxClouds } from '../support/sandbox';
import { waitFor } from '../support/wait';

const DECISIONS = `query($t: ID) { scalingDecisions(vmTypeId: $t, first: 100) { id action metric reason evidence cloneJobId decidedAt } }`;
const RECORD = `mutation($s: [SampleInput!]!) { recordSamples(samples: $s) }`;

type Decision = { id: string; action: string; metric: string | null; reason: string; evidence: Record<string, any>; cloneJobId: string | null };

describe('autoscaler', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let fx: CloneFixture;
  let vmTypeId: string;

  const gql = (query: string, variables?: Record<string, unknown>) => gqlOk(broker.url, fx.tenant.token, query, variables);
  const decisionsOf = async (t: string): Promise<Decision[]> => (await gql(DECISIONS, { t })).scalingDecisions;
  const decisions = () => decisionsOf(vmTypeId);
  const decisionWith = (what: string, match: (d: Decision) => boolean) => waitFor(async () => (await decisions()).find(match), what, 90_000, 200);
  /** Samples of one metric on one VM, one per second ending now: the hold they make is (count - 1) s long. */
  const feed = (vmId: string, metric: string, state: string, count: number, value: number | null = null) => {
    const now = Date.now();
    const samples = Array.from({ length: count }, (_, i) => ({ vmId, metric, state, value, observedAt: new Date(now - (count - 1 - i) * 1000).toISOString() }));
    return gql(RECORD, { s: samples });
  };
  const jobsOfType = async (sourceVmId: string) =>
    ((await gql(`{ cloneJobs(first: 100) { nodes { id state sourceVm { id } } } }`)).cloneJobs.nodes as { id: string; state: string; sourceVm: { id: string } }[]).filter((j) => j.sourceVm.id === sourceVmId);

  beforeAll(async () => {
    sandbox = await startSandboxClouds('as-src', 'as-dst');
    // A clone whose boot takes a while: long enough for the scheduler to look at the type, several times, while it runs.
    await sandbox.cloud('as-dst').control.setLatency({ bootMs: 8_000 });
    factory = labCloudApiFactory();
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { SCHEDULER_TICK_SECONDS: '1' });
    fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'as-src', 'as-dst');
    const { createVmType } = await gql(
      `mutation { createVmType(input: { name: "sip-auto", minInstances: 1, maxInstances: 3, scaleUpCooldownSeconds: 1, scaleDownCooldownSeconds: 1 }) { id } }`,
    );
    vmTypeId = createVmType.id;
    await gql(
      `mutation($id: ID!) { setThresholds(vmTypeId: $id, thresholds: [
        { metric: "load", active: true, warningHoldSeconds: 3600, criticalHoldSeconds: 2, role: SCALE_UP, prepareOnWarning: false },
        { metric: "idle", active: true, warningHoldSeconds: 2, criticalHoldSeconds: 2, role: SCALE_DOWN, prepareOnWarning: false }]) { id } }`,
      { id: vmTypeId },
    );
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
  });

  it('scales up once on a CRITICAL hold, explains it, and scales the clone (never the original) down on a held idle metric', async () => {
    const { vmId: originalId } = await fx.importNewVm('sip-orig', undefined, vmTypeId);
    // The home cloud has no room left: the matchmaker must place the clone in the partner cloud.
    const home = sandbox.cloud('as-src').control;
    await home.setQuotas({ instances: (await home.listServers()).length });
    expect(await decisions()).toEqual([]);

    // CRITICAL for 3 s of observations, against a 2 s hold: the next tick clones.
    await feed(originalId, 'load', 'CRITICAL', 4, 900);
    const up = await decisionWith('a SCALE_UP decision', (d) => d.action === 'SCALE_UP');
    expect(up.metric).toBe('load');
    expect(up.reason).toMatch(/^load on sip-orig: CRITICAL held \d+ s .*at least the 2 s CRITICAL hold; scaling up: cloning sip-orig/);
    expect(up.evidence).toMatchObject({ outcome: 'SCALE_UP', sourceVmId: originalId, targetCloudId: fx.targetCloudId, instances: 1, maxInstances: 3, hold: { vmId: originalId, level: 'CRITICAL', requiredSeconds: 2 } });
    expect(up.evidence.samples.length).toBeGreaterThanOrEqual(3);
    expect(up.cloneJobId).toBeTruthy();

    // The overload goes on while the clone runs: the scheduler sees it and holds back.
    await feed(originalId, 'load', 'CRITICAL', 3, 950);
    const held = await decisionWith('a decision blocked by the running clone', (d) => d.evidence.outcome === 'CLONE_IN_FLIGHT');
    expect(held.action).toBe('NONE');
    expect(held.reason).toContain(`clone job ${up.cloneJobId} of this VM type is still running`);
    expect((await jobsOfType(originalId)).map((j) => j.id)).toEqual([up.cloneJobId]);

    // The load is handled; the clone finishes. Still one clone, one SCALE_UP, and the blocked decision was stored once, not every tick.
    await feed(originalId, 'load', 'OK', 1, 100);
    const job = await waitForJobState(broker.url, fx.tenant.token, up.cloneJobId!, ['DONE', 'FAILED', 'CANCELLED'], 90_000);
    expect(job.state).toBe('DONE');
    const cloneId: string = job.resultVm.id;
    expect((await jobsOfType(originalId)).map((j) => j.id)).toEqual([up.cloneJobId]);
    const afterUp = await decisions();
    expect(afterUp.filter((d) => d.action === 'SCALE_UP')).toHaveLength(1);
    expect(afterUp.filter((d) => d.evidence.outcome === 'CLONE_IN_FLIGHT')).toHaveLength(1);

    // The scheduler acted as itself, for the tenant, and the audit log says so.
    const { auditLog } = await gql(`{ auditLog(first: 100) { action objectId actorTokenId } }`);
    expect(auditLog).toEqual(expect.arrayContaining([{ action: 'cloneJob.create', objectId: up.cloneJobId, actorTokenId: AUTOSCALER_TOKEN_ID }, { action: 'scalingDecision.act', objectId: up.id, actorTokenId: AUTOSCALER_TOKEN_ID }]));

    // Both instances idle: the clone (less loaded, and not the original) is removed.
    await feed(originalId, 'idle', 'WARNING', 4, 5);
    await feed(cloneId, 'idle', 'WARNING', 4, 1);
    const down = await decisionWith('a SCALE_DOWN decision', (d) => d.action === 'SCALE_DOWN');
    expect(down.reason).toContain('idle held on all 2 instance(s)');
    expect(down.reason).toContain(`removing ${job.resultVm.name}`);
    expect(down.evidence).toMatchObject({ outcome: 'SCALE_DOWN', removeVmId: cloneId });
    expect(down.evidence.candidates).toEqual(
      expect.arrayContaining([expect.objectContaining({ vmId: originalId, verdict: 'the original, never removed by the autoscaler' }), expect.objectContaining({ vmId: cloneId, verdict: 'eligible' })]),
    );
    const scaleDownJobId: string = down.evidence.scaleDownJobId;
    const removal = await waitFor(
      async () => {
        const { scaleDownJob } = await gql(`query($id: ID!) { scaleDownJob(id: $id) { state vm { id } } }`, { id: scaleDownJobId });
        return ['DONE', 'FAILED', 'CANCELLED'].includes(scaleDownJob.state) && scaleDownJob;
      },
      'the removal to end',
      90_000,
    );
    expect(removal).toEqual({ state: 'DONE', vm: { id: cloneId } });

    // Still idle, now alone: the original stays, and the decision says why.
    await feed(originalId, 'idle', 'WARNING', 4, 5);
    const kept = await decisionWith('a decision keeping the last instance', (d) => d.evidence.outcome === 'AT_MIN');
    expect(kept.reason).toContain('it is the last instance of its VM type');
    const { vms } = await gql(`query($t: ID) { vms(vmTypeId: $t) { id } }`, { t: vmTypeId });
    expect(vms.map((v: { id: string }) => v.id)).toContain(originalId);
    expect((await decisions()).filter((d) => d.action === 'SCALE_DOWN')).toHaveLength(1);
  });

  it('prepares a standby image on a WARNING hold (once), and the CRITICAL hold commits with a clone that boots from it', async () => {
    const { createVmType } = await gql(`mutation { createVmType(input: { name: "sip-prep", minInstances: 1, maxInstances: 3, scaleUpCooldownSeconds: 1 }) { id } }`);
    const typeId: string = createVmType.id;
    await gql(
      `mutation($id: ID!) { setThresholds(vmTypeId: $id, thresholds: [
        { metric: "calls", active: true, warningHoldSeconds: 2, criticalHoldSeconds: 2, role: SCALE_UP, prepareOnWarning: true }]) { id } }`,
      { id: typeId },
    );
    // Room for the original at home, then none: the standby and the clone go to the partner cloud.
    const home = sandbox.cloud('as-src').control;
    await home.setQuotas({ instances: (await home.listServers()).length + 1 });
    const { vmId } = await fx.importNewVm('sip-prep-orig', undefined, typeId);
    await home.setQuotas({ instances: (await home.listServers()).length });
    const waitForDecision = (what: string, match: (d: Decision) => boolean) => waitFor(async () => (await decisionsOf(typeId)).find(match), what, 90_000, 200);

    // WARNING held: a standby image is prepared in the cloud a clone would go to, not a clone.
    await feed(vmId, 'calls', 'WARNING', 4, 70);
    const prep = await waitForDecision('a PREPARE decision', (d) => d.action === 'PREPARE');
    expect(prep.reason).toContain('preparing a standby image of sip-prep-orig');
    expect(prep.evidence).toMatchObject({ outcome: 'PREPARE', sourceVmId: vmId, targetCloudId: fx.targetCloudId });
    const prepared = await waitForJobState(broker.url, fx.tenant.token, prep.cloneJobId!, ['DONE', 'FAILED', 'CANCELLED'], 90_000);
    expect(prepared).toMatchObject({ state: 'DONE', resultVm: null });
    const { cloneJob } = await gql(`query($id: ID!) { cloneJob(id: $id) { purpose standbyImage { id cloudId } } }`, { id: prep.cloneJobId });
    expect(cloneJob).toMatchObject({ purpose: 'STANDBY', standbyImage: { cloudId: fx.targetCloudId } });

    // Still WARNING: nothing more is prepared while the standby is fresh.
    const warnedAt = Date.now();
    await feed(vmId, 'calls', 'WARNING', 4, 75);
    const ready = await waitForDecision('a decision naming the ready standby', (d) => d.evidence.outcome === 'STANDBY_READY');
    expect(ready.action).toBe('NONE');
    expect((await decisionsOf(typeId)).filter((d) => d.action === 'PREPARE')).toHaveLength(1);

    // CRITICAL held: the commit clones, booting from the standby (no SNAPSHOT, TRANSFER or IMPORT).
    // The CRITICAL samples (one a second, ending now) must all come after the WARNING ones, or they interleave and no CRITICAL run is long enough.
    await new Promise((r) => setTimeout(r, Math.max(0, warnedAt + 3500 - Date.now())));
    await feed(vmId, 'calls', 'CRITICAL', 4, 95);
    const up = await waitForDecision('a SCALE_UP decision', (d) => d.action === 'SCALE_UP').catch(async (err) => {
      throw new Error(`${err.message}; decisions: ${JSON.stringify((await decisionsOf(typeId)).map((d) => [d.action, d.evidence.outcome, d.reason]))}`);
    });
    expect(up.evidence.standbyImageId).toBe(cloneJob.standbyImage.id);
    await feed(vmId, 'calls', 'OK', 1, 20);
    const clone = await waitForJobState(broker.url, fx.tenant.token, up.cloneJobId!, ['DONE', 'FAILED', 'CANCELLED'], 90_000);
    expect(clone.state).toBe('DONE');
    expect(clone.phases.map((p: { phase: string }) => p.phase)).toEqual(['BOOT', 'NETWORK']);
  }, 240_000);
});
