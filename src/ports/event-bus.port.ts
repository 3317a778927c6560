/**
 * Durable publish/subscribe. Events are rows (so a subscriber can resume after a reconnect)
 * and are fanned out to every broker process (so a subscriber on B sees what A published).
 */
import { EntityManager } from 'typeorm';

export interface BusEvent<P = Record<string, unknown>> {
  id: string;
  stream: string;
  seq: number;
  tenantId: string;
  type: string;
  payload: P;
  createdAt: Date;
}

export interface PublishInput<P> {
  stream: string;
  tenantId: string;
  type: string;
  payload: P;
}

export interface EventBus {
  /**
   * Stores the event in the caller's transaction and assigns the next seq of its stream;
   * subscribers hear of it when that transaction commits.
   */
  publish<P extends object>(tx: EntityManager, input: PublishInput<P>): Promise<BusEvent<P>>;

  /**
   * The same for many events at once, in two statements whatever their number (the scheduler
   * storing a hundred decisions in one tick): each stream's events get its next seqs in the order
   * given. Returns them in that order.
   */
  publishMany<P extends object>(tx: EntityManager, inputs: readonly PublishInput<P>[]): Promise<BusEvent<P>[]>;

  /** Every event of `stream` after `afterSeq` (stored ones first, then live), in seq order, each once. */
  subscribeStream(stream: string, afterSeq: number, signal?: AbortSignal): AsyncIterableIterator<BusEvent>;

  /** Live events of one tenant that pass `filter` (by type and stream), from now on. */
  subscribeTenant(tenantId: string, filter: (meta: { type: string; stream: string }) => boolean, signal?: AbortSignal): AsyncIterableIterator<BusEvent>;

  close(): Promise<void>;
}
