/**
 * The periodic cloud health probe, with real brokers in this process (CLOUD_HEALTH_INTERVAL_SECONDS=1)
 * and sandbox clouds registered through the API: a Keystone that fails or hangs makes its cloud
 * UNREACHABLE and a slow one DEGRADED, until it answers well again; each change is one stored
 * event. Two brokers on one database: only the leader probes, and when it stops or its session
 * dies another one takes over. Nothing waits on a clock: the test polls the API and /metrics.
 */
import crypto from 'node:crypto';
import { Sandbox, SandboxCloud } from '../../sandbox';
import { newAdminSecret, startTestBroker, TestBroker } from '../support/broker';
import { registerSandboxCloud } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { startSandboxClouds } from '../support/sandbox';
import { createTenantWithToken, TenantToken } from '../support/tenants';
import { waitFor } from '../support/wait';

type CloudHealthView = { id: string; name: string; health: string; healthMessage: string | null; healthLatencyMs: number | null; healthCheckedAt: string | null };

/** The lock the probers compete for (src/scheduler/cloud-health.prober.ts). */
const LOCK_ID = 7_310_003;
/** pg_locks lists every database's advisory locks; other test databases hold the same id. */
const HELD_HERE = `locktype = 'advisory' AND objid = $1 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;


/** Sum of every series of a metric in a broker's /metrics. */
async function metric(broker: TestBroker, name: string): Promise<number> {
  const res = await fetch(`${new URL(broker.url).origin}/metrics`);
  const text = await res.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const probesOf = (b: TestBroker) => metric(b, 'intercloud_cloud_health_probes_total');
const leads = async (b: TestBroker) => (await metric(b, 'intercloud_scheduler_leader')) === 1;

describe('cloud health probe', () => {
  const env = { CLOUD_HEALTH_INTERVAL_SECONDS: '1', INTERCLOUD_ADMIN_TOKEN: newAdminSecret(), INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64') };
  let db: TestDatabase;
  let sandbox: Sandbox;
  let a: TestBroker;
  const brokers: TestBroker[] = [];
  let tenant: TenantToken;
  let cloudA: SandboxCloud;
  const ids: Record<string, string> = {};

  const startBroker = async () => {
    const b = await startTestBroker(db.url, env);
    brokers.push(b);
    return b;
  };
  const stopBroker = async (b: TestBroker) => {
    brokers.splice(brokers.indexOf(b), 1);
    await b.stop();
  };

  const clouds = async (url: string): Promise<CloudHealthView[]> =>
    (await gqlOk(url, tenant.token, `{ clouds { id name health healthMessage healthLatencyMs healthCheckedAt } }`)).clouds;
  const cloud = async (url: string, id: string) => (await clouds(url)).find((c) => c.id === id)!;
  const waitForHealth = (url: string, id: string, health: string) =>
    waitFor(async () => {
      const c = await cloud(url, id);
      return c.health === health && c;
    }, `cloud ${id} to be ${health}`);
  /** Health changes stored on the cloud's stream after `afterSeq`. */
  const healthEvents = async (id: string, afterSeq = 0) =>
    (await a.dataSource.query(`SELECT seq, type, payload FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq`, [`cloud:${id}`, afterSeq])) as {
      seq: number;
      type: string;
      payload: { health: string; previousHealth: string; cloudId: string };
    }[];
  const lastSeq = async (id: string) => Number((await a.dataSource.query(`SELECT coalesce(max(seq), 0) AS s FROM events WHERE stream = $1`, [`cloud:${id}`]))[0].s);

  beforeAll(async () => {
    sandbox = await startSandboxClouds('health-a', 'health-b', 'health-c');
    cloudA = sandbox.cloud('health-a');
    db = await createTestDatabase();
    a = await startBroker();
    tenant = await createTenantWithToken(a.url, env.INTERCLOUD_ADMIN_TOKEN, 'health-watchers');
    for (const name of ['health-a', 'health-b']) ids[name] = await registerSandboxCloud(a.url, tenant.token, sandbox.cloud(name));
  });

  afterAll(async () => {
    for (const b of [...brokers]) await b.stop();
    await db?.drop();
    await sandbox?.stop();
  });

  afterEach(async () => {
    for (const c of sandbox.clouds) {
      await c.control.clearFaults();
      await c.control.setLatency({ apiMs: 0 });
    }
  });

  it('marks a cloud UNREACHABLE while Keystone answers 503, and HEALTHY again once it answers', async () => {
    const from = await lastSeq(ids['health-a']);
    await cloudA.control.injectFault({ operation: 'keystone.token', mode: 'fail', status: 503, count: 'always' });

    const down = await waitForHealth(a.url, ids['health-a'], 'UNREACHABLE');
    expect(down.healthMessage).toContain('health-a');
    expect(down.healthMessage).toContain('503');
    expect(down.healthLatencyMs).toBeNull();
    // Probed in the same rounds, the other cloud is unaffected.
    expect((await cloud(a.url, ids['health-b'])).health).toBe('HEALTHY');

    await cloudA.control.clearFaults();
    const up = await waitForHealth(a.url, ids['health-a'], 'HEALTHY');
    expect(up.healthMessage).toBeNull();
    expect(up.healthLatencyMs).toBeGreaterThanOrEqual(0);
    expect(new Date(up.healthCheckedAt!).getTime()).toBeGreaterThan(new Date(down.healthCheckedAt!).getTime());

    // One event per change, however many probes saw the same health; none for the unchanged cloud.
    const events = await healthEvents(ids['health-a'], from);
    expect(events.map((e) => [e.type, e.payload.previousHealth, e.payload.health])).toEqual([
      ['cloud.health', 'HEALTHY', 'UNREACHABLE'],
      ['cloud.health', 'UNREACHABLE', 'HEALTHY'],
    ]);
    expect(events.map((e) => Number(e.seq))).toEqual([from + 1, from + 2]);
    expect(await healthEvents(ids['health-b'])).toEqual([]);
    // An observation, not anyone's action: nothing in the audit log.
    const audited = await a.dataSource.query(`SELECT action FROM audit_log WHERE object_id = $1 ORDER BY id`, [ids['health-a']]);
    expect(audited.map((r: { action: string }) => r.action)).toEqual(['cloud.register']);
  });

  it('marks a cloud UNREACHABLE while Keystone hangs (the probe times out), and HEALTHY once it answers', async () => {
    await cloudA.control.injectFault({ operation: 'keystone.token', mode: 'hang', count: 'always' });
    const down = await waitForHealth(a.url, ids['health-a'], 'UNREACHABLE');
    // The same words as for any connection failure (no port scanning by message); the log has the cause.
    expect(down.healthMessage).toMatch(/no answer/);
    expect(down.healthMessage).toContain('health-a');
    await cloudA.control.clearFaults();
    await waitForHealth(a.url, ids['health-a'], 'HEALTHY');
  });

  it('marks a cloud DEGRADED while its Keystone is slower than 2 s', async () => {
    await cloudA.control.setLatency({ apiMs: 2500 });
    const slow = await waitForHealth(a.url, ids['health-a'], 'DEGRADED');
    expect(slow.healthLatencyMs).toBeGreaterThanOrEqual(2500);
    expect(slow.healthMessage).toContain('slower than 2000 ms');
    await cloudA.control.setLatency({ apiMs: 0 });
    await waitForHealth(a.url, ids['health-a'], 'HEALTHY');
  });

  it('stops probing a cloud once it is deregistered', async () => {
    const gone = sandbox.cloud('health-c');
    const id = await registerSandboxCloud(a.url, tenant.token, gone);
    await gqlOk(a.url, tenant.token, `mutation($id: ID!) { deregisterCloud(id: $id) }`, { id });
    // Let a round that listed the cloud before it went finish (three clouds, two rounds), then count.
    const p0 = await probesOf(a);
    await waitFor(async () => (await probesOf(a)) >= p0 + 6, 'two probe rounds');
    await gone.control.resetCalls();
    const p1 = await probesOf(a);
    await waitFor(async () => (await probesOf(a)) >= p1 + 6, 'three more probe rounds');
    expect((await gone.control.calls())['keystone.token'] ?? 0).toBe(0);
  });

  it('with two brokers on one database only the leader probes; when it stops, or its session dies, another takes over', async () => {
    const b = await startBroker();
    expect(await leads(a)).toBe(true);
    // b tries for the lock every interval; let a make four more rounds (two clouds each) meanwhile.
    const p0 = await probesOf(a);
    await cloudA.control.resetCalls();
    await waitFor(async () => (await probesOf(a)) >= p0 + 8, 'four probe rounds of the leader');
    const tokens = (await cloudA.control.calls())['keystone.token'] ?? 0;
    const rounds = ((await probesOf(a)) - p0) / 2;
    expect(await probesOf(b)).toBe(0);
    expect(await leads(b)).toBe(false);
    // One prober's count: one token per round, give or take the round under way at either end.
    expect(tokens).toBeGreaterThanOrEqual(rounds - 1);
    expect(tokens).toBeLessThanOrEqual(rounds + 1);

    // The leader stops (giving up its lock): b takes over and the clouds' health stays fresh.
    await stopBroker(a);
    const stoppedAt = Date.now();
    await waitFor(async () => (await leads(b)) && (await probesOf(b)) > 0, 'b to lead and probe');
    await waitFor(async () => (await clouds(b.url)).every((c) => new Date(c.healthCheckedAt!).getTime() > stoppedAt), 'a probe by b');

    // The leader's session dies (as it does when its process is killed): the lock is free again.
    const c = await startBroker();
    const holder = async (): Promise<number | null> => (await c.dataSource.query(`SELECT pid FROM pg_locks WHERE ${HELD_HERE}`, [LOCK_ID]))[0]?.pid ?? null;
    const killed = await holder();
    expect(killed).not.toBeNull();
    await c.dataSource.query('SELECT pg_terminate_backend($1)', [killed]);
    const diedAt = Date.now();
    await waitFor(async () => {
      const now = await holder();
      return now !== null && now !== killed;
    }, 'another session to take the lock');
    // Either broker may have won it (b reconnects, c keeps asking). The gauge is set once per
    // round, so the loser's can read 1 a little longer: wait for one leader that probes again.
    const before = new Map<TestBroker, number>();
    for (const x of [b, c]) before.set(x, await probesOf(x));
    await waitFor(async () => {
      const leading: TestBroker[] = [];
      for (const x of [b, c]) if (await leads(x)) leading.push(x);
      return leading.length === 1 && (await probesOf(leading[0])) > before.get(leading[0])!;
    }, 'one leader, probing again');
    await waitFor(async () => (await clouds(c.url)).every((x) => new Date(x.healthCheckedAt!).getTime() > diedAt), 'a probe after the session died');
    const held = await c.dataSource.query(`SELECT count(*)::int AS n FROM pg_locks WHERE ${HELD_HERE}`, [LOCK_ID]);
    expect(held[0].n).toBe(1);
  }, 90_000);
});
