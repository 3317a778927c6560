/**
 * The autoscaler's decision for one VM type at one moment: scale up, scale down, nothing, or
 * blocked (and by what), with the inputs it read and the reasons in words. Pure: the service
 * gathers the facts (VMs, samples, jobs, thresholds), the scheduler acts on the verdict.
 */
import { ScalingAction, SampleState, ThresholdRole, VmOrigin } from './enums';
import { describeHold, Hold, holdOf, ObservedState } from './hold';
import { scaleDownRefusal } from './scale-down';

export interface ScalingThreshold {
  metric: string;
  active: boolean;
  warningHoldSeconds: number;
  criticalHoldSeconds: number;
  role: ThresholdRole;
  prepareOnWarning: boolean;
}

export interface ScalingVmType {
  id: string;
  name: string;
  minInstances: number;
  maxInstances: number;
  scaleUpCooldownSeconds: number;
  scaleDownCooldownSeconds: number;
  /** Whether scale-down may remove an original (imported) VM; absent reads as false, the default. */
  scaleDownMayRemoveOriginal?: boolean;
}

export interface MetricSample extends ObservedState {
  value: number | null;
}

/** A live VM of the type (not retired, not being removed). */
export interface ScalingVm {
  id: string;
  name: string;
  origin: VmOrigin;
  /** Nova's status as last seen (ACTIVE, BUILD, ...). */
  state: string;
  createdAt: Date;
  /** Why the VM is in a job (e.g. "source of clone job ..."); null when it is in none. */
  busy: string | null;
  /** Per metric, the samples read, oldest first. */
  samples: Readonly<Record<string, readonly MetricSample[]>>;
}

export interface ScalingFacts {
  now: Date;
  /** Consecutive samples further apart than this break a hold (3 poll intervals). */
  maxGapMs: number;
  vmType: ScalingVmType;
  thresholds: readonly ScalingThreshold[];
  vms: readonly ScalingVm[];
  /** VMs of the type in a scale-down job that has not ended (they are leaving, so not counted). */
  removing: number;
  /** Clone jobs of the type that have not ended. */
  clonesInFlight: readonly { id: string; startedAt: Date }[];
  /** When the last clone of the type was started, and when the last one ended DONE, with its duration. */
  lastCloneStartedAt: Date | null;
  lastDoneClone: { finishedAt: Date; seconds: number } | null;
  /** The target cloud of the last clone of the type started: its new capacity arrives after a clone to that cloud takes. */
  lastCloneTargetCloudId?: string | null;
  /** Durations in seconds of the recent DONE clones of the type into that target cloud, newest first. */
  recentCloneSecondsToTarget?: readonly number[];
  /** When the last removal of a VM of the type was started. */
  lastScaleDownAt: Date | null;
  /** Standby images of the type: a prepare (STANDBY clone job) not yet ended, and the fresh images there are. */
  standby?: { preparingJobId: string | null; fresh: readonly { cloudId: string; expiresAt: Date }[] };
}

/** What blocked or made the decision: the key that tells one decision from the next. */
export enum ScalingOutcome {
  SCALE_UP = 'SCALE_UP',
  SCALE_DOWN = 'SCALE_DOWN',
  /** A WARNING hold of a prepareOnWarning metric: a standby image is prepared in the cloud the matchmaker would pick. */
  PREPARE = 'PREPARE',
  /** A WARNING hold that would prepare, while a prepare of the type is already under way. */
  PREPARE_IN_FLIGHT = 'PREPARE_IN_FLIGHT',
  /** A WARNING hold that would prepare, while a fresh standby image of the type is ready: CRITICAL commits. */
  STANDBY_READY = 'STANDBY_READY',
  CLONE_IN_FLIGHT = 'CLONE_IN_FLIGHT',
  AT_MAX = 'AT_MAX',
  UP_COOLDOWN = 'UP_COOLDOWN',
  NO_SOURCE = 'NO_SOURCE',
  REMOVAL_IN_FLIGHT = 'REMOVAL_IN_FLIGHT',
  DOWN_STABILISING = 'DOWN_STABILISING',
  AT_MIN = 'AT_MIN',
  NO_CANDIDATE = 'NO_CANDIDATE',
  /** The rules said act, but the clone or removal was refused when started (no eligible cloud, a bound, ...). */
  ACTION_REFUSED = 'ACTION_REFUSED',
}

export interface ScalingVerdict {
  action: ScalingAction;
  outcome: ScalingOutcome;
  metric: string;
  reason: string;
  evidence: Record<string, unknown>;
  /** SCALE_UP: the VM to clone. */
  sourceVmId?: string;
  /** SCALE_DOWN: the VM to remove. */
  removeVmId?: string;
}

/** A threshold held on one VM at one level, long enough to act. */
interface Trigger {
  threshold: ScalingThreshold;
  vm: ScalingVm;
  level: SampleState.WARNING | SampleState.CRITICAL;
  hold: Hold;
  needMs: number;
}

/** Only the newest samples go into a decision's evidence: enough to check the hold, not the whole history. */
const EVIDENCE_SAMPLES = 20;
const seconds = (ms: number) => Math.round(ms / 1000);

/**
 * The decision for one VM type, or null when no threshold holds (nothing to do, nothing to say).
 * Scale-up is judged first; while any scale-up metric holds (even one that only prepares), the type
 * is not underloaded, so scale-down is not considered.
 */
export function decideScaling(f: ScalingFacts): ScalingVerdict | null {
  const up = triggersOf(f, ThresholdRole.SCALE_UP);
  const commits = up.filter((t) => t.level === SampleState.CRITICAL || !t.threshold.prepareOnWarning);
  if (commits.length > 0) return scaleUp(f, strongest(commits));
  if (up.length > 0) return prepare(f, strongest(up));
  return scaleDown(f);
}

/**
 * Two-phase scale-up, first phase: a WARNING hold of a prepareOnWarning metric prepares a standby
 * image (snapshot and transfer ahead of need), once: not while a prepare is under way or a fresh
 * standby of the type exists. The CRITICAL hold then commits, and its clone boots from the standby.
 */
function prepare(f: ScalingFacts, t: Trigger): ScalingVerdict {
  const held = `${t.threshold.metric} on ${t.vm.name}: ${describeHold(t.hold, t.level)}, at least the ${t.threshold.warningHoldSeconds} s WARNING hold`;
  const commit = `a CRITICAL hold of ${t.threshold.criticalHoldSeconds} s commits`;
  const standby = f.standby ?? { preparingJobId: null, fresh: [] };
  if (standby.preparingJobId) {
    return blocked(f, ScalingOutcome.PREPARE_IN_FLIGHT, t, `${held}; a standby image is already being prepared (clone job ${standby.preparingJobId}); ${commit}`);
  }
  if (standby.fresh.length > 0) {
    const until = standby.fresh.map((s) => s.expiresAt.toISOString()).sort().at(-1);
    return blocked(f, ScalingOutcome.STANDBY_READY, t, `${held}; a standby image is ready (fresh until ${until}); ${commit}`, { standbyClouds: standby.fresh.map((s) => s.cloudId) });
  }
  const source = sourceOf(f, t.vm);
  if (!source) return blocked(f, ScalingOutcome.NO_SOURCE, t, `${held}; not preparing: no VM of the type is ACTIVE to take a standby image of`);
  return {
    action: ScalingAction.PREPARE,
    outcome: ScalingOutcome.PREPARE,
    metric: t.threshold.metric,
    reason: `${held}; preparing a standby image of ${source.name} in the cloud the matchmaker would pick; ${commit}`,
    evidence: evidenceOf(f, ScalingOutcome.PREPARE, t, { sourceVmId: source.id }),
    sourceVmId: source.id,
  };
}

/** Every (active threshold of the role, VM, level) whose hold is long enough. */
function triggersOf(f: ScalingFacts, role: ThresholdRole): Trigger[] {
  const out: Trigger[] = [];
  for (const threshold of f.thresholds.filter((t) => t.active && t.role === role)) {
    for (const vm of f.vms) {
      const trigger = heldOn(f, threshold, vm);
      if (trigger) out.push(trigger);
    }
  }
  return out;
}

/** CRITICAL held long enough wins over WARNING-or-worse held long enough. */
function heldOn(f: ScalingFacts, threshold: ScalingThreshold, vm: ScalingVm): Trigger | null {
  const samples = vm.samples[threshold.metric] ?? [];
  for (const [level, holdSeconds] of [
    [SampleState.CRITICAL, threshold.criticalHoldSeconds],
    [SampleState.WARNING, threshold.warningHoldSeconds],
  ] as const) {
    const hold = holdOf(samples, level, f.now, f.maxGapMs);
    if (hold.since && hold.heldMs >= holdSeconds * 1000) return { threshold, vm, level, hold, needMs: holdSeconds * 1000 };
  }
  return null;
}

/** The trigger to explain the decision with: CRITICAL first, then the longest hold. */
function strongest(triggers: readonly Trigger[]): Trigger {
  return [...triggers].sort((a, b) => (a.level === b.level ? b.hold.heldMs - a.hold.heldMs : a.level === SampleState.CRITICAL ? -1 : 1))[0];
}

function scaleUp(f: ScalingFacts, t: Trigger): ScalingVerdict {
  const held = `${t.threshold.metric} on ${t.vm.name}: ${describeHold(t.hold, t.level)}, at least the ${seconds(t.needMs)} s ${t.level === SampleState.CRITICAL ? 'CRITICAL' : 'WARNING'} hold`;
  const running = f.clonesInFlight[0];
  if (running) {
    // A running clone is capacity on its way: cloning again now is the double scale-out this rule exists to prevent.
    return blocked(f, ScalingOutcome.CLONE_IN_FLIGHT, t, `${held}; not scaling up: clone job ${running.id} of this VM type is still running (started ${running.startedAt.toISOString()})`);
  }
  // VMs plus clones on their way (none here, since a running clone blocks above; kept so the bound stays true without that rule).
  const count = f.vms.length + f.clonesInFlight.length;
  if (count >= f.vmType.maxInstances) {
    return blocked(f, ScalingOutcome.AT_MAX, t, `${held}; not scaling up: ${count} instance(s) counting clones in flight, the VM type's maximum is ${f.vmType.maxInstances}`);
  }
  const cooldown = upCooldown(f);
  if (f.lastCloneStartedAt && f.now.getTime() - f.lastCloneStartedAt.getTime() < cooldown.seconds * 1000) {
    const left = seconds(f.lastCloneStartedAt.getTime() + cooldown.seconds * 1000 - f.now.getTime());
    return blocked(f, ScalingOutcome.UP_COOLDOWN, t, `${held}; not scaling up: in the scale-up cooldown (${cooldown.why}) since the clone started ${f.lastCloneStartedAt.toISOString()}, ${left} s left`, { cooldown });
  }
  const source = sourceOf(f, t.vm);
  if (!source) return blocked(f, ScalingOutcome.NO_SOURCE, t, `${held}; not scaling up: no VM of the type is ACTIVE to clone from`);
  return {
    action: ScalingAction.SCALE_UP,
    outcome: ScalingOutcome.SCALE_UP,
    metric: t.threshold.metric,
    reason: `${held}; scaling up: cloning ${source.name} (${count} instance(s), maximum ${f.vmType.maxInstances}; the matchmaker picks the target cloud)`,
    evidence: evidenceOf(f, ScalingOutcome.SCALE_UP, t, { sourceVmId: source.id, cooldown }),
    sourceVmId: source.id,
  };
}

/** How many recent DONE clones to one target make its measured clone time (their median). */
export const RECENT_CLONES = 5;

/**
 * The scale-up cooldown is never shorter than the time a clone of this type takes into the cloud
 * the last clone went to: a cooldown that ends before that capacity is up is what makes
 * autoscalers scale out twice. The measure is robust where it can be: the median of the recent
 * DONE clones of the type to that target (one slow or fast outlier does not move it); without
 * any, the type's last DONE clone (wherever it went); without that, the configured value alone.
 */
export function upCooldown(
  f: Pick<ScalingFacts, 'vmType' | 'lastDoneClone' | 'lastCloneTargetCloudId' | 'recentCloneSecondsToTarget'>,
): { seconds: number; why: string; measuredBy: 'TARGET_MEDIAN' | 'LAST_CLONE' | 'CONFIGURED' } {
  const configured = f.vmType.scaleUpCooldownSeconds;
  const toTarget = (f.recentCloneSecondsToTarget ?? []).slice(0, RECENT_CLONES);
  let measured: { seconds: number; what: string; measuredBy: 'TARGET_MEDIAN' | 'LAST_CLONE' } | null = null;
  if (f.lastCloneTargetCloudId && toTarget.length > 0) {
    measured = { seconds: Math.ceil(median(toTarget)), what: `the median of the last ${toTarget.length} clone(s) of this type to cloud ${f.lastCloneTargetCloudId}`, measuredBy: 'TARGET_MEDIAN' };
  } else if (f.lastDoneClone) {
    const where = f.lastCloneTargetCloudId ? `; none measured yet to cloud ${f.lastCloneTargetCloudId}` : '';
    measured = { seconds: Math.ceil(f.lastDoneClone.seconds), what: `the type's last clone's duration${where}`, measuredBy: 'LAST_CLONE' };
  }
  if (measured && measured.seconds > configured) {
    return { seconds: measured.seconds, why: `${measured.seconds} s, ${measured.what}, longer than the configured ${configured} s`, measuredBy: measured.measuredBy };
  }
  if (measured) return { seconds: configured, why: `${configured} s configured; ${measured.what} is ${measured.seconds} s`, measuredBy: 'CONFIGURED' };
  return { seconds: configured, why: `${configured} s configured; no clone of this type measured yet`, measuredBy: 'CONFIGURED' };
}

/** The middle value (the mean of the two middle ones for an even count); the input is not empty. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Clones are made from the type's original (the oldest imported VM that is ACTIVE), so clones do
 * not become clones of clones; without one, from the VM under load, then any ACTIVE VM.
 */
function sourceOf(f: ScalingFacts, loaded: ScalingVm): ScalingVm | null {
  const active = f.vms.filter((v) => v.state === 'ACTIVE');
  const originals = active.filter((v) => v.origin === VmOrigin.IMPORTED).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  return originals[0] ?? active.find((v) => v.id === loaded.id) ?? active[0] ?? null;
}

/**
 * Scale-down needs the SCALE_DOWN metric held on every live VM of the type (one idle VM next to a
 * busy one is not an underloaded service), then: no removal or clone under way, the
 * stabilisation window over, the bounds kept, and a candidate to remove.
 */
function scaleDown(f: ScalingFacts): ScalingVerdict | null {
  if (f.vms.length === 0) return null;
  for (const threshold of f.thresholds.filter((t) => t.active && t.role === ThresholdRole.SCALE_DOWN)) {
    const triggers = f.vms.map((vm) => heldOn(f, threshold, vm));
    if (triggers.some((t) => t === null)) continue;
    const t = strongest(triggers as Trigger[]);
    const held = `${threshold.metric} held on all ${f.vms.length} instance(s) (shortest: ${seconds(Math.min(...(triggers as Trigger[]).map((x) => x.hold.heldMs)))} s)`;
    if (f.removing > 0) return blocked(f, ScalingOutcome.REMOVAL_IN_FLIGHT, t, `${held}; not scaling down: a removal of this VM type is still under way`);
    const running = f.clonesInFlight[0];
    if (running) return blocked(f, ScalingOutcome.CLONE_IN_FLIGHT, t, `${held}; not scaling down: clone job ${running.id} of this VM type is still running`);
    const window = stabilisation(f);
    if (window.endsAt && f.now < window.endsAt) {
      return blocked(f, ScalingOutcome.DOWN_STABILISING, t, `${held}; not scaling down: within the ${f.vmType.scaleDownCooldownSeconds} s stabilisation window after ${window.what}, ${seconds(window.endsAt.getTime() - f.now.getTime())} s left`);
    }
    const refusal = scaleDownRefusal(f.vms.length, f.vmType.minInstances);
    if (refusal) return blocked(f, ScalingOutcome.AT_MIN, t, `${held}; not scaling down: ${refusal}`);
    const candidates = f.vms.map((vm) => ({ vm, verdict: candidacy(f, vm), load: latestValue(vm, threshold.metric) }));
    const eligible = candidates.filter((c) => c.verdict === null).sort((a, b) => byLoad(a.load, b.load) || byOrigin(a.vm, b.vm) || b.vm.createdAt.getTime() - a.vm.createdAt.getTime());
    const listed = candidates.map((c) => ({ vmId: c.vm.id, name: c.vm.name, latestValue: c.load, verdict: c.verdict ?? 'eligible' }));
    const choice = eligible[0];
    if (!choice) return blocked(f, ScalingOutcome.NO_CANDIDATE, t, `${held}; not scaling down: no VM may be removed (${listed.map((c) => `${c.name}: ${c.verdict}`).join('; ')})`, { candidates: listed });
    return {
      action: ScalingAction.SCALE_DOWN,
      outcome: ScalingOutcome.SCALE_DOWN,
      metric: threshold.metric,
      reason: `${held}; scaling down: removing ${choice.vm.name}, the least-loaded ${choice.vm.origin === VmOrigin.CLONE ? 'clone' : 'instance (an original: the VM type sets scaleDownMayRemoveOriginal)'} (latest ${threshold.metric}: ${choice.load ?? 'no value'})`,
      evidence: evidenceOf(f, ScalingOutcome.SCALE_DOWN, t, { candidates: listed, removeVmId: choice.vm.id }),
      removeVmId: choice.vm.id,
    };
  }
  return null;
}

/** The stabilisation window runs from the last change of the type's size: a clone started or finished, a removal started. */
export function stabilisation(f: Pick<ScalingFacts, 'vmType' | 'lastCloneStartedAt' | 'lastDoneClone' | 'lastScaleDownAt'>): { endsAt: Date | null; what: string } {
  const changes: [Date | null | undefined, string][] = [
    [f.lastCloneStartedAt, 'the last clone started'],
    [f.lastDoneClone?.finishedAt, 'the last clone finished'],
    [f.lastScaleDownAt, 'the last removal started'],
  ];
  const latest = changes.filter((c): c is [Date, string] => !!c[0]).sort((a, b) => b[0].getTime() - a[0].getTime())[0];
  if (!latest) return { endsAt: null, what: 'no change yet' };
  return { endsAt: new Date(latest[0].getTime() + f.vmType.scaleDownCooldownSeconds * 1000), what: `${latest[1]} (${latest[0].toISOString()})` };
}

/**
 * Null when the VM may be removed, else why not: ACTIVE, in no job, and a clone unless the VM
 * type allows removing its original (scaleDownMayRemoveOriginal). An original that may go still
 * stays while no other VM of the type is ACTIVE: removing it would leave only instances that do
 * not serve yet (the count rule, scaleDownRefusal, only counts them).
 */
function candidacy(f: ScalingFacts, vm: ScalingVm): string | null {
  if (vm.origin !== VmOrigin.CLONE) {
    // Worded as before the setting existed: decisions stored then and now read alike.
    if (!f.vmType.scaleDownMayRemoveOriginal) return 'the original, never removed by the autoscaler';
    if (!f.vms.some((other) => other.id !== vm.id && other.state === 'ACTIVE')) return 'the original, kept while no other instance of the type is ACTIVE';
  }
  if (vm.state !== 'ACTIVE') return `not ACTIVE (${vm.state})`;
  if (vm.busy) return vm.busy;
  return null;
}

/** At equal load a clone goes before an original (when the type lets originals go at all). */
function byOrigin(a: ScalingVm, b: ScalingVm): number {
  return Number(a.origin !== VmOrigin.CLONE) - Number(b.origin !== VmOrigin.CLONE);
}

function latestValue(vm: ScalingVm, metric: string): number | null {
  return vm.samples[metric]?.at(-1)?.value ?? null;
}

/** Lower load first; a VM whose load is not known comes after every known one. */
function byLoad(a: number | null, b: number | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a - b;
}

function blocked(f: ScalingFacts, outcome: ScalingOutcome, t: Trigger, reason: string, extra: Record<string, unknown> = {}): ScalingVerdict {
  return { action: ScalingAction.NONE, outcome, metric: t.threshold.metric, reason, evidence: evidenceOf(f, outcome, t, extra) };
}

/** What a decision read: the threshold, the hold and the samples behind it, the counts and the bounds. */
function evidenceOf(f: ScalingFacts, outcome: ScalingOutcome, t: Trigger, extra: Record<string, unknown>): Record<string, unknown> {
  const samples = (t.vm.samples[t.threshold.metric] ?? []).slice(-EVIDENCE_SAMPLES);
  return {
    outcome,
    threshold: t.threshold,
    hold: { vmId: t.vm.id, vmName: t.vm.name, level: t.level, heldSeconds: t.hold.heldMs / 1000, requiredSeconds: t.needMs / 1000, since: t.hold.since, lastObservedAt: t.hold.lastObservedAt, boundedBy: t.hold.boundedBy },
    samples: samples.map((s) => ({ state: s.state, value: s.value, observedAt: s.observedAt })),
    instances: f.vms.length,
    clonesInFlight: f.clonesInFlight.map((c) => c.id),
    removing: f.removing,
    minInstances: f.vmType.minInstances,
    maxInstances: f.vmType.maxInstances,
    maxGapSeconds: f.maxGapMs / 1000,
    ...extra,
  };
}
