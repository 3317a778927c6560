/**
 * Identical subscriptions share one execution per event (src/api/shared-subscription.ts), and
 * sharing changes nothing about who gets what: counted through the broker's own /metrics over
 * real graphql-ws connections on a real broker and PostgreSQL. Tenant B's identical subscription
 * never receives tenant A's events; subscribers of different roles never share a result; a
 * document selecting anything outside the event-only types is executed per subscriber. Each
 * shared result is serialised to JSON once (src/api/ws-frames.ts), and every frame still reaches
 * the subscription it belongs to.
 */
import { buildSchema, parse } from 'graphql';
import { Client as WsClient } from 'graphql-ws';
import { getMetadataStorage } from 'type-graphql';
import { request } from 'undici';
import { buildApiSchema } from '../../src/api/schema';
import { SHARED_RESULT_TYPES, SHARED_ROOT_FIELDS, sharedSubscribe } from '../../src/api/shared-subscription';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { collect, gqlOk, wsClient } from '../support/graphql';
import { addToken, createTenantWithToken } from '../support/tenants';
import { waitFor } from '../support/wait';

/** Identical for every subscriber, of either tenant: no variables, replay from the start. */
const AUDIT = 'subscription { auditEvents { seq action objectId } }';

interface Audit {
  auditEvents: { seq: number; action: string; objectId: string };
}

/** One series of a Prometheus counter in a /metrics text (0 when not yet counted). */
function counter(metricsText: string, series: string): number {
  const line = metricsText.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('shared subscription executions', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  const clients: WsClient[] = [];
  const open = (token: string) => {
    const c = wsClient(broker.url, token);
    clients.push(c);
    return c;
  };
  const counts = async () => {
    const res = await request(new URL('/metrics', broker.url).toString());
    const text = await res.body.text();
    return {
      executions: counter(text, 'intercloud_subscription_executions_total{shared="true"}'),
      unshared: counter(text, 'intercloud_subscription_executions_total{shared="false"}'),
      results: counter(text, 'intercloud_subscription_results_total{shared="true"}'),
      serialisations: counter(text, 'intercloud_subscription_serialisations_total'),
    };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => Promise.resolve(c.dispose()).catch(() => undefined)));
    await broker?.stop();
    await db?.drop();
  });

  it('executes once per event and role for identical subscribers, and never hands tenant A a result of tenant B or the reverse', async () => {
    const a = await createTenantWithToken(broker.url, broker.adminToken, 'share-a', 'OPERATOR');
    const aViewer = await addToken(broker.url, broker.adminToken, a.tenantId, 'VIEWER');
    const b = await createTenantWithToken(broker.url, broker.adminToken, 'share-b', 'OPERATOR');
    // Each tenant's stream so far: its tokens' apiToken.create events, replayed to make each subscriber live.
    const replayA = 2;
    const replayB = 1;
    const live = 3;

    // Tenant A: four operator subscribers on two connections, two viewer subscribers on one.
    const operatorConns = [open(a.token), open(a.token)];
    const viewerConn = open(aViewer);
    const aOperators = [0, 1, 2, 3].map((i) => collect<Audit>(operatorConns[i % 2], AUDIT, {}, replayA + live, 30_000));
    const aViewers = [0, 1].map(() => collect<Audit>(viewerConn, AUDIT, {}, replayA + live, 30_000));
    // Tenant B: the very same document and variables, one event of its own to come.
    const bSub = collect<Audit>(open(b.token), AUDIT, {}, replayB + 1, 30_000);
    const everyA = [...aOperators, ...aViewers];
    // A subscription that failed fails the test at once rather than leaving the wait to time out.
    for (const s of [...everyA, bSub]) await Promise.race([waitForLength(s.received, s === bSub ? replayB : replayA), s.done]);
    const before = await counts();

    const made: string[] = [];
    for (let i = 0; i < live; i++) {
      const d = await gqlOk(broker.url, a.token, 'mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }', { i: { name: `shared-${i}`, minInstances: 0, maxInstances: 1 } });
      made.push(d.createVmType.id);
    }
    const resultsA = await Promise.all(everyA.map((s) => s.done));
    const bMade = (await gqlOk(broker.url, b.token, 'mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }', { i: { name: 'shared-b', minInstances: 0, maxInstances: 1 } })).createVmType.id;
    const resultB = (await bSub.done).map((r) => r.auditEvents);
    const after = await counts();

    // Every A subscriber got A's events, the same results in the same order.
    for (const r of resultsA) {
      expect(r.slice(replayA).map((e) => e.auditEvents.objectId)).toEqual(made);
      expect(r).toEqual(resultsA[0]);
    }
    // B saw only its own stream: its tokens, then its own VM type; none of A's.
    expect(resultB.map((e) => e.objectId)).not.toEqual(expect.arrayContaining([made[0]]));
    expect(resultB.slice(replayB).map((e) => e.objectId)).toEqual([bMade]);
    expect(resultB.map((e) => e.action)).toEqual(['apiToken.create', 'vmType.create']);

    // A's three live events: one execution per role (OPERATOR, VIEWER) each, six results each.
    // B's one event: one execution, one result. Nothing executed unshared.
    expect(after.executions - before.executions).toBe(live * 2 + 1);
    expect(after.results - before.results).toBe(live * everyA.length + 1);
    expect(after.unshared - before.unshared).toBe(0);
    // Serialised once per shared execution, not once per subscriber.
    expect(after.serialisations - before.serialisations).toBe(live * 2 + 1);
  }, 120_000);

  it('sends every frame to its own subscription when one connection carries different subscriptions of one stream', async () => {
    const t = await createTenantWithToken(broker.url, broker.adminToken, 'share-frames', 'OPERATOR');
    const conn = open(t.token);
    const replay = 1;
    const live = 3;
    // Two documents (so two shared results per event), each subscribed twice on the same connection.
    const byAction = [0, 1].map(() => collect<{ auditEvents: { seq: number; action: string } }>(conn, 'subscription { auditEvents { seq action } }', {}, replay + live, 30_000));
    const byObject = [0, 1].map(() => collect<{ auditEvents: { seq: number; objectId: string } }>(conn, 'subscription { auditEvents { seq objectId } }', {}, replay + live, 30_000));
    for (const s of [...byAction, ...byObject]) await Promise.race([waitForLength(s.received, replay), s.done]);
    const before = await counts();
    const made: string[] = [];
    for (let i = 0; i < live; i++) {
      made.push((await gqlOk(broker.url, t.token, 'mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }', { i: { name: `frames-${i}`, minInstances: 0, maxInstances: 1 } })).createVmType.id);
    }
    const actions = await Promise.all(byAction.map((s) => s.done));
    const objects = await Promise.all(byObject.map((s) => s.done));
    const after = await counts();
    for (const r of actions) {
      // Exactly the selected fields: a frame of the other subscription would carry objectId.
      for (const e of r) expect(Object.keys(e.auditEvents).sort()).toEqual(['action', 'seq']);
      expect(r.slice(replay).map((e) => e.auditEvents.action)).toEqual(made.map(() => 'vmType.create'));
    }
    for (const r of objects) {
      for (const e of r) expect(Object.keys(e.auditEvents).sort()).toEqual(['objectId', 'seq']);
      expect(r.slice(replay).map((e) => e.auditEvents.objectId)).toEqual(made);
    }
    // Each subscription saw each seq once, in order.
    for (const r of [...actions, ...objects]) {
      const seqs = r.map((e) => e.auditEvents.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(replay + live);
    }
    expect(after.executions - before.executions).toBe(live * 2);
    expect(after.serialisations - before.serialisations).toBe(live * 2);
    expect(after.results - before.results).toBe(live * 4);
  }, 120_000);

  it('shares only documents that select nothing but event-only types', () => {
    const shared = sharedSubscribe(true, { executed: () => undefined, delivered: () => undefined });
    const schema = buildSchema(`
      type Query { x: Int }
      type Viewer { role: String }
      type AuditEvent { seq: Int, viewer: Viewer }
      type Subscription { auditEvents: AuditEvent, somethingElse: AuditEvent }
    `);
    expect(shared.documentKey(schema, parse('subscription { auditEvents { seq __typename ... on AuditEvent { seq } } }'))).not.toBeNull();
    // A field of a type not known to read only the event (say, one resolved from the caller).
    expect(shared.documentKey(schema, parse('subscription { auditEvents { seq viewer { role } } }'))).toBeNull();
    expect(shared.documentKey(schema, parse('subscription { auditEvents { ...F } } fragment F on AuditEvent { viewer { role } }'))).toBeNull();
    // A root field not known to map the event alone.
    expect(shared.documentKey(schema, parse('subscription { somethingElse { seq } }'))).toBeNull();
  });

  it('lists only types without field resolvers and root fields the schema has, so sharing cannot reach the caller', async () => {
    const schema = await buildApiSchema();
    const subscriptionFields = Object.keys(schema.getSubscriptionType()!.getFields());
    expect(subscriptionFields).toEqual(expect.arrayContaining([...SHARED_ROOT_FIELDS]));
    for (const name of SHARED_RESULT_TYPES) expect(schema.getType(name)).toBeDefined();
    // A @FieldResolver may read the context (the caller, loaders); a shared type must have none.
    const resolvedTypes = getMetadataStorage().fieldResolvers.map((r) => (r.getObjectType?.() as { name?: string } | undefined)?.name);
    for (const name of SHARED_RESULT_TYPES) expect(resolvedTypes).not.toContain(name);
  });
});

const waitForLength = (list: unknown[], n: number) => waitFor(() => list.length >= n, `${n} replayed events`);
