/** Turns byte counts into at most `perSecond` progress reports (plus the final one) with a rate and an ETA. */
export interface ProgressReport {
  bytesTransferred: number;
  bytesTotal: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

const RATE_WINDOW_MS = 3000;
/** Samples for the rate are kept this far apart, so a 64 KiB chunk costs no array work. */
const SAMPLE_EVERY_MS = 50;

export class ProgressThrottle {
  private lastAt = -Infinity;
  private finished = false;
  private readonly window: { at: number; bytes: number }[] = [];

  constructor(
    private readonly report: (r: ProgressReport) => void,
    private readonly perSecond = 4,
    private readonly now: () => number = Date.now,
  ) {}

  update(bytes: number, total: number | null): void {
    const at = this.now();
    const last = this.window[this.window.length - 1];
    if (!last || at - last.at >= SAMPLE_EVERY_MS) {
      this.window.push({ at, bytes });
      while (this.window.length > 2 && at - this.window[0].at > RATE_WINDOW_MS) this.window.shift();
    } else {
      last.bytes = bytes;
    }
    const done = total !== null && bytes >= total;
    if (done ? this.finished : at - this.lastAt < 1000 / this.perSecond) return;
    this.finished = done;
    this.lastAt = at;
    const first = this.window[0];
    const seconds = (at - first.at) / 1000;
    const bytesPerSecond = seconds > 0 ? (bytes - first.bytes) / seconds : 0;
    const etaSeconds = total !== null && bytesPerSecond > 0 ? Math.max(0, (total - bytes) / bytesPerSecond) : null;
    this.report({ bytesTransferred: bytes, bytesTotal: total, bytesPerSecond, etaSeconds });
  }
}

/**
 * Writes progress reports one at a time, newest first-come: while a write is in flight only the
 * latest report waits, older ones are dropped. Reports written concurrently could commit out of
 * order, so a job's bytesTransferred (and its events' seq order) could go backwards.
 */
export class SerialProgressWriter<R> {
  private pending: R | null = null;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly write: (r: R) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  offer(report: R): void {
    this.pending = report;
    this.writing ??= this.drain();
  }

  /** Resolves once every report offered so far is written (or has failed and been logged). */
  async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending !== null) {
        const next = this.pending;
        this.pending = null;
        await this.write(next).catch(this.onError);
      }
    } finally {
      this.writing = null;
    }
  }
}
