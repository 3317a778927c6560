/** Hold times: how long a state held on one VM, from the samples' observation times. */
import { SampleState } from '../../src/domain/enums';
import { holdOf, maxGapMs } from '../../src/domain/hold';

const { OK, WARNING, CRITICAL, UNKNOWN } = SampleState;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const POLL_MS = 15_000;
const GAP = maxGapMs(POLL_MS);

/** Samples at offsets in seconds from T0, oldest first. */
const series = (...points: [number, SampleState][]) => points.map(([s, state]) => ({ state, observedAt: new Date(T0 + s * 1000) }));
const at = (s: number) => new Date(T0 + s * 1000);

describe('holdOf', () => {
  it('allows a gap of exactly three poll intervals, not more', () => {
    expect(GAP).toBe(45_000);
  });

  it.each<[string, ReturnType<typeof series>, SampleState.WARNING | SampleState.CRITICAL, number, number, string]>([
    ['no samples: no hold', series(), CRITICAL, 0, 0, 'NO_SAMPLES'],
    ['one CRITICAL sample: a hold of zero length (time, not counts)', series([0, CRITICAL]), CRITICAL, 0, 0, 'WINDOW_START'],
    ['CRITICAL for 30 s of observations', series([0, CRITICAL], [15, CRITICAL], [30, CRITICAL]), CRITICAL, 30, 30, 'WINDOW_START'],
    ['the same 30 s sampled every second is the same hold', series(...Array.from({ length: 31 }, (_, i): [number, SampleState] => [i, CRITICAL])), CRITICAL, 30, 30, 'WINDOW_START'],
    ['WARNING then CRITICAL is WARNING-or-worse throughout', series([0, WARNING], [15, CRITICAL], [30, CRITICAL]), WARNING, 30, 30, 'WINDOW_START'],
    ['WARNING then CRITICAL: CRITICAL only since it began', series([0, WARNING], [15, CRITICAL], [30, CRITICAL]), CRITICAL, 30, 15, 'OK_BEFORE'],
    ['an OK sample restarts the hold after it', series([0, CRITICAL], [15, OK], [30, CRITICAL], [45, CRITICAL]), CRITICAL, 45, 15, 'OK_BEFORE'],
    ['an UNKNOWN sample breaks the hold', series([0, CRITICAL], [15, UNKNOWN], [30, CRITICAL], [45, CRITICAL]), CRITICAL, 45, 15, 'UNKNOWN_BEFORE'],
    ['a gap of 45 s (3 polls) does not break the hold', series([0, CRITICAL], [45, CRITICAL], [60, CRITICAL]), CRITICAL, 60, 60, 'WINDOW_START'],
    ['a gap of 46 s (more than 3 polls) breaks it', series([0, CRITICAL], [46, CRITICAL], [60, CRITICAL]), CRITICAL, 60, 14, 'GAP_BEFORE'],
    ['the newest sample below the level: no hold', series([0, CRITICAL], [15, CRITICAL], [30, WARNING]), CRITICAL, 30, 0, 'BELOW_LEVEL'],
    ['the newest sample UNKNOWN: no hold', series([0, CRITICAL], [15, UNKNOWN]), WARNING, 15, 0, 'BELOW_LEVEL'],
    ['the newest sample older than 3 polls: no hold now', series([0, CRITICAL], [15, CRITICAL]), CRITICAL, 61, 0, 'STALE'],
    ['the newest sample exactly 3 polls old still counts', series([0, CRITICAL], [15, CRITICAL]), CRITICAL, 60, 15, 'WINDOW_START'],
  ])('%s', (_name, samples, level, nowS, heldS, boundedBy) => {
    const hold = holdOf(samples, level, at(nowS), GAP);
    expect({ heldS: hold.heldMs / 1000, boundedBy: hold.boundedBy }).toEqual({ heldS, boundedBy });
    if (heldS > 0) expect(hold.lastObservedAt).toEqual(samples.at(-1)!.observedAt);
  });

  it('measures to the last observation, not to now: a state is only known to hold until it was last seen', () => {
    const hold = holdOf(series([0, CRITICAL], [10, CRITICAL]), CRITICAL, at(40), GAP);
    expect(hold).toEqual({ heldMs: 10_000, since: at(0), lastObservedAt: at(10), boundedBy: 'WINDOW_START' });
  });
});
