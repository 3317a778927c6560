/**
 * How long a metric's state has held on one VM, judged from the samples' observation times (not
 * from how many samples there are, so a poller that reads twice as often does not act twice as
 * fast). Pure rules, no I/O.
 */
import { SampleState } from './enums';

export interface ObservedState {
  state: SampleState;
  observedAt: Date;
}

/** Why a hold is not running, or where it stopped counting. */
export type HoldBreak =
  /** No sample at all in the window read. */
  | 'NO_SAMPLES'
  /** The newest sample is older than the longest gap allowed: the state is not known now. */
  | 'STALE'
  /** The newest sample is below the level. */
  | 'BELOW_LEVEL'
  /** The run started after a sample below the level. */
  | 'OK_BEFORE'
  /** The run started after an UNKNOWN sample. */
  | 'UNKNOWN_BEFORE'
  /** The run started after a gap longer than the longest gap allowed. */
  | 'GAP_BEFORE'
  /** The run reaches back to the oldest sample read (it may be longer; it is at least this long). */
  | 'WINDOW_START';

export interface Hold {
  /** Time from the run's first observation to its last, in ms; 0 when there is no run. */
  heldMs: number;
  /** The run's first and last observation; null when there is no run. */
  since: Date | null;
  lastObservedAt: Date | null;
  /** What bounds the run (or why there is none). */
  boundedBy: HoldBreak;
}

/** The state levels, worst last: WARNING-or-worse means WARNING or CRITICAL. UNKNOWN is no level at all. */
const LEVEL: Record<SampleState, number> = {
  [SampleState.OK]: 0,
  [SampleState.WARNING]: 1,
  [SampleState.CRITICAL]: 2,
  [SampleState.UNKNOWN]: -1,
};

/** Consecutive samples further apart than this many poll intervals break a hold. */
export const GAP_POLL_INTERVALS = 3;

export function maxGapMs(pollIntervalMs: number): number {
  return GAP_POLL_INTERVALS * pollIntervalMs;
}

/**
 * The run of samples at `level` or worse that ends with the newest sample, measured from its first
 * observation to its last. Samples must be ordered by observation time, oldest first. The run is
 * broken by a sample below the level, by an UNKNOWN sample (the state is not known, so nothing is
 * known to have held through it), and by two consecutive samples more than `maxGapMs` apart; it
 * does not exist when the newest sample is more than `maxGapMs` before `now` (a source that went
 * quiet says nothing about the present).
 */
export function holdOf(samples: readonly ObservedState[], level: SampleState.WARNING | SampleState.CRITICAL, now: Date, maxGap: number): Hold {
  const none = (boundedBy: HoldBreak, last: Date | null = null): Hold => ({ heldMs: 0, since: null, lastObservedAt: last, boundedBy });
  const newest = samples.at(-1);
  if (!newest) return none('NO_SAMPLES');
  if (now.getTime() - newest.observedAt.getTime() > maxGap) return none('STALE', newest.observedAt);
  if (LEVEL[newest.state] < LEVEL[level]) return none('BELOW_LEVEL', newest.observedAt);
  let first = samples.length - 1;
  let boundedBy: HoldBreak = 'WINDOW_START';
  for (let i = samples.length - 2; i >= 0; i--) {
    const s = samples[i];
    if (samples[first].observedAt.getTime() - s.observedAt.getTime() > maxGap) {
      boundedBy = 'GAP_BEFORE';
      break;
    }
    if (s.state === SampleState.UNKNOWN) {
      boundedBy = 'UNKNOWN_BEFORE';
      break;
    }
    if (LEVEL[s.state] < LEVEL[level]) {
      boundedBy = 'OK_BEFORE';
      break;
    }
    first = i;
  }
  const since = samples[first].observedAt;
  return { heldMs: newest.observedAt.getTime() - since.getTime(), since, lastObservedAt: newest.observedAt, boundedBy };
}

/** A hold in words, for decisions: "CRITICAL held 45 s (since ...)" or why not. */
export function describeHold(hold: Hold, level: SampleState.WARNING | SampleState.CRITICAL): string {
  const what = level === SampleState.CRITICAL ? 'CRITICAL' : 'WARNING or worse';
  switch (hold.boundedBy) {
    case 'NO_SAMPLES':
      return `no ${what} hold: no samples`;
    case 'STALE':
      return `no ${what} hold: the newest sample (${hold.lastObservedAt?.toISOString()}) is too old to say anything about now`;
    case 'BELOW_LEVEL':
      return `no ${what} hold: the newest sample is ${level === SampleState.CRITICAL ? 'not CRITICAL' : 'OK or UNKNOWN'}`;
    default:
      return `${what} held ${Math.round(hold.heldMs / 1000)} s (since ${hold.since?.toISOString()})`;
  }
}
