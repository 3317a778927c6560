/**
 * One local subscriber of a stream: its position and a bounded buffer, nothing more. The bus's
 * one reader offers it every live event of its stream; it takes an event only when it is the
 * very next one (seq = position + 1) and there is room. Anything else (it is still replaying, it
 * fell behind, its buffer is full) only raises `knownHead`, and the subscriber reads from the
 * table itself until it has caught up: a slow subscriber costs reads, never memory, and a fast
 * one costs nothing per event.
 */
import { BusEvent } from '../../ports/event-bus.port';
import { WakeSignal } from './wake-signal';

export class StreamSubscriber {
  /** The seq of the last event taken (buffered or already delivered). */
  position: number;
  /** The highest seq known to exist on the stream. */
  private knownHead: number;
  /** Whether the table may hold events after `position` that no offer told of (start, a full page, a lost listener). */
  private mayHaveMore = true;
  private readonly buffer: BusEvent[] = [];
  readonly wake = new WakeSignal();

  constructor(
    afterSeq: number,
    private readonly maxBuffered: number,
    /** False for the per-subscriber baseline: every offer only says "look" (see EventFanout). */
    private readonly takesOffers = true,
  ) {
    this.position = afterSeq;
    this.knownHead = afterSeq;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** A live event of the stream, in seq order as committed. */
  offer(event: BusEvent): void {
    if (!this.takesOffers || event.seq !== this.position + 1 || this.buffer.length >= this.maxBuffered) return this.heard(event.seq);
    this.buffer.push(event);
    this.position = event.seq;
    this.wake.notify();
  }

  /** The stream has an event `seq` this subscriber must read itself (its row was not at hand). */
  heard(seq: number): void {
    if (seq <= this.position) return;
    this.knownHead = Math.max(this.knownHead, seq);
    this.wake.notify();
  }

  /** Events may have been committed unseen (the listener reconnected): read before waiting again. */
  lookAgain(): void {
    this.mayHaveMore = true;
    this.wake.notify();
  }

  take(): BusEvent | undefined {
    return this.buffer.shift();
  }

  /** Whether the subscriber must read the table before it can wait for offers. */
  mustRead(): boolean {
    return this.buffer.length === 0 && (this.mayHaveMore || this.knownHead > this.position);
  }

  /** Call as a read of the table starts; hand what it returns to `takeRead`. */
  beginRead(): number {
    this.mayHaveMore = false;
    return this.knownHead;
  }

  /**
   * Takes a page read after `position` (ascending seq). Rows an offer already delivered are
   * skipped; a gap in the rows (retention deleted them) is not waited for. Offers that arrive
   * while the read is in flight only ever append the next seq, so order holds, and any they
   * could not take raised `knownHead` past what this read saw, so the subscriber reads again.
   */
  takeRead(rows: BusEvent[], fullPage: boolean, headAtStart: number): void {
    for (const event of rows) {
      if (event.seq <= this.position) continue;
      this.buffer.push(event);
      this.position = event.seq;
    }
    if (fullPage) this.mayHaveMore = true;
    // Known to exist before the read, yet not in it: deleted by retention, not to be waited for.
    else if (this.knownHead === headAtStart) this.knownHead = Math.min(this.knownHead, this.position);
  }
}
