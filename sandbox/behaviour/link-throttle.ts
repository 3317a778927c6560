/**
 * Emulated network link for image data: one token bucket per direction per cloud, shared by all
 * concurrent transfers (as a real link is), with the rate read at every chunk so a control call
 * changes the speed of transfers already running.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Credit an idle link may accumulate, so short bursts are not delayed by timer granularity. */
const BURST_MS = 50;

export class LinkThrottle {
  private nextFreeAt = 0;

  constructor(private readonly bytesPerSecond: () => number | null) {}

  get rate(): number | null {
    return this.bytesPerSecond();
  }

  /** Waits until `bytes` may go over the link; returns at once when unlimited. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const rate = this.bytesPerSecond();
    if (!rate) return;
    const now = performance.now();
    const start = Math.max(now - BURST_MS, this.nextFreeAt);
    this.nextFreeAt = start + (bytes * 1000) / rate;
    const wait = this.nextFreeAt - now;
    if (wait >= 1) await sleep(wait, undefined, signal ? { signal } : undefined);
  }

  /** A pass-through stream paced by this link. */
  stream(signal?: AbortSignal): Transform {
    const throttle = this;
    return new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
        void throttle.pass(this, chunk, signal).then(() => done(), done);
      },
    });
  }

  private async pass(out: Transform, chunk: Buffer, signal?: AbortSignal): Promise<void> {
    // Slices of ~1/20 s keep a slow link smooth instead of bursting 64 KiB then stalling.
    const rate = this.bytesPerSecond();
    const slice = rate ? Math.max(1024, Math.floor(rate / 20)) : chunk.length;
    for (let offset = 0; offset < chunk.length; offset += slice) {
      const part = chunk.subarray(offset, offset + slice);
      await this.take(part.length, signal);
      out.push(part);
    }
  }
}
