/** The autoscaler's decision for one VM type: when it scales up or down, what blocks it, which VM it removes. */
import { SampleState, ScalingAction, ThresholdRole, VmOrigin } from '../../src/domain/enums';
import { decideScaling, MetricSample, ScalingFacts, ScalingOutcome, ScalingThreshold, ScalingVm, upCooldown } from '../../src/domain/scaling-rules';

const { OK, WARNING, CRITICAL, UNKNOWN } = SampleState;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);
const NOW = 120;

/** Samples every 15 s from `from` to NOW (seconds), all in `state`, valued `value`. */
const steady = (state: SampleState, from = 0, value: number | null = null): MetricSample[] => {
  const out: MetricSample[] = [];
  for (let s = from; s <= NOW; s += 15) out.push({ state, value, observedAt: at(s) });
  return out;
};

const UP: ScalingThreshold = { metric: 'load', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 30, role: ThresholdRole.SCALE_UP, prepareOnWarning: false };
const DOWN: ScalingThreshold = { metric: 'idle', active: true, warningHoldSeconds: 60, criticalHoldSeconds: 60, role: ThresholdRole.SCALE_DOWN, prepareOnWarning: false };

const vm = (id: string, samples: Record<string, MetricSample[]>, over: Partial<ScalingVm> = {}): ScalingVm => ({
  id,
  name: id,
  origin: VmOrigin.CLONE,
  state: 'ACTIVE',
  createdAt: at(-1000),
  busy: null,
  samples,
  ...over,
});
const original = (samples: Record<string, MetricSample[]>) => vm('orig', samples, { origin: VmOrigin.IMPORTED, createdAt: at(-5000) });

const facts = (over: Partial<ScalingFacts> = {}): ScalingFacts => ({
  now: at(NOW),
  maxGapMs: 45_000,
  vmType: { id: 't', name: 'opensips', minInstances: 1, maxInstances: 3, scaleUpCooldownSeconds: 60, scaleDownCooldownSeconds: 300 },
  thresholds: [UP, DOWN],
  vms: [original({ load: steady(CRITICAL, 60) })],
  removing: 0,
  clonesInFlight: [],
  lastCloneStartedAt: null,
  lastDoneClone: null,
  lastScaleDownAt: null,
  ...over,
});

describe('decideScaling: scale-up', () => {
  it('scales up when CRITICAL held the critical hold, cloning the original, and says why', () => {
    const v = decideScaling(facts())!;
    expect(v).toMatchObject({ action: ScalingAction.SCALE_UP, outcome: ScalingOutcome.SCALE_UP, metric: 'load', sourceVmId: 'orig' });
    expect(v.reason).toContain('load on orig: CRITICAL held 60 s');
    expect(v.reason).toContain('at least the 30 s CRITICAL hold');
    expect(v.evidence).toMatchObject({ outcome: 'SCALE_UP', hold: { vmId: 'orig', level: CRITICAL, heldSeconds: 60, requiredSeconds: 30 }, instances: 1, maxInstances: 3 });
    expect((v.evidence.samples as unknown[]).length).toBe(5);
  });

  it.each<[string, MetricSample[], ScalingOutcome | null]>([
    ['CRITICAL shorter than its hold: nothing', steady(CRITICAL, 105), null],
    ['WARNING held its 60 s: scale up', steady(WARNING, 60), ScalingOutcome.SCALE_UP],
    ['WARNING held 45 s: nothing yet', steady(WARNING, 75), null],
    ['OK: nothing', steady(OK), null],
    ['CRITICAL then UNKNOWN now: nothing', [...steady(CRITICAL, 0).slice(0, -1), { state: UNKNOWN, value: null, observedAt: at(NOW) }], null],
    ['CRITICAL long ago, silent since: nothing', steady(CRITICAL, 0).filter((s) => s.observedAt <= at(60)), null],
  ])('%s', (_name, samples, outcome) => {
    expect(decideScaling(facts({ vms: [original({ load: samples })] }))?.outcome ?? null).toBe(outcome);
  });

  it('acts on a hold on any VM of the type, still cloning the original', () => {
    const v = decideScaling(facts({ vms: [original({ load: steady(OK) }), vm('c1', { load: steady(CRITICAL, 60) })] }))!;
    expect(v).toMatchObject({ action: ScalingAction.SCALE_UP, sourceVmId: 'orig' });
    expect(v.reason).toContain('load on c1');
  });

  it('ignores inactive thresholds', () => {
    expect(decideScaling(facts({ thresholds: [{ ...UP, active: false }] }))).toBeNull();
  });

  it('prepares (does not commit) on a WARNING hold of a prepareOnWarning metric, once', () => {
    const warning = { thresholds: [{ ...UP, prepareOnWarning: true }], vms: [original({ load: steady(WARNING, 0) })] };
    const v = decideScaling(facts(warning))!;
    expect(v).toMatchObject({ action: ScalingAction.PREPARE, outcome: ScalingOutcome.PREPARE, sourceVmId: 'orig' });
    expect(v.reason).toContain('preparing a standby image of');
    // Not again while the prepare runs, nor while its image is fresh.
    const inFlight = decideScaling(facts({ ...warning, standby: { preparingJobId: 'prep-1', fresh: [] } }))!;
    expect(inFlight).toMatchObject({ action: ScalingAction.NONE, outcome: ScalingOutcome.PREPARE_IN_FLIGHT });
    expect(inFlight.reason).toContain('clone job prep-1');
    const ready = decideScaling(facts({ ...warning, standby: { preparingJobId: null, fresh: [{ cloudId: 'partner', expiresAt: at(3600) }] } }))!;
    expect(ready).toMatchObject({ action: ScalingAction.NONE, outcome: ScalingOutcome.STANDBY_READY, evidence: { standbyClouds: ['partner'] } });
  });

  it('does not prepare on a WARNING hold of a metric without prepareOnWarning: a WARNING hold of it scales up', () => {
    expect(decideScaling(facts({ vms: [original({ load: steady(WARNING, 0) })] }))?.outcome).toBe(ScalingOutcome.SCALE_UP);
  });

  it('commits on a CRITICAL hold of a prepareOnWarning metric', () => {
    expect(decideScaling(facts({ thresholds: [{ ...UP, prepareOnWarning: true }] }))?.outcome).toBe(ScalingOutcome.SCALE_UP);
  });

  it('never scales out twice while a clone of the type runs', () => {
    const v = decideScaling(facts({ clonesInFlight: [{ id: 'job-1', startedAt: at(-600) }], lastCloneStartedAt: at(-600) }))!;
    expect(v).toMatchObject({ action: ScalingAction.NONE, outcome: ScalingOutcome.CLONE_IN_FLIGHT });
    expect(v.reason).toContain('clone job job-1');
  });

  it('counts instances against the maximum', () => {
    const vms = [original({ load: steady(CRITICAL, 60) }), vm('c1', {}), vm('c2', {})];
    const v = decideScaling(facts({ vms }))!;
    expect(v).toMatchObject({ action: ScalingAction.NONE, outcome: ScalingOutcome.AT_MAX });
    expect(v.reason).toContain('3 instance(s) counting clones in flight, the VM type\'s maximum is 3');
  });

  it.each<[string, number, { finishedAt: Date; seconds: number } | null, ScalingOutcome]>([
    ['within the configured cooldown', NOW - 30, null, ScalingOutcome.UP_COOLDOWN],
    ['past the configured cooldown, no clone measured', NOW - 61, null, ScalingOutcome.SCALE_UP],
    ['past the configured 60 s but the last clone took 200 s', NOW - 120, { finishedAt: at(NOW - 10), seconds: 200 }, ScalingOutcome.UP_COOLDOWN],
    ['past the last clone\'s 200 s', NOW - 201, { finishedAt: at(NOW - 10), seconds: 200 }, ScalingOutcome.SCALE_UP],
  ])('cooldown: %s', (_name, startedS, lastDoneClone, outcome) => {
    expect(decideScaling(facts({ lastCloneStartedAt: at(startedS), lastDoneClone }))?.outcome).toBe(outcome);
  });

  it('makes the cooldown never shorter than the measured clone time', () => {
    const vmType = facts().vmType;
    expect(upCooldown({ vmType, lastDoneClone: { finishedAt: at(0), seconds: 199.2 } }).seconds).toBe(200);
    expect(upCooldown({ vmType, lastDoneClone: { finishedAt: at(0), seconds: 10 } }).seconds).toBe(60);
    expect(upCooldown({ vmType, lastDoneClone: null }).seconds).toBe(60);
  });

  // Configured 60 s; the last clone went to cloud B.
  const lastDone = (seconds: number) => ({ finishedAt: at(0), seconds });
  it.each<[string, Partial<ScalingFacts>, number, string, RegExp]>([
    ['median of the recent clones to the target', { lastCloneTargetCloudId: 'B', recentCloneSecondsToTarget: [300, 100, 200], lastDoneClone: lastDone(90) }, 200, 'TARGET_MEDIAN', /^200 s, the median of the last 3 clone\(s\) of this type to cloud B, longer than the configured 60 s$/],
    ['one outlier does not move the median', { lastCloneTargetCloudId: 'B', recentCloneSecondsToTarget: [3000, 120, 130, 125, 128], lastDoneClone: lastDone(3000) }, 128, 'TARGET_MEDIAN', /median of the last 5/],
    ['even count: mean of the middle two, rounded up', { lastCloneTargetCloudId: 'B', recentCloneSecondsToTarget: [100, 201], lastDoneClone: lastDone(100) }, 151, 'TARGET_MEDIAN', /^151 s/],
    ['only the newest 5 to the target count', { lastCloneTargetCloudId: 'B', recentCloneSecondsToTarget: [70, 70, 70, 900, 900, 900, 900], lastDoneClone: lastDone(70) }, 70, 'TARGET_MEDIAN', /last 5/],
    ['none to the target yet: the type\'s last clone', { lastCloneTargetCloudId: 'B', recentCloneSecondsToTarget: [], lastDoneClone: lastDone(180.2) }, 181, 'LAST_CLONE', /^181 s, the type's last clone's duration; none measured yet to cloud B, longer/],
    ['no target known: the type\'s last clone', { lastDoneClone: lastDone(95) }, 95, 'LAST_CLONE', /^95 s, the type's last clone's duration, longer/],
    ['measured shorter than configured: configured, saying what was measured', { lastCloneTargetCloudId: 'B', recentCloneSecondsToTarget: [20, 30, 25], lastDoneClone: lastDone(20) }, 60, 'CONFIGURED', /^60 s configured; the median of the last 3 clone\(s\) of this type to cloud B is 25 s$/],
    ['nothing measured: configured', {}, 60, 'CONFIGURED', /^60 s configured; no clone of this type measured yet$/],
  ])('per-target cooldown: %s', (_name, over, seconds, measuredBy, why) => {
    const f = { ...facts(), ...over };
    expect(upCooldown(f)).toMatchObject({ seconds, measuredBy });
    expect(upCooldown(f).why).toMatch(why);
  });

  it.each<[string, number, ScalingOutcome]>([
    ['within the target\'s median clone time', NOW - 150, ScalingOutcome.UP_COOLDOWN],
    ['past it', NOW - 201, ScalingOutcome.SCALE_UP],
  ])('the decision waits out the target\'s clone time: %s', (_name, startedS, outcome) => {
    const v = decideScaling(facts({ lastCloneStartedAt: at(startedS), lastCloneTargetCloudId: 'B', recentCloneSecondsToTarget: [200, 190, 210], lastDoneClone: lastDone(40) }))!;
    expect(v.outcome).toBe(outcome);
    if (outcome === ScalingOutcome.UP_COOLDOWN) {
      expect(v.reason).toContain('in the scale-up cooldown (200 s, the median of the last 3 clone(s) of this type to cloud B, longer than the configured 60 s)');
      expect(v.evidence.cooldown).toMatchObject({ seconds: 200, measuredBy: 'TARGET_MEDIAN' });
    }
  });

  it('needs an ACTIVE VM to clone from', () => {
    const v = decideScaling(facts({ vms: [original({ load: steady(CRITICAL, 60) })].map((x) => ({ ...x, state: 'SHUTOFF' })) }))!;
    expect(v.outcome).toBe(ScalingOutcome.NO_SOURCE);
  });
});

describe('decideScaling: scale-down', () => {
  const idle = () => ({ load: steady(OK), idle: steady(WARNING, 0, 5) });
  const twoIdle = (over: Partial<ScalingVm> = {}) => [original(idle()), vm('c1', { load: steady(OK), idle: steady(WARNING, 0, 3) }, over)];

  it('removes the clone when the scale-down metric held on every instance, never the original', () => {
    const v = decideScaling(facts({ vms: twoIdle() }))!;
    expect(v).toMatchObject({ action: ScalingAction.SCALE_DOWN, outcome: ScalingOutcome.SCALE_DOWN, metric: 'idle', removeVmId: 'c1' });
    expect(v.evidence.candidates).toEqual([
      { vmId: 'orig', name: 'orig', latestValue: 5, verdict: 'the original, never removed by the autoscaler' },
      { vmId: 'c1', name: 'c1', latestValue: 3, verdict: 'eligible' },
    ]);
  });

  it('chooses the least-loaded clone (by the metric\'s latest value; unknown values last)', () => {
    const vms = [original(idle()), vm('busy', { idle: steady(WARNING, 0, 9) }), vm('quiet', { idle: steady(WARNING, 0, 1) }), vm('blank', { idle: steady(WARNING, 0, null) })];
    expect(decideScaling(facts({ vms, vmType: { ...facts().vmType, maxInstances: 10 } }))?.removeVmId).toBe('quiet');
  });

  it('does nothing when one instance is not underloaded', () => {
    expect(decideScaling(facts({ vms: [original(idle()), vm('c1', { load: steady(OK), idle: steady(OK) })] }))).toBeNull();
  });

  it('does not scale down while a scale-up metric holds', () => {
    const vms = [original({ load: steady(CRITICAL, 60), idle: steady(WARNING, 0) }), vm('c1', { idle: steady(WARNING, 0) })];
    expect(decideScaling(facts({ vms, lastCloneStartedAt: at(NOW - 10) }))?.outcome).toBe(ScalingOutcome.UP_COOLDOWN);
  });

  it.each<[string, Partial<ScalingFacts>, ScalingOutcome]>([
    ['a removal under way', { removing: 1 }, ScalingOutcome.REMOVAL_IN_FLIGHT],
    ['a clone under way', { clonesInFlight: [{ id: 'j', startedAt: at(0) }] }, ScalingOutcome.CLONE_IN_FLIGHT],
    ['within the stabilisation window after a clone finished', { lastCloneStartedAt: at(-1000), lastDoneClone: { finishedAt: at(NOW - 299), seconds: 100 } }, ScalingOutcome.DOWN_STABILISING],
    ['within the stabilisation window after a removal', { lastScaleDownAt: at(NOW - 10) }, ScalingOutcome.DOWN_STABILISING],
    ['past the stabilisation window', { lastCloneStartedAt: at(-1000), lastDoneClone: { finishedAt: at(NOW - 300), seconds: 100 } }, ScalingOutcome.SCALE_DOWN],
  ])('blocked by %s', (_name, over, outcome) => {
    expect(decideScaling(facts({ vms: twoIdle(), ...over }))?.outcome).toBe(outcome);
  });

  it('never removes the last instance, nor goes below the minimum', () => {
    expect(decideScaling(facts({ vms: [vm('c1', idle())] }))).toMatchObject({ outcome: ScalingOutcome.AT_MIN, reason: expect.stringContaining('last instance') });
    expect(decideScaling(facts({ vms: twoIdle(), vmType: { ...facts().vmType, minInstances: 2 } }))).toMatchObject({ outcome: ScalingOutcome.AT_MIN, reason: expect.stringContaining('minimum of 2') });
  });

  describe('the original (imported) VM', () => {
    const orig = (value: number) => original({ load: steady(OK), idle: steady(WARNING, 0, value) });
    const clone = (id: string, value: number | null, over: Partial<ScalingVm> = {}) => vm(id, { load: steady(OK), idle: steady(WARNING, 0, value) }, over);
    it.each<[string, boolean | undefined, number, ScalingVm[], ScalingOutcome, string | undefined, string]>([
      ['not allowed (default): the clone goes, though the original is less loaded', undefined, 1, [orig(1), clone('c1', 5)], ScalingOutcome.SCALE_DOWN, 'c1', 'the least-loaded clone'],
      ['not allowed (false): the clone goes, though the original is less loaded', false, 1, [orig(1), clone('c1', 5)], ScalingOutcome.SCALE_DOWN, 'c1', 'the least-loaded clone'],
      ['not allowed, and the only clone is busy: nothing to remove', false, 1, [orig(1), clone('c1', 5, { busy: 'source of clone job j' })], ScalingOutcome.NO_CANDIDATE, undefined, 'orig: the original, never removed by the autoscaler'],
      ['allowed: the less-loaded original goes', true, 1, [orig(1), clone('c1', 5)], ScalingOutcome.SCALE_DOWN, 'orig', 'an original: the VM type sets scaleDownMayRemoveOriginal'],
      ['allowed: a less-loaded clone still goes first', true, 1, [orig(5), clone('c1', 1)], ScalingOutcome.SCALE_DOWN, 'c1', 'the least-loaded clone'],
      ['allowed, equal load: the clone before the original', true, 1, [orig(3), clone('c1', 3)], ScalingOutcome.SCALE_DOWN, 'c1', 'the least-loaded clone'],
      ['allowed, but no other instance is ACTIVE: kept', true, 1, [orig(1), clone('c1', 5, { state: 'BUILD' })], ScalingOutcome.NO_CANDIDATE, undefined, 'kept while no other instance of the type is ACTIVE'],
      ['allowed, but it is the last instance', true, 0, [orig(1)], ScalingOutcome.AT_MIN, undefined, 'last instance'],
      ['allowed, but the minimum would be broken', true, 2, [orig(1), clone('c1', 5)], ScalingOutcome.AT_MIN, undefined, 'minimum of 2'],
    ])('%s', (_name, allowed, minInstances, vms, outcome, removeVmId, words) => {
      const v = decideScaling(facts({ vms, vmType: { ...facts().vmType, minInstances, scaleDownMayRemoveOriginal: allowed } }))!;
      expect(v.outcome).toBe(outcome);
      expect(v.removeVmId).toBe(removeVmId);
      expect(v.reason).toContain(words);
    });
  });

  it.each<[string, Partial<ScalingVm>, string]>([
    ['not ACTIVE', { state: 'BUILD' }, 'not ACTIVE (BUILD)'],
    ['in a job', { busy: 'source of clone job j' }, 'source of clone job j'],
  ])('does not remove a clone that is %s', (_name, over, verdict) => {
    const v = decideScaling(facts({ vms: twoIdle(over) }))!;
    expect(v.outcome).toBe(ScalingOutcome.NO_CANDIDATE);
    expect(v.reason).toContain(verdict);
  });
});
