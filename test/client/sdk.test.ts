/**
 * The SDK against real brokers on real PostgreSQL: typed operations over HTTP, the one error
 * class (code, field, rule) for every kind of failure, and subscriptions that resume with
 * afterSeq after the broker process is killed or stopped mid-subscription: every event once, in
 * order, including those published (through a second broker) while the first one was down.
 * The restart part needs dist/ (npm run build).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import {
  AuditEvent,
  AuditEventsDocument,
  ConnectionState,
  CreateVmTypeDocument,
  IntercloudClient,
  IntercloudError,
  MeDocument,
  ScalingDecisionEvent,
  SetThresholdsDocument,
  VmTypesDocument,
} from '../../client/sdk';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { ScalingAction } from '../../src/domain/enums';
import { startTestBroker, TestBroker } from '../support/broker';
import { BrokerProcess, spawnBroker } from '../support/broker-process';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { insertScalingDecision } from '../support/scaling-decision.fixture';
import { waitFor } from '../support/wait';

const clientFor = (url: string, token: string | null, onState?: (s: ConnectionState) => void) =>
  new IntercloudClient({ url, token, webSocketImpl: WebSocket, retryDelayMs: { initial: 100, max: 1000 }, onConnectionStateChange: onState });

async function rejection(p: Promise<unknown>): Promise<IntercloudError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IntercloudError);
    return err as IntercloudError;
  }
  throw new Error('expected the operation to fail');
}

describe('SDK: typed operations and errors', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let client: IntercloudClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    client = clientFor(broker.url.replace(/\/graphql$/, ''), broker.adminToken);
  });

  afterAll(async () => {
    await client?.close();
    await broker?.stop();
    await db?.drop();
  });

  it('runs generated operations with typed variables and results', async () => {
    const { me } = await client.request(MeDocument);
    expect(me.role).toBe('ADMIN');
    const { createVmType } = await client.request(CreateVmTypeDocument, { input: { name: 'sdk-opensips', minInstances: 1, maxInstances: 3 } });
    expect(createVmType).toMatchObject({ name: 'sdk-opensips', minInstances: 1, maxInstances: 3, thresholds: [] });
    const { setThresholds } = await client.request(SetThresholdsDocument, {
      vmTypeId: createVmType.id,
      thresholds: [{ metric: 'active calls', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: 'SCALE_UP', prepareOnWarning: true }],
    });
    expect(setThresholds.thresholds).toEqual([{ metric: 'active calls', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: 'SCALE_UP', prepareOnWarning: true }]);
    const { vmTypes } = await client.request(VmTypesDocument);
    expect(vmTypes.map((t) => t.name)).toEqual(['sdk-opensips']);

    // The same subscriptions as an async iterator: the audit stream from its start.
    const audit = client.iterate(AuditEventsDocument, { afterSeq: 0 }, { seqOf: (d) => d.auditEvents.seq });
    const seen: string[] = [];
    for await (const { auditEvents } of audit) {
      seen.push(auditEvents.action);
      if (auditEvents.action === 'vmType.setThresholds') break;
    }
    expect(seen.slice(-2)).toEqual(['vmType.create', 'vmType.setThresholds']);
  });

  it('raises one error class carrying code, field and rule for bad input', async () => {
    const { vmTypes } = await client.request(VmTypesDocument);
    const err = await rejection(
      client.request(SetThresholdsDocument, {
        vmTypeId: vmTypes[0].id,
        thresholds: [{ metric: 'active calls', active: true, warningHoldSeconds: -5, criticalHoldSeconds: 30, role: 'SCALE_UP' }],
      }),
    );
    expect({ code: err.code, field: err.field, rule: err.rule }).toEqual({
      code: 'BAD_USER_INPUT',
      field: 'thresholds.0.warningHoldSeconds',
      rule: 'must not be negative',
    });
    expect(err.message).toBe('thresholds.0.warningHoldSeconds: must not be negative');
  });

  it('raises it for a refused token, an unreachable broker and a refused subscription', async () => {
    const stranger = clientFor(broker.url, `icb_${crypto.randomBytes(32).toString('base64url')}`);
    const refused = await rejection(stranger.request(MeDocument));
    expect(refused.code).toBe('UNAUTHENTICATED');
    expect(refused.isAuth).toBe(true);

    const closed = await freePort();
    const away = await rejection(clientFor(`http://127.0.0.1:${closed}`, broker.adminToken).request(MeDocument));
    expect(away.code).toBe('NETWORK');
    expect(away.message).toContain(`127.0.0.1:${closed}`);

    const wsRefused = await new Promise<IntercloudError>((resolve) => stranger.auditEvents({ next: () => undefined, error: resolve }));
    expect(wsRefused.code).toBe('FORBIDDEN');
    await stranger.close();

    const unknownJob = await new Promise<IntercloudError>((resolve) => client.cloneJobEvents(crypto.randomUUID(), { next: () => undefined, error: resolve }));
    // graphql-ws errors carry no extensions.code today (the HTTP path maps them; see the report),
    // so only the message tells; the subscription still ends with an IntercloudError.
    expect(unknownJob.message).toMatch(/CloneJob .* not found/);
  });
});

describe('SDK: subscriptions resume across broker restarts', () => {
  const adminToken = `icb_sdk_${crypto.randomBytes(24).toString('base64url')}`;
  const secretKey = crypto.randomBytes(32).toString('base64');
  const dataDirs: string[] = [];
  let db: TestDatabase;
  let port: number;
  let main: BrokerProcess;
  let other: BrokerProcess;
  let client: IntercloudClient;
  const states: ConnectionState[] = [];
  let n = 0;

  const start = (listenPort: number) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-sdk-'));
    dataDirs.push(dir);
    return spawnBroker({
      DATABASE_URL: db.url,
      PORT: String(listenPort),
      HOST: '127.0.0.1',
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      INTERCLOUD_SECRET_KEY: secretKey,
      INTERCLOUD_DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '3000',
      CLONE_CONCURRENCY: '0',
    });
  };
  /** A mutation on `via`; its audit event's objectId is the VM type's id. */
  const mutate = async (via: BrokerProcess) =>
    (await gqlOk(via.url, adminToken, 'mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }', { i: { name: `resume-${++n}`, minInstances: 0, maxInstances: 1 } })).createVmType
      .id as string;

  beforeAll(async () => {
    db = await createTestDatabase();
    port = await freePort();
    [main, other] = await Promise.all([start(port), start(0)]);
    client = clientFor(main.url, adminToken, (s) => states.push(s));
  });

  afterAll(async () => {
    await client?.close();
    await Promise.all([main?.dispose(), other?.dispose()]);
    await db?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event once, in order, across a crash and a graceful restart', async () => {
    const from = (await gqlOk(other.url, adminToken, '{ auditLog(first: 1) { seq } }')).auditLog[0].seq as number;
    const seen: AuditEvent[] = [];
    let resubscribed = 0;
    const failures: IntercloudError[] = [];
    client.auditEvents({ next: (e) => seen.push(e), error: (e) => failures.push(e), onResubscribed: () => resubscribed++ }, from);

    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push(await mutate(main));
    await waitFor(() => seen.length === 3, 'the first three events');

    // Killed mid-subscription; events keep coming through the other broker while it is down.
    await main.crash();
    await waitFor(() => states.includes('reconnecting'), 'the client to notice');
    for (let i = 0; i < 3; i++) made.push(await mutate(other));
    main = await start(port);
    await waitFor(() => seen.length === 6, 'the events published while the broker was down');
    for (let i = 0; i < 2; i++) made.push(await mutate(main));
    await waitFor(() => seen.length === 8, 'live events after the crash');

    // SIGTERM: the broker closes the socket with 1001 Going Away; same again.
    main.child.kill('SIGTERM');
    expect(await main.exited).toEqual({ code: 0, signal: null });
    for (let i = 0; i < 2; i++) made.push(await mutate(other));
    main = await start(port);
    for (let i = 0; i < 2; i++) made.push(await mutate(main));
    await waitFor(() => seen.length === 12, 'every event after the graceful restart');

    expect(failures).toEqual([]);
    expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => from + 1 + i));
    expect(seen.map((e) => e.objectId)).toEqual(made);
    expect(new Set(seen.map((e) => e.seq)).size).toBe(12);
    expect(resubscribed).toBeGreaterThanOrEqual(2);
    // Nothing more arrives later (a duplicate would).
    made.push(await mutate(main));
    await waitFor(() => seen.length === 13, 'one more live event');
    expect(seen.at(-1)).toMatchObject({ seq: from + 13, objectId: made.at(-1) });
  });
});

describe('SDK: scaling decisions resume across a broker crash', () => {
  const adminToken = `icb_sdk_${crypto.randomBytes(24).toString('base64url')}`;
  let db: TestDatabase;
  let ds: DataSource;
  let dataDir: string;
  let port: number;
  let main: BrokerProcess;
  let client: IntercloudClient;
  const states: ConnectionState[] = [];

  const start = () =>
    spawnBroker({
      DATABASE_URL: db.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      INTERCLOUD_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      CLONE_CONCURRENCY: '0',
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await createDataSource(db.url, 2).initialize();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-sdk-decisions-'));
    port = await freePort();
    main = await start();
    client = clientFor(main.url, adminToken, (s) => states.push(s));
  });

  afterAll(async () => {
    await client?.close();
    await main?.dispose();
    await ds?.destroy();
    await db?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('replays stored decisions after afterSeq, then live ones, each once and in order, of all VM types or of one', async () => {
    const { me } = await client.request(MeDocument);
    const [a, b] = await Promise.all(
      ['decide-a', 'decide-b'].map(async (name) => (await client.request(CreateVmTypeDocument, { input: { name, minInstances: 0, maxInstances: 2 } })).createVmType.id),
    );
    // The scheduler decides (through the service the autoscaler uses); nothing is polled here.
    const decide = (vmTypeId: string, reason: string) => insertScalingDecision(ds, db.url, { tenantId: me.tenantId, vmTypeId, action: ScalingAction.NONE, metric: 'active calls', reason });

    const made = [await decide(a, 'a1'), await decide(b, 'b1')]; // stored before anyone subscribes
    const all: ScalingDecisionEvent[] = [];
    const ofA: ScalingDecisionEvent[] = [];
    const failures: IntercloudError[] = [];
    const resumed: boolean[] = [];
    client.scalingDecisions({ next: (d) => all.push(d), error: (e) => failures.push(e), onResubscribed: (replayed) => resumed.push(replayed) }, { afterSeq: 0 });
    client.scalingDecisions({ next: (d) => ofA.push(d), error: (e) => failures.push(e), onResubscribed: (replayed) => resumed.push(replayed) }, { vmTypeId: a, afterSeq: 0 });
    made.push(await decide(a, 'a2'));
    await waitFor(() => all.length === 3 && ofA.length === 2, 'the stored and the first live decisions');

    // Killed mid-subscription; decisions go on being made while it is down.
    await main.crash();
    await waitFor(() => states.includes('reconnecting'), 'the client to notice');
    for (const [t, r] of [[b, 'b2'], [a, 'a3'], [a, 'a4']] as const) made.push(await decide(t, r));
    main = await start();
    await waitFor(() => all.length === 6 && ofA.length === 4, 'the decisions made while the broker was down');
    made.push(await decide(a, 'a5'));
    await waitFor(() => all.length === 7 && ofA.length === 5, 'a live decision after the restart');

    expect(failures).toEqual([]);
    // Each re-subscription (one per reconnect attempt of each subscription) resumed with afterSeq.
    expect(resumed.length).toBeGreaterThanOrEqual(2);
    expect(resumed.every((r) => r)).toBe(true);
    expect(all.map((d) => [d.seq, d.reason, d.id])).toEqual(made.map((d) => [d.seq, d.reason, d.id]));
    expect(all.map((d) => d.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(ofA.map((d) => d.reason)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(ofA.every((d) => d.vmTypeId === a)).toBe(true);

    // Resuming from the middle replays only what came after; a negative seq is bad input.
    const tail: ScalingDecisionEvent[] = [];
    const stop = client.scalingDecisions({ next: (d) => tail.push(d) }, { afterSeq: 5 });
    await waitFor(() => tail.length === 2, 'the decisions after seq 5');
    stop();
    expect(tail.map((d) => d.reason)).toEqual(['a4', 'a5']);
    const bad = await new Promise<IntercloudError>((resolve) => client.scalingDecisions({ next: () => undefined, error: resolve }, { afterSeq: -1 }));
    expect(bad.message).toContain('afterSeq');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
