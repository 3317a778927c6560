/** Clone job events: one stream per job (dense seq), type `clone.event` for tenant-wide listeners. */
import { EntityManager } from 'typeorm';
import { CloneEventKind, ClonePhase } from '../domain/clone-phase';
import { BusEvent, EventBus } from '../ports/event-bus.port';
import type { TransferSavings } from './clone-step';

export const cloneJobStream = (jobId: string) => `clone-job:${jobId}`;
export const CLONE_EVENT_TYPE = 'clone.event';
/**
 * Every clone event of a tenant again, on one stream of its own: its seq orders the tenant's jobs
 * together, so cloneJobUpdates can resume with afterSeq (a job's own seq cannot: it says nothing
 * of the order across jobs). The payload carries the job's seq as `jobSeq`.
 */
export const cloneUpdatesStream = (tenantId: string) => `clone-updates:${tenantId}`;
export const CLONE_UPDATE_EVENT_TYPE = 'clone.update';

export interface CloneEventPayload {
  jobId: string;
  kind: CloneEventKind;
  phase: ClonePhase;
  at: string;
  bytesTransferred: number | null;
  bytesTotal: number | null;
  bytesPerSecond: number | null;
  etaSeconds: number | null;
  message: string | null;
  /** PROGRESS of a chunked TRANSFER: bytes on the link and what zero-skip, dedup and compression saved. */
  transfer?: TransferSavings | null;
}

export async function publishCloneEvent(
  bus: EventBus,
  tx: EntityManager,
  tenantId: string,
  event: Omit<CloneEventPayload, 'at' | 'bytesTransferred' | 'bytesTotal' | 'bytesPerSecond' | 'etaSeconds' | 'message'> & Partial<CloneEventPayload>,
): Promise<void> {
  const payload: CloneEventPayload = {
    bytesTransferred: null,
    bytesTotal: null,
    bytesPerSecond: null,
    etaSeconds: null,
    message: null,
    ...event,
    at: new Date().toISOString(),
  };
  const published = await bus.publish(tx, { stream: cloneJobStream(event.jobId), tenantId, type: CLONE_EVENT_TYPE, payload });
  await bus.publish(tx, { stream: cloneUpdatesStream(tenantId), tenantId, type: CLONE_UPDATE_EVENT_TYPE, payload: { ...payload, jobSeq: published.seq } });
}

const TERMINAL_KINDS: ReadonlySet<string> = new Set([CloneEventKind.DONE, CloneEventKind.FAILED, CloneEventKind.CANCELLED]);

export function isTerminalEvent(event: BusEvent): boolean {
  return TERMINAL_KINDS.has((event.payload as Partial<CloneEventPayload>).kind ?? '');
}

/**
 * A job's event stream that ends after its terminal event (DONE, FAILED, CANCELLED), so a
 * subscriber sees the subscription complete instead of having to detect the end itself. An
 * iterator object rather than a generator: `return()` (a client unsubscribing) must reach the
 * inner stream at once, not after its next event.
 */
export function endingAfterTerminal(inner: AsyncIterableIterator<BusEvent>): AsyncIterableIterator<BusEvent> {
  let ended = false;
  const done = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
  const iterator: AsyncIterableIterator<BusEvent> = {
    async next() {
      if (ended) return done();
      const r = await inner.next();
      if (r.done) {
        ended = true;
        return done();
      }
      if (isTerminalEvent(r.value)) {
        ended = true;
        await inner.return?.();
      }
      return r;
    },
    async return() {
      ended = true;
      await inner.return?.();
      return done();
    },
    async throw(err?: unknown) {
      ended = true;
      await inner.return?.();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** An event stream with nothing in it: a finished job replayed from after its last event. */
export function emptyEvents(): AsyncIterableIterator<BusEvent> {
  return endingAfterTerminal({
    next: async () => ({ done: true, value: undefined }),
    [Symbol.asyncIterator]() {
      return this;
    },
  });
}
