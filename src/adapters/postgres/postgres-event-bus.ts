/**
 * EventBus on PostgreSQL: rows in `events`, a dense seq per stream from `event_streams`, and
 * NOTIFY on commit. Per process, one LISTEN connection feeds one reader that turns notices into
 * events (whole notices need no read; only the rows of larger ones are read, once, and only
 * when a local subscriber wants them) and offers each to every local subscriber of its stream
 * or tenant. A stream subscriber keeps only its position and a bounded buffer, and reads the
 * table itself only to replay from `afterSeq` or to catch up (see StreamSubscriber), which
 * keeps delivery gap-free and duplicate-free across reconnects and broker processes.
 */
import { ListenConnection } from './listen-connection';
import { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { BusEvent, EventBus, PublishInput } from '../../ports/event-bus.port';
import { CHANNEL, EVENT_COLUMNS, EventRow, eventOfNotice, FULL_NOTICE_MAX_BYTES, Notice, parseNotice, toEvent } from './event-notice';
import { StreamSubscriber } from './stream-subscriber';
import { abortableIterator, WakeSignal } from './wake-signal';

const PAGE = 200;
/** Live events a subscriber may fall behind by before it is ended (tenant) or left to read the table (stream). */
export const DEFAULT_MAX_PENDING = 10_000;

/**
 * How live events reach stream subscribers. `shared`: one reader per process offers each event
 * to all of them. `per-subscriber`: every subscriber reads the table on every notice of its
 * stream, as the bus did before; kept only as the baseline `npm run bench:events` measures against.
 */
export type EventFanout = 'shared' | 'per-subscriber';

export interface EventBusOptions {
  maxPending: number;
  fanout?: EventFanout;
}

/** A subscriber that does not keep up is ended rather than buffered without bound. */
export class SlowSubscriberError extends Error {
  constructor(maxPending: number) {
    super(`subscriber fell more than ${maxPending} events behind and was ended; subscribe again`);
    this.name = 'SlowSubscriberError';
  }
}

interface TenantSubscriber {
  tenantId: string;
  filter: (meta: { type: string; stream: string }) => boolean;
  buffer: BusEvent[];
  overflowed: boolean;
  failed: unknown;
  wake: WakeSignal;
}

/** In the reader's queue: "the listener reconnected, anything may have been missed". */
const RECONNECTED = null;

export class PostgresEventBus implements EventBus {
  private readonly listener: ListenConnection;
  private closed = false;
  private readonly streams = new Map<string, Set<StreamSubscriber>>();
  private readonly tenants = new Set<TenantSubscriber>();
  private readonly queue: (Notice | typeof RECONNECTED)[] = [];
  private reading: Promise<void> | null = null;

  constructor(
    private readonly dataSource: DataSource,
    connectionString: string,
    private readonly logger: Logger,
    private readonly options: EventBusOptions = { maxPending: DEFAULT_MAX_PENDING },
  ) {
    this.listener = new ListenConnection({
      connectionString,
      channel: CHANNEL,
      applicationName: 'intercloud-events',
      logger,
      onNotification: (payload) => {
        const notice = parseNotice(payload);
        if (notice) this.enqueue(notice);
        else this.logger.warn({ channel: CHANNEL, payload: payload.slice(0, 200) }, 'ignoring a malformed event notification');
      },
      // Anything may have been missed while the connection was down: subscribers read again.
      onReconnected: () => this.enqueue(RECONNECTED),
    });
  }

  async start(): Promise<void> {
    await this.listener.start();
  }

  /** True while the LISTEN connection is up (readiness). */
  isListening(): boolean {
    return this.listener.isListening();
  }

  /** The largest number of live events a subscriber of this process holds undelivered. */
  maxBacklog(): number {
    let max = 0;
    for (const t of this.tenants) max = Math.max(max, t.buffer.length);
    for (const subs of this.streams.values()) for (const s of subs) max = Math.max(max, s.buffered);
    return max;
  }

  async publish<P extends object>(tx: EntityManager, input: PublishInput<P>): Promise<BusEvent<P>> {
    const [{ last_seq: seq }] = await tx.query(
      `INSERT INTO event_streams (stream, last_seq) VALUES ($1, 1)
       ON CONFLICT (stream) DO UPDATE SET last_seq = event_streams.last_seq + 1
       RETURNING last_seq`,
      [input.stream],
    );
    // The notice is built from the stored row (jsonb as a read would return it), whole when it fits.
    const [row] = await tx.query(
      `WITH e AS (
         INSERT INTO events (stream, seq, tenant_id, type, payload) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, stream, seq, tenant_id, type, payload, created_at
       ), n AS (
         SELECT e.id, e.created_at,
                jsonb_build_object('id', e.id::text, 'stream', e.stream, 'seq', e.seq, 'tenantId', e.tenant_id, 'type', e.type) AS head,
                jsonb_build_object('payload', e.payload, 'createdAt', e.created_at) AS body
         FROM e
       )
       SELECT id, created_at,
              pg_notify($6, CASE WHEN octet_length((head || body)::text) <= $7 THEN (head || body)::text ELSE head::text END)
       FROM n`,
      [input.stream, seq, input.tenantId, input.type, JSON.stringify(input.payload), CHANNEL, FULL_NOTICE_MAX_BYTES],
    );
    return { id: String(row.id), stream: input.stream, seq, tenantId: input.tenantId, type: input.type, payload: input.payload, createdAt: row.created_at };
  }

  async publishMany<P extends object>(tx: EntityManager, inputs: readonly PublishInput<P>[]): Promise<BusEvent<P>[]> {
    if (inputs.length === 0) return [];
    // Per stream, how many events: one upsert moves every stream's last_seq past all of them.
    const counts = new Map<string, number>();
    for (const i of inputs) counts.set(i.stream, (counts.get(i.stream) ?? 0) + 1);
    const bumped: { stream: string; last_seq: number }[] = await tx.query(
      `INSERT INTO event_streams (stream, last_seq) SELECT * FROM unnest($1::text[], $2::int[])
       ON CONFLICT (stream) DO UPDATE SET last_seq = event_streams.last_seq + EXCLUDED.last_seq
       RETURNING stream, last_seq`,
      [[...counts.keys()], [...counts.values()]],
    );
    const next = new Map(bumped.map((b) => [b.stream, Number(b.last_seq) - counts.get(b.stream)! + 1]));
    const seqs = inputs.map((i) => {
      const seq = next.get(i.stream)!;
      next.set(i.stream, seq + 1);
      return seq;
    });
    // As publish: notices built from the stored rows, whole when they fit; sent in seq order.
    const rows: { id: string; stream: string; seq: number; created_at: Date }[] = await tx.query(
      `WITH e AS (
         INSERT INTO events (stream, seq, tenant_id, type, payload)
         SELECT stream, seq, tenant_id, type, payload::jsonb FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::text[]) AS u(stream, seq, tenant_id, type, payload)
         RETURNING id, stream, seq, tenant_id, type, payload, created_at
       ), n AS (
         SELECT e.id, e.stream, e.seq, e.created_at,
                jsonb_build_object('id', e.id::text, 'stream', e.stream, 'seq', e.seq, 'tenantId', e.tenant_id, 'type', e.type) AS head,
                jsonb_build_object('payload', e.payload, 'createdAt', e.created_at) AS body
         FROM e
       )
       SELECT id, stream, seq, created_at,
              pg_notify($6, CASE WHEN octet_length((head || body)::text) <= $7 THEN (head || body)::text ELSE head::text END)
       FROM (SELECT * FROM n ORDER BY stream, seq OFFSET 0) n`,
      [inputs.map((i) => i.stream), seqs, inputs.map((i) => i.tenantId), inputs.map((i) => i.type), inputs.map((i) => JSON.stringify(i.payload)), CHANNEL, FULL_NOTICE_MAX_BYTES],
    );
    const stored = new Map(rows.map((r) => [`${r.stream}\u0000${r.seq}`, r]));
    return inputs.map((input, k) => {
      const row = stored.get(`${input.stream}\u0000${seqs[k]}`)!;
      return { id: String(row.id), stream: input.stream, seq: seqs[k], tenantId: input.tenantId, type: input.type, payload: input.payload, createdAt: row.created_at };
    });
  }

  subscribeStream(stream: string, afterSeq: number, outer?: AbortSignal): AsyncIterableIterator<BusEvent> {
    const self = this;
    return abortableIterator(async function* (signal) {
      const sub = new StreamSubscriber(afterSeq, self.options.maxPending, self.options.fanout !== 'per-subscriber');
      // Offered live events before the replay reads, so whatever commits meanwhile is either in
      // the replay or offered after it (and taken once: offers at or below position are dropped).
      let subs = self.streams.get(stream);
      if (!subs) self.streams.set(stream, (subs = new Set()));
      subs.add(sub);
      try {
        while (!signal.aborted && !self.closed) {
          const event = sub.take();
          if (event) {
            yield event;
          } else if (sub.mustRead()) {
            const head = sub.beginRead();
            const rows: EventRow[] = await self.dataSource.query(
              `SELECT ${EVENT_COLUMNS} FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT ${PAGE}`,
              [stream, sub.position],
            );
            sub.takeRead(rows.map(toEvent), rows.length === PAGE, head);
          } else {
            await sub.wake.wait(signal);
          }
        }
      } finally {
        subs.delete(sub);
        if (subs.size === 0 && self.streams.get(stream) === subs) self.streams.delete(stream);
      }
    }, outer);
  }

  subscribeTenant(tenantId: string, filter: (meta: { type: string; stream: string }) => boolean, outer?: AbortSignal): AsyncIterableIterator<BusEvent> {
    const self = this;
    return abortableIterator(async function* (signal) {
      const sub: TenantSubscriber = { tenantId, filter, buffer: [], overflowed: false, failed: undefined, wake: new WakeSignal() };
      self.tenants.add(sub);
      try {
        while (!signal.aborted && !self.closed) {
          if (sub.overflowed) throw new SlowSubscriberError(self.options.maxPending);
          if (sub.failed) throw sub.failed;
          const event = sub.buffer.shift();
          if (event) yield event;
          else await sub.wake.wait(signal);
        }
      } finally {
        self.tenants.delete(sub);
      }
    }, outer);
  }

  private enqueue(item: Notice | typeof RECONNECTED): void {
    this.queue.push(item);
    // One reader at a time, so events are offered in the order they were committed.
    this.reading ??= this.drain().finally(() => {
      this.reading = null;
    });
  }

  /** Never rejects: a failure is handed to the subscribers it concerns. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const at = this.queue.indexOf(RECONNECTED);
      const notices = this.queue.splice(0, at === -1 ? this.queue.length : at) as Notice[];
      if (notices.length > 0) await this.deliver(notices);
      else {
        this.queue.shift();
        this.catchUpStreams();
      }
    }
  }

  private wantedByTenant(n: Notice): TenantSubscriber[] {
    const wanting: TenantSubscriber[] = [];
    for (const t of this.tenants) if (t.tenantId === n.tenantId && t.filter(n)) wanting.push(t);
    return wanting;
  }

  private async deliver(notices: Notice[]): Promise<void> {
    const perSubscriber = this.options.fanout === 'per-subscriber';
    // Notices nobody here listens to cost nothing; heads that someone wants are read in one query.
    const wanted = notices.filter((n) => (this.streams.has(n.stream) && !perSubscriber) || this.wantedByTenant(n).length > 0);
    const missing = wanted.filter((n) => !n.payload).map((n) => n.id);
    const read = new Map<string, BusEvent>();
    let failure: unknown;
    if (missing.length > 0) {
      try {
        const rows: EventRow[] = await this.dataSource.query(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ANY($1::bigint[])`, [missing]);
        for (const row of rows) read.set(String(row.id), toEvent(row));
      } catch (err) {
        this.logger.warn({ err, events: missing.length }, 'reading notified events failed');
        failure = err;
      }
    }
    for (const n of notices) {
      const event = eventOfNotice(n) ?? read.get(n.id);
      for (const sub of this.streams.get(n.stream) ?? []) {
        // Without the event (read failed, or the baseline), its head still tells the subscriber to read.
        if (event) sub.offer(event);
        else sub.heard(n.seq);
      }
      for (const t of this.wantedByTenant(n)) {
        if (!event) {
          // Deleted before it was read (retention) is nothing to deliver; a failed read ends the subscriber.
          if (failure) t.failed ??= failure;
        } else if (t.buffer.length >= this.options.maxPending) t.overflowed = true;
        else t.buffer.push(event);
        t.wake.notify();
      }
    }
  }

  /**
   * After a listener reconnect every stream subscriber reads what it may have missed: one read
   * each, once per reconnect (rare), rather than a shared read whose result most could not take.
   */
  private catchUpStreams(): void {
    for (const subs of this.streams.values()) for (const sub of subs) sub.lookAgain();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subs of this.streams.values()) for (const sub of subs) sub.wake.notify();
    for (const t of this.tenants) t.wake.notify();
    await this.listener.close();
  }
}
