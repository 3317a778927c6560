/**
 * What the event bus sends on its NOTIFY channel, and the row shape it reads back. A notice
 * carries the whole event when it fits in a notification (PostgreSQL refuses payloads of 8000
 * bytes or more), so delivering it costs no read; a larger one carries only its head, and the
 * receiving process reads just that row.
 */
import { BusEvent } from '../../ports/event-bus.port';

export const CHANNEL = 'intercloud_events';
/** The largest notice sent whole; below PostgreSQL's 8000-byte limit with room to spare. */
export const FULL_NOTICE_MAX_BYTES = 7900;

export interface Notice {
  id: string;
  stream: string;
  seq: number;
  tenantId: string;
  type: string;
  /** Present only on a whole notice (with `createdAt`). */
  payload?: Record<string, unknown>;
  createdAt?: string;
}

/** A notification as published; anything else on the channel (a stray NOTIFY) is `null`. */
export function parseNotice(text: string): Notice | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const n = value as Partial<Notice> | null;
  const ok = !!n && typeof n.id === 'string' && typeof n.stream === 'string' && typeof n.seq === 'number' && typeof n.tenantId === 'string' && typeof n.type === 'string';
  if (!ok) return null;
  const head: Notice = { id: n.id!, stream: n.stream!, seq: n.seq!, tenantId: n.tenantId!, type: n.type! };
  // A malformed body degrades to a head: the row is read instead.
  const whole = typeof n.payload === 'object' && n.payload !== null && !Array.isArray(n.payload) && typeof n.createdAt === 'string' && !Number.isNaN(Date.parse(n.createdAt));
  return whole ? { ...head, payload: n.payload, createdAt: n.createdAt } : head;
}

/** The event a whole notice carries, or `null` when only its row can tell. */
export function eventOfNotice(n: Notice): BusEvent | null {
  if (!n.payload || !n.createdAt) return null;
  return { id: n.id, stream: n.stream, seq: n.seq, tenantId: n.tenantId, type: n.type, payload: n.payload, createdAt: new Date(n.createdAt) };
}

export interface EventRow {
  id: string;
  stream: string;
  seq: number;
  tenant_id: string;
  type: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

export const EVENT_COLUMNS = 'id, stream, seq, tenant_id, type, payload, created_at';

export const toEvent = (r: EventRow): BusEvent => ({
  id: r.id,
  stream: r.stream,
  seq: r.seq,
  tenantId: r.tenant_id,
  type: r.type,
  payload: r.payload,
  createdAt: r.created_at,
});
