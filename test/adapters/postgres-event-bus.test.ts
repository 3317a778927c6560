/**
 * The PostgreSQL event bus against a real database: a stray or malformed NOTIFY on its channel
 * is ignored (it used to throw inside the listener and take the process down), and a tenant
 * subscriber that stops reading is ended once it falls `maxPending` events behind.
 */
import crypto from 'node:crypto';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { PostgresEventBus, SlowSubscriberError } from '../../src/adapters/postgres/postgres-event-bus';
import { createTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait';

describe('PostgresEventBus', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let bus: PostgresEventBus;
  const tenantId = crypto.randomUUID();
  const warnings: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, 4);
    await ds.initialize();
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    bus = new PostgresEventBus(ds, db.url, logger, { maxPending: 5 });
    await bus.start();
  });

  afterAll(async () => {
    await bus?.close();
    await ds?.destroy();
    await db?.drop();
  });

  const publish = (stream: string, n: number) => ds.transaction((tx) => bus.publish(tx, { stream, tenantId, type: 'test', payload: { n } }));

  it('ignores malformed notifications and keeps delivering', async () => {
    const stream = `s-${crypto.randomUUID()}`;
    const events = bus.subscribeStream(stream, 0);
    for (const junk of ['not json', '{"id": 1}', 'null', '[]', '{"id":"1","stream":5}']) {
      await ds.query(`SELECT pg_notify('intercloud_events', $1)`, [junk]);
    }
    await publish(stream, 1);
    const first = await events.next();
    expect(first.value).toMatchObject({ stream, seq: 1, payload: { n: 1 } });
    expect(bus.isListening()).toBe(true);
    expect(warnings.filter((w) => w.includes('ignoring a malformed event notification')).length).toBe(5);
    await events.return?.();
  });

  it('ends a tenant subscriber that falls more than maxPending events behind', async () => {
    const events = bus.subscribeTenant(tenantId, () => true);
    const reading = events.next(); // the subscriber reads once, then stops
    await publish('slow', 1);
    expect((await reading).value).toMatchObject({ payload: { n: 1 } });
    for (let i = 2; i <= 12; i++) await publish('slow', i);
    // Its backlog grows to the bound and no further.
    await waitFor(() => bus.maxBacklog() === 5, 'the backlog to reach maxPending');
    // Delivered in order up to the bound, then ended with a clear error.
    const seen: number[] = [];
    let ended: unknown;
    try {
      for (;;) {
        const r = await events.next();
        if (r.done) break;
        seen.push((r.value.payload as { n: number }).n);
      }
    } catch (err) {
      ended = err;
    }
    expect(ended).toBeInstanceOf(SlowSubscriberError);
    expect(seen.length).toBeLessThanOrEqual(5);
  });
});
