/**
 * Live fan-out of the PostgreSQL event bus against a real database. Reads of the events table
 * are counted where every query of this process leaves it, at pg's Client, so the count holds
 * whatever path the adapter takes: one event costs no read (a whole notice) or one read (a
 * large payload) however many subscribers its stream has, while the per-subscriber baseline
 * costs one per subscriber. Then the handover from replay to live: nothing missed, nothing twice.
 */
import crypto from 'node:crypto';
import { Client } from 'pg';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { EventFanout, PostgresEventBus } from '../../src/adapters/postgres/postgres-event-bus';
import { BusEvent } from '../../src/ports/event-bus.port';
import { createTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait';

/** Counts the queries this process sends that read the events table. */
function countEventReads(): { reads(): number; reset(): void; restore(): void } {
  const original = Client.prototype.query;
  let reads = 0;
  Client.prototype.query = function (this: Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : first?.text;
    if (text && /\bFROM events\b/i.test(text)) reads++;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof Client.prototype.query;
  return { reads: () => reads, reset: () => (reads = 0), restore: () => (Client.prototype.query = original) };
}

/** Pulls a subscription into an array until stopped. */
function collector(events: AsyncIterableIterator<BusEvent>) {
  const seqs: number[] = [];
  const done = (async () => {
    for await (const e of events) seqs.push(e.seq);
  })();
  return { seqs, stop: async () => { await events.return?.(); await done; } };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('PostgresEventBus fan-out', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const tenantId = crypto.randomUUID();
  const buses: PostgresEventBus[] = [];
  const counter = countEventReads();
  const logger = pino({ level: 'silent' });

  const startBus = async (fanout: EventFanout = 'shared', maxPending = 10_000) => {
    const bus = new PostgresEventBus(ds, db.url, logger, { maxPending, fanout });
    await bus.start();
    buses.push(bus);
    return bus;
  };
  const publish = (bus: PostgresEventBus, stream: string, payload: object = { n: 1 }) =>
    ds.transaction((tx) => bus.publish(tx, { stream, tenantId, type: 'test', payload }));

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, 8);
    await ds.initialize();
  });

  afterAll(async () => {
    counter.restore();
    for (const bus of buses) await bus.close();
    await ds?.destroy();
    await db?.drop();
  });

  /** Reads of the events table while `perEvent` events reach `n` caught-up subscribers of one stream. */
  async function readsFor(fanout: EventFanout, n: number, payload: object, events = 10): Promise<number> {
    const bus = await startBus(fanout);
    const stream = `s-${crypto.randomUUID()}`;
    const subs = Array.from({ length: n }, () => collector(bus.subscribeStream(stream, 0)));
    // Every subscriber has replayed (one read each) and is live before counting starts.
    await publish(bus, stream, payload);
    await waitFor(() => subs.every((s) => s.seqs.length === 1), 'every subscriber to get the first event');
    counter.reset();
    for (let i = 0; i < events; i++) await publish(bus, stream, payload);
    await waitFor(() => subs.every((s) => s.seqs.length === events + 1), 'every subscriber to get every event');
    const reads = counter.reads();
    for (const s of subs) {
      await s.stop();
      expect(s.seqs).toEqual(range(1, events + 1));
    }
    return reads;
  }

  it('reads nothing per event when the notice carries it, for 1 or 100 subscribers', async () => {
    expect(await readsFor('shared', 1, { n: 1 })).toBe(0);
    expect(await readsFor('shared', 100, { n: 1 })).toBe(0);
  });

  it('reads a payload too large for a notice at most once per event, however many subscribers', async () => {
    const large = { blob: 'x'.repeat(9000) };
    const one = await readsFor('shared', 1, large);
    const hundred = await readsFor('shared', 100, large);
    expect(one).toBeGreaterThan(0); // the counter does see the adapter's reads
    expect(one).toBeLessThanOrEqual(10);
    expect(hundred).toBeLessThanOrEqual(10);
  });

  it('the per-subscriber baseline reads at least once per subscriber (what the shared reader removes)', async () => {
    expect(await readsFor('per-subscriber', 20, { n: 1 }, 3)).toBeGreaterThanOrEqual(20);
  });

  it('takes events committed before the replay but notified after it exactly once', async () => {
    const bus = await startBus();
    const stream = `s-${crypto.randomUUID()}`;
    for (let i = 0; i < 20; i++) await publish(bus, stream);
    // Subscribed at once: the notices of those 20 are still on their way while it replays.
    const sub = collector(bus.subscribeStream(stream, 5));
    for (let i = 0; i < 5; i++) await publish(bus, stream);
    await waitFor(() => sub.seqs.length >= 20, 'the replay and the live events');
    await publish(bus, stream);
    await waitFor(() => sub.seqs.includes(26), 'the last event');
    await sub.stop();
    expect(sub.seqs).toEqual(range(6, 26));
  });

  it('delivers an event committed after the replay read, by the live path', async () => {
    const bus = await startBus();
    const stream = `s-${crypto.randomUUID()}`;
    await publish(bus, stream);
    // Holds seq 2 uncommitted while the subscriber replays, so its read cannot see it.
    const runner = ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await bus.publish(runner.manager, { stream, tenantId, type: 'test', payload: { n: 2 } });
    const sub = collector(bus.subscribeStream(stream, 0));
    await waitFor(() => sub.seqs.length === 1, 'the replay');
    counter.reset();
    await runner.commitTransaction();
    await runner.release();
    await waitFor(() => sub.seqs.length === 2, 'the held event');
    await sub.stop();
    expect(sub.seqs).toEqual([1, 2]);
    expect(counter.reads()).toBe(0); // it came with its notice, not from a re-read
  });

  it('hands over to live without gap or duplicate while events keep coming', async () => {
    const bus = await startBus();
    const stream = `s-${crypto.randomUUID()}`;
    const total = 300;
    const subs: { from: number; c: ReturnType<typeof collector> }[] = [];
    let published = 0;
    for (let i = 1; i <= total; i++) {
      await publish(bus, stream);
      published = i;
      // Joins at every 10th event, from a point in the past, amid the stream's own notices.
      if (i % 10 === 0) {
        const from = (i * 7) % published;
        subs.push({ from, c: collector(bus.subscribeStream(stream, from)) });
      }
    }
    await waitFor(() => subs.every((s) => s.c.seqs.length === total - s.from), 'every subscriber to reach the last event');
    for (const s of subs) {
      await s.c.stop();
      expect(s.c.seqs).toEqual(range(s.from + 1, total));
    }
  });

  it('lets a slow stream subscriber fall back to reading: bounded buffer, nothing lost', async () => {
    const bus = await startBus('shared', 5);
    const stream = `s-${crypto.randomUUID()}`;
    const events = bus.subscribeStream(stream, 0);
    await publish(bus, stream);
    expect((await events.next()).value.seq).toBe(1); // live, then it stops reading
    for (let i = 0; i < 30; i++) await publish(bus, stream);
    await waitFor(() => bus.maxBacklog() === 5, 'the buffer to fill');
    await publish(bus, stream);
    expect(bus.maxBacklog()).toBe(5);
    const seqs: number[] = [];
    while (seqs.length < 31) seqs.push((await events.next()).value.seq);
    await events.return?.();
    expect(seqs).toEqual(range(2, 32));
  });

  it('catches up on what was committed while its listener was down', async () => {
    const bus = await startBus();
    const stream = `s-${crypto.randomUUID()}`;
    const sub = collector(bus.subscribeStream(stream, 0));
    await publish(bus, stream);
    await waitFor(() => sub.seqs.length === 1, 'the first event');
    await ds.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'intercloud-events' AND datname = current_database()`);
    await waitFor(() => !bus.isListening(), 'the listener to notice');
    for (let i = 0; i < 3; i++) await publish(bus, stream);
    await waitFor(() => bus.isListening(), 'the listener to reconnect');
    await waitFor(() => sub.seqs.length === 4, 'the missed events');
    await publish(bus, stream);
    await waitFor(() => sub.seqs.length === 5, 'live events again');
    await sub.stop();
    expect(sub.seqs).toEqual(range(1, 5));
  });
});
