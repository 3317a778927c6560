/**
 * EventBus on PostgreSQL: rows in `events`, a dense seq per stream from `event_streams`, and
 * NOTIFY on commit. A notification only says "look"; subscribers then read rows after the
 * last seq they delivered, which is what makes delivery gap-free and duplicate-free even
 * across reconnects and broker processes.
 */
import { Client } from 'pg';
import { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { BusEvent, EventBus, PublishInput } from '../../ports/event-bus.port';
import { abortableIterator, WakeSignal } from './wake-signal';

const CHANNEL = 'intercloud_events';
const PAGE = 200;
/** Live events a tenant subscriber may fall behind by before it is ended (see SlowSubscriberError). */
export const DEFAULT_MAX_PENDING = 10_000;

/** A subscriber that does not keep up is ended rather than buffered without bound. */
export class SlowSubscriberError extends Error {
  constructor(maxPending: number) {
    super(`subscriber fell more than ${maxPending} events behind and was ended; subscribe again`);
    this.name = 'SlowSubscriberError';
  }
}

/** A notification as published; anything else on the channel (a stray NOTIFY) is ignored. */
function parseNotice(payload: string): Notice | null {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  const n = value as Partial<Notice> | null;
  const ok = !!n && typeof n.id === 'string' && typeof n.stream === 'string' && typeof n.seq === 'number' && typeof n.tenantId === 'string' && typeof n.type === 'string';
  return ok ? (n as Notice) : null;
}

interface Notice {
  id: string;
  stream: string;
  seq: number;
  tenantId: string;
  type: string;
}

/** `null` means "the listener reconnected: anything may have been missed, look again". */
type Waker = (notice: Notice | null) => void;

interface EventRow {
  id: string;
  stream: string;
  seq: number;
  tenant_id: string;
  type: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

const toEvent = (r: EventRow): BusEvent => ({
  id: r.id,
  stream: r.stream,
  seq: r.seq,
  tenantId: r.tenant_id,
  type: r.type,
  payload: r.payload,
  createdAt: r.created_at,
});

export class PostgresEventBus implements EventBus {
  private listener: Client | null = null;
  private readonly wakers = new Set<Waker>();
  private closed = false;
  private reconnectDelayMs = 100;
  private connected = false;
  /** The undelivered event ids of every live tenant subscriber (their backlog). */
  private readonly backlogs = new Set<string[]>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly connectionString: string,
    private readonly logger: Logger,
    private readonly options: { maxPending: number } = { maxPending: DEFAULT_MAX_PENDING },
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  /** True while the LISTEN connection is up (readiness). */
  isListening(): boolean {
    return this.connected;
  }

  /** The largest number of live events a tenant subscriber of this process has yet to read. */
  maxBacklog(): number {
    let max = 0;
    for (const b of this.backlogs) max = Math.max(max, b.length);
    return max;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.connectionString, application_name: 'intercloud-events' });
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      const notice = parseNotice(msg.payload);
      if (!notice) {
        this.logger.warn({ channel: msg.channel, payload: msg.payload.slice(0, 200) }, 'ignoring a malformed event notification');
        return;
      }
      for (const wake of this.wakers) wake(notice);
    });
    client.on('error', (err) => {
      this.logger.warn({ err }, 'event listener connection failed; reconnecting');
      this.connected = false;
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
    this.connected = true;
    this.reconnectDelayMs = 100;
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 5000);
    setTimeout(() => {
      if (this.closed) return;
      this.connect().then(
        () => {
          for (const wake of this.wakers) wake(null);
        },
        (err) => {
          this.logger.warn({ err, delay }, 'event listener reconnect failed');
          this.scheduleReconnect();
        },
      );
    }, delay).unref();
  }

  async publish<P extends object>(tx: EntityManager, input: PublishInput<P>): Promise<BusEvent<P>> {
    const [{ last_seq: seq }] = await tx.query(
      `INSERT INTO event_streams (stream, last_seq) VALUES ($1, 1)
       ON CONFLICT (stream) DO UPDATE SET last_seq = event_streams.last_seq + 1
       RETURNING last_seq`,
      [input.stream],
    );
    const [row] = await tx.query(
      `INSERT INTO events (stream, seq, tenant_id, type, payload) VALUES ($1, $2, $3, $4, $5)
       RETURNING id, created_at`,
      [input.stream, seq, input.tenantId, input.type, JSON.stringify(input.payload)],
    );
    const notice: Notice = { id: String(row.id), stream: input.stream, seq, tenantId: input.tenantId, type: input.type };
    await tx.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(notice)]);
    return { ...notice, payload: input.payload, createdAt: row.created_at };
  }

  subscribeStream(stream: string, afterSeq: number, outer?: AbortSignal): AsyncIterableIterator<BusEvent> {
    const self = this;
    return abortableIterator(async function* (signal) {
      const wake = new WakeSignal();
      const waker: Waker = (n) => {
        if (n === null || n.stream === stream) wake.notify();
      };
      // Registered before the first read, so nothing committed meanwhile slips through.
      self.wakers.add(waker);
      try {
        let last = afterSeq;
        while (!signal.aborted && !self.closed) {
          const rows: EventRow[] = await self.dataSource.query(
            `SELECT id, stream, seq, tenant_id, type, payload, created_at FROM events
             WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT ${PAGE}`,
            [stream, last],
          );
          for (const row of rows) {
            if (signal.aborted) return;
            last = row.seq;
            yield toEvent(row);
          }
          if (rows.length < PAGE) await wake.wait(signal);
        }
      } finally {
        self.wakers.delete(waker);
      }
    }, outer);
  }

  subscribeTenant(tenantId: string, filter: (meta: { type: string; stream: string }) => boolean, outer?: AbortSignal): AsyncIterableIterator<BusEvent> {
    const self = this;
    return abortableIterator(async function* (signal) {
      const wake = new WakeSignal();
      const pending: string[] = [];
      let overflowed = false;
      const waker: Waker = (n) => {
        if (n && n.tenantId === tenantId && filter(n)) {
          if (pending.length >= self.options.maxPending) overflowed = true;
          else pending.push(n.id);
          wake.notify();
        }
      };
      self.wakers.add(waker);
      self.backlogs.add(pending);
      try {
        while (!signal.aborted && !self.closed) {
          if (overflowed) throw new SlowSubscriberError(self.options.maxPending);
          const ids = pending.splice(0);
          if (ids.length > 0) {
            const rows: EventRow[] = await self.dataSource.query(
              `SELECT id, stream, seq, tenant_id, type, payload, created_at FROM events WHERE id = ANY($1::bigint[]) ORDER BY id`,
              [ids],
            );
            for (const row of rows) {
              if (signal.aborted) return;
              yield toEvent(row);
            }
          } else {
            await wake.wait(signal);
          }
        }
      } finally {
        self.wakers.delete(waker);
        self.backlogs.delete(pending);
      }
    }, outer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.wakers) wake(null);
    this.wakers.clear();
    await this.listener?.end().catch(() => undefined);
    this.connected = false;
  }
}
