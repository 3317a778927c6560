/**
 * The matchmaker's rules: which clouds a clone of a VM may go to (visibility, health, policies,
 * instance quota, disk format, bootability: hard filters) and in what order, with the reasons in
 * words and every term of every estimate. Pure: the service gathers the inputs.
 *
 * Order of the eligible clouds: estimated time to capacity (whole seconds), then health (HEALTHY,
 * UNKNOWN, DEGRADED: a tiebreak only at equal time), then lower cost, then more free instances,
 * then name (and id).
 *
 * Time to capacity = snapshot + transfer + boot + configure. Each term is learned from this
 * tenant's own DONE clone jobs (the median of the LEARNED_WINDOW most recent that ran the phase),
 * from the narrowest pool that has any: same source cloud, target cloud and VM type; else same
 * cloud pair, any type; else same target cloud, any source. With none, the constants below (and
 * the declared link bandwidth) stand in, and the estimate says so term by term. A median of ten
 * lets up to four outliers (a job resumed after a crash, a congested night) pass unnoticed.
 */
import { planDiskFormat } from './disk-formats';
import { CloudHealth } from './enums';

/**
 * Nova createImage of the source server into its own Glance. The same for every candidate (the
 * snapshot is always taken in the source cloud), so it shapes the absolute estimate, not the order.
 * ASMONIA needed minutes in total for a 2 GB VM, of which the wire took ~16 s; a minute each for
 * snapshot and boot is what remains once the broker removes its own overhead.
 */
export const SNAPSHOT_SECONDS = 60;
/** Nova BUILD -> ACTIVE plus the guest's boot until it answers SSH, in the target cloud (BOOT + NETWORK phases). */
export const BOOT_SECONDS = 60;
/**
 * The SIP service path once the clone is up (CONFIGURE over SSH, MONITORING, LOAD_BALANCER), for a
 * VM type that has any of them; a type without them has no configure term.
 */
export const CONFIGURE_SECONDS = 30;
/** Finished jobs a learned term is the median of, newest first. */
export const LEARNED_WINDOW = 10;
/** Image size assumed when the source image's size is not known yet (the reference SIP server's disk). */
export const ASSUMED_IMAGE_BYTES = 2 * 1024 ** 3;
/** Estimates are coarse: ones that round to the same whole second count as equal, and the next criteria decide. */
export const TIME_RESOLUTION_SECONDS = 1;

export interface LabelPair {
  key: string;
  value: string;
}

/** What the matchmaker needs to know about a cloud (a CloudEntity fits). */
export interface CandidateCloud {
  id: string;
  name: string;
  tenantId: string;
  shared: boolean;
  health: CloudHealth;
  labels: readonly LabelPair[];
  /** Declared link bandwidth to other clouds. */
  bandwidthMbps: number;
  costPerHour: number;
  /** Disk formats the cloud's Glance accepts for an imported image. */
  diskFormats: readonly string[];
}

/** A placement policy (a PolicyEntity fits). Every applicable policy must pass. */
export interface PlacementPolicy {
  name: string;
  /** Non-empty: only these clouds. */
  allowCloudIds: readonly string[];
  denyCloudIds: readonly string[];
  /** All of them, key and value equal. */
  requiredLabels: readonly LabelPair[];
  homeCloudOnly: boolean;
  maxCostPerHour: number | null;
  minBandwidthMbps: number | null;
}

/** The instance quota left in a cloud for the tenant's project there, as far as the broker knows. */
export type InstanceQuota =
  | ({ kind: 'LIMITED'; maxInstances: number; usedInstances: number } & QuotaAge)
  | ({ kind: 'UNLIMITED' } & QuotaAge)
  | { kind: 'UNKNOWN'; why: string };

/** A quota answer served from a cache: how old it was and how old it may get, said in the reasons. */
interface QuotaAge {
  age?: { seconds: number; maxSeconds: number };
}

/**
 * What one finished (DONE) clone job of the tenant measured, in seconds; null for a phase it did
 * not run (a clone from a standby image runs no SNAPSHOT or TRANSFER, a STANDBY job no BOOT).
 */
export interface JobTiming {
  sourceCloudId: string;
  targetCloudId: string;
  /** The source VM's type; null when it had none. */
  vmTypeId: string | null;
  snapshotSeconds: number | null;
  /** TRANSFER + IMPORT: the image moved and made bootable in the target. */
  transferSeconds: number | null;
  /** Bytes the transfer moved. */
  bytesMoved: number | null;
  /** BOOT + NETWORK. */
  bootSeconds: number | null;
  /** CONFIGURE + MONITORING + LOAD_BALANCER; null when none of them ran. */
  configureSeconds: number | null;
}

/** A standby image of the VM's type kept fresh in a cloud (prepareStandby). */
export interface FreshStandby {
  id: string;
  expiresAt: Date;
}

export enum EstimateSource {
  /** The median of finished jobs (`jobs` of them, from `pool`). */
  LEARNED = 'LEARNED',
  /** A constant (or the declared link bandwidth): no finished job measured it yet. */
  DEFAULT = 'DEFAULT',
  /** Zero: the clone boots from a fresh standby image already in that cloud. */
  STANDBY_IMAGE = 'STANDBY_IMAGE',
  /** Zero: the clone does not run it (no transfer in the home cloud, no configuration for this VM type). */
  NOT_NEEDED = 'NOT_NEEDED',
}

/** Which finished jobs a learned term comes from, narrowest first. */
export enum HistoryPool {
  PAIR_AND_TYPE = 'PAIR_AND_TYPE',
  PAIR = 'PAIR',
  TARGET = 'TARGET',
}

export interface EstimateTerm {
  seconds: number;
  source: EstimateSource;
  /** Finished jobs the learned value is the median of; 0 otherwise. */
  jobs: number;
  pool: HistoryPool | null;
}

export interface TimeEstimate {
  totalSeconds: number;
  snapshot: EstimateTerm;
  /** For a transfer, its source is that of the bandwidth (learned effective, or declared). */
  transfer: EstimateTerm;
  boot: EstimateTerm;
  configure: EstimateTerm;
  /** Bytes the transfer moves; null when there is none. */
  imageBytes: number | null;
  /** The image size was not known: ASSUMED_IMAGE_BYTES. */
  imageBytesAssumed: boolean;
  /** Bandwidth the transfer term uses (learned effective, or the declared link), bytes/s; null when there is no transfer. */
  bytesPerSecond: number | null;
  /** The standby image the clone would boot from; null when none. */
  standbyImageId: string | null;
}

export interface MatchmakingInput<C extends CandidateCloud> {
  /** Tenant of the VM: another tenant's cloud is a candidate only if it is shared. */
  tenantId: string;
  /** Cloud the source VM runs in (its home cloud). */
  sourceCloudId: string;
  candidates: readonly C[];
  policies: readonly PlacementPolicy[];
  /** Per cloud id; a cloud missing here has an unknown quota. */
  quotas?: ReadonlyMap<string, InstanceQuota>;
  /** Bytes the clone must move; null when not known yet (ASSUMED_IMAGE_BYTES is used and said). */
  imageBytes: number | null;
  /**
   * Per cloud id, whether the clone could boot there (a flavor and networks the boot rule
   * accepts, domain/boot-choice.ts); a cloud missing here was not checked.
   */
  bootable?: ReadonlyMap<string, { ok: true } | { ok: false; reason: string }>;
  /** The source VM's type; null when it has none. */
  vmTypeId?: string | null;
  /** Whether the VM type configures its clones (recipe, monitoring or load balancer): a configure term. */
  configures?: boolean;
  /** The tenant's finished jobs, newest first (the service reads a bounded set; see LEARNED_WINDOW). */
  history?: readonly JobTiming[];
  /** Per cloud id, a fresh standby image of the VM's type there. */
  standbys?: ReadonlyMap<string, FreshStandby>;
  /** Disk format of the source server's image (what its snapshot will be); null when unknown. */
  sourceDiskFormat?: string | null;
}

export interface CloudAssessment<C extends CandidateCloud> {
  cloud: C;
  eligible: boolean;
  /** 1 = best among the eligible; null for an excluded cloud. */
  rank: number | null;
  /** Snapshot + transfer (none in the home cloud) + boot + configure, in seconds. */
  estimatedSecondsToCapacity: number;
  /** Every term of that estimate and where it comes from. */
  estimate: TimeEstimate;
  /** Age of the quota answer when it came from the cache; null when read just now or unknown. */
  quotaAgeSeconds: number | null;
  /** Instances that can still be started; null when unknown or unlimited. */
  freeInstances: number | null;
  costPerHour: number;
  /** Excluded: every filter that excluded it. Eligible: the inputs of its ranking. */
  reasons: string[];
}

interface Assessed<C extends CandidateCloud> extends Omit<CloudAssessment<C>, 'estimate'> {
  quota: InstanceQuota;
  estimate: TimeEstimate & { link: Link | null };
}

/** Every candidate, the eligible ones first in rank order, then the excluded ones by name. */
export function matchmake<C extends CandidateCloud>(input: MatchmakingInput<C>): CloudAssessment<C>[] {
  const source = input.candidates.find((c) => c.id === input.sourceCloudId) ?? null;
  const assessed = input.candidates.map((cloud) => assess(cloud, source, input));
  const eligible = assessed.filter((a) => a.eligible).sort(byPreference);
  eligible.forEach((a, i) => (a.rank = i + 1));
  const excluded = assessed.filter((a) => !a.eligible).sort((a, b) => byName(a.cloud, b.cloud));
  return [...eligible, ...excluded].map(({ quota: _quota, estimate: { link: _link, ...estimate }, ...rest }) => ({ ...rest, estimate }));
}

/** One line naming each excluded cloud and why, for "no eligible target cloud" errors. */
export function explainNoTarget(assessments: readonly CloudAssessment<CandidateCloud>[]): string {
  if (assessments.length === 0) return 'no cloud is registered or shared with you';
  return assessments
    .filter((a) => !a.eligible)
    .map((a) => `${a.cloud.name}: ${a.reasons.join(', ')}`)
    .join('; ');
}

/**
 * The candidates that pass every filter needing no answer from the cloud itself (visibility,
 * health, policies, disk format): the ones worth asking for their quota and boot facts. The same
 * filters `matchmake` applies, without estimating or wording anything (a matchmake over 100
 * clouds asks this first).
 */
export function worthAsking<C extends CandidateCloud>(input: MatchmakingInput<C>): C[] {
  return input.candidates.filter((cloud) => {
    const home = cloud.id === input.sourceCloudId;
    const standby = input.standbys?.get(cloud.id) ?? null;
    const { filtered, format } = staticExclusions(cloud, home, standby, input);
    return filtered.length === 0 && format.ok;
  });
}

/** Visibility, health and policy exclusions, and the disk format verdict (its note goes into the reasons): what needs no answer from the cloud. */
function staticExclusions(cloud: CandidateCloud, home: boolean, standby: FreshStandby | null, input: MatchmakingInput<CandidateCloud>) {
  // A clone that moves no image (the home cloud, a cloud holding a fresh standby image) needs no format check.
  const format = diskFormatAcceptance(input.sourceDiskFormat ?? null, cloud.diskFormats, home || standby !== null);
  const filtered = [...visibilityExclusions(cloud, input.tenantId), ...healthExclusions(cloud), ...input.policies.flatMap((p) => policyExclusions(cloud, home, p))];
  return { filtered, format };
}

function assess<C extends CandidateCloud>(cloud: C, source: CandidateCloud | null, input: MatchmakingInput<C>): Assessed<C> {
  const home = cloud.id === input.sourceCloudId;
  const quota = input.quotas?.get(cloud.id) ?? { kind: 'UNKNOWN', why: 'not asked' };
  const standby = input.standbys?.get(cloud.id) ?? null;
  const estimate = estimateTime(cloud, home, source, standby, input);
  const { filtered, format } = staticExclusions(cloud, home, standby, input);
  const exclusions = [...filtered, ...quotaExclusions(quota), ...bootExclusions(input.bootable?.get(cloud.id)), ...(format.ok ? [] : [format.reason])];
  const eligible = exclusions.length === 0;
  return {
    cloud,
    eligible,
    rank: null,
    estimatedSecondsToCapacity: estimate.totalSeconds,
    estimate,
    quotaAgeSeconds: quota.kind !== 'UNKNOWN' && quota.age ? quota.age.seconds : null,
    freeInstances: quota.kind === 'LIMITED' ? freeOf(quota) : null,
    costPerHour: cloud.costPerHour,
    reasons: eligible ? [...rankingNotes(cloud, home, estimate, quota, input.policies), ...(format.ok && format.note ? [format.note] : [])] : exclusions,
    quota,
  };
}

function visibilityExclusions(cloud: CandidateCloud, tenantId: string): string[] {
  return cloud.tenantId !== tenantId && !cloud.shared ? ['belongs to another tenant and is not shared'] : [];
}

function healthExclusions(cloud: CandidateCloud): string[] {
  return cloud.health === CloudHealth.UNREACHABLE ? [`health ${CloudHealth.UNREACHABLE}`] : [];
}

function policyExclusions(cloud: CandidateCloud, home: boolean, p: PlacementPolicy): string[] {
  const out: string[] = [];
  const by = `policy "${p.name}"`;
  if (p.allowCloudIds.length > 0 && !p.allowCloudIds.includes(cloud.id)) out.push(`not in the allow list of ${by}`);
  if (p.denyCloudIds.includes(cloud.id)) out.push(`denied by ${by}`);
  for (const label of p.requiredLabels) {
    if (!cloud.labels.some((l) => l.key === label.key && l.value === label.value)) out.push(`lacks label ${label.key}=${label.value} required by ${by}`);
  }
  if (p.homeCloudOnly && !home) out.push(`${by} keeps VMs in their home cloud`);
  if (p.maxCostPerHour !== null && cloud.costPerHour > p.maxCostPerHour) {
    out.push(`cost ${formatCost(cloud.costPerHour)}/h above ${formatCost(p.maxCostPerHour)}/h allowed by ${by}`);
  }
  // A clone inside the home cloud moves no image over the link, so a minimum bandwidth does not concern it.
  if (p.minBandwidthMbps !== null && !home && cloud.bandwidthMbps < p.minBandwidthMbps) {
    out.push(`bandwidth ${cloud.bandwidthMbps} Mbit/s below ${p.minBandwidthMbps} Mbit/s required by ${by}`);
  }
  return out;
}

/**
 * Whether a cloud can take the clone's image: as it is, or converted by the TRANSFER step on the
 * target side (domain/disk-formats.ts decides both, so the two never disagree). The one place the
 * matchmaker decides on disk formats.
 */
export function diskFormatAcceptance(
  sourceFormat: string | null,
  cloudFormats: readonly string[],
  movesNoImage = false,
): { ok: true; note: string | null } | { ok: false; reason: string } {
  if (movesNoImage) return { ok: true, note: null };
  const plan = planDiskFormat(sourceFormat, cloudFormats);
  if (plan.kind === 'impossible') return { ok: false, reason: plan.reason };
  return { ok: true, note: plan.kind === 'convert' ? `converted from ${plan.from} to ${plan.to} on the target side` : null };
}

function bootExclusions(boot: { ok: true } | { ok: false; reason: string } | undefined): string[] {
  return boot && !boot.ok ? [`cannot boot the clone: ${boot.reason}`] : [];
}

function quotaExclusions(quota: InstanceQuota): string[] {
  if (quota.kind !== 'LIMITED' || freeOf(quota) > 0) return [];
  return [`no free instance quota (0 of ${quota.maxInstances} free${ageNote(quota)})`];
}

/**
 * One learned value: the median of the newest LEARNED_WINDOW samples of the narrowest pool that
 * has any (same pair and VM type, same pair, same target); null when no pool has one. `history`
 * is newest first; `sample` gives a job's value, or null when that job did not measure it.
 */
export function learnedValue(
  history: readonly JobTiming[],
  where: { sourceCloudId: string; targetCloudId: string; vmTypeId: string | null },
  sample: (job: JobTiming) => number | null,
): { value: number; jobs: number; pool: HistoryPool } | null {
  const pools: [HistoryPool, (j: JobTiming) => boolean][] = [
    [HistoryPool.PAIR_AND_TYPE, (j) => where.vmTypeId !== null && j.vmTypeId === where.vmTypeId && j.sourceCloudId === where.sourceCloudId && j.targetCloudId === where.targetCloudId],
    [HistoryPool.PAIR, (j) => j.sourceCloudId === where.sourceCloudId && j.targetCloudId === where.targetCloudId],
    [HistoryPool.TARGET, (j) => j.targetCloudId === where.targetCloudId],
  ];
  for (const [pool, inPool] of pools) {
    const samples: number[] = [];
    for (const job of history) {
      if (samples.length >= LEARNED_WINDOW) break;
      if (!inPool(job)) continue;
      const v = sample(job);
      if (v !== null && Number.isFinite(v) && v >= 0) samples.push(v);
    }
    if (samples.length > 0) return { value: median(samples), jobs: samples.length, pool };
  }
  return null;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Effective bandwidth of one job, bytes/s: bytes moved over its TRANSFER + IMPORT seconds. */
const effectiveBandwidth = (j: JobTiming): number | null => (j.bytesMoved && j.transferSeconds && j.transferSeconds > 0 ? j.bytesMoved / j.transferSeconds : null);

const zero = (source: EstimateSource): EstimateTerm => ({ seconds: 0, source, jobs: 0, pool: null });

function learnedOr(learned: { value: number; jobs: number; pool: HistoryPool } | null, fallback: number): EstimateTerm {
  return learned ? { seconds: learned.value, source: EstimateSource.LEARNED, jobs: learned.jobs, pool: learned.pool } : { seconds: fallback, source: EstimateSource.DEFAULT, jobs: 0, pool: null };
}

/**
 * Snapshot + transfer + boot + configure for a clone into `cloud`. A fresh standby image there
 * zeroes snapshot and transfer; the home cloud has no transfer (an intra-cloud clone boots from
 * its snapshot). The transfer is the image over the learned effective bandwidth of the pair or,
 * until there is one, over the slower of the two declared links (the image leaves through the
 * source cloud's link and arrives through the target's; the target's alone when the source cloud
 * is not among the candidates).
 */
function estimateTime<C extends CandidateCloud>(cloud: C, home: boolean, source: CandidateCloud | null, standby: FreshStandby | null, input: MatchmakingInput<C>): TimeEstimate & { link: Link | null } {
  const history = input.history ?? [];
  const where = { sourceCloudId: input.sourceCloudId, targetCloudId: cloud.id, vmTypeId: input.vmTypeId ?? null };
  const learn = (sample: (j: JobTiming) => number | null) => learnedValue(history, where, sample);
  const boot = learnedOr(learn((j) => j.bootSeconds), BOOT_SECONDS);
  const configure = input.configures ? learnedOr(learn((j) => j.configureSeconds), CONFIGURE_SECONDS) : zero(EstimateSource.NOT_NEEDED);
  let snapshot: EstimateTerm;
  let transfer: EstimateTerm;
  let imageBytes: number | null = null;
  let bytesPerSecond: number | null = null;
  let link: Link | null = null;
  if (standby) {
    snapshot = zero(EstimateSource.STANDBY_IMAGE);
    transfer = zero(EstimateSource.STANDBY_IMAGE);
  } else {
    snapshot = learnedOr(learn((j) => j.snapshotSeconds), SNAPSHOT_SECONDS);
    if (home) {
      transfer = zero(EstimateSource.NOT_NEEDED);
    } else {
      imageBytes = input.imageBytes ?? ASSUMED_IMAGE_BYTES;
      const learned = learn(effectiveBandwidth);
      if (learned) {
        bytesPerSecond = learned.value;
        transfer = { seconds: imageBytes / bytesPerSecond, source: EstimateSource.LEARNED, jobs: learned.jobs, pool: learned.pool };
      } else {
        const sourceIsSlower = source !== null && source.bandwidthMbps < cloud.bandwidthMbps;
        link = { mbps: sourceIsSlower ? source.bandwidthMbps : cloud.bandwidthMbps, limitedBySource: sourceIsSlower ? source.name : null };
        bytesPerSecond = (link.mbps * 1e6) / 8;
        transfer = { seconds: imageBytes / bytesPerSecond, source: EstimateSource.DEFAULT, jobs: 0, pool: null };
      }
    }
  }
  return {
    totalSeconds: snapshot.seconds + transfer.seconds + boot.seconds + configure.seconds,
    snapshot,
    transfer,
    boot,
    configure,
    imageBytes,
    imageBytesAssumed: imageBytes !== null && input.imageBytes === null,
    bytesPerSecond,
    standbyImageId: standby?.id ?? null,
    link,
  };
}

interface Link {
  mbps: number;
  limitedBySource: string | null;
}

const poolWords: Record<HistoryPool, string> = {
  [HistoryPool.PAIR_AND_TYPE]: 'this cloud pair and VM type',
  [HistoryPool.PAIR]: 'this cloud pair, any VM type',
  [HistoryPool.TARGET]: 'this target cloud, any source',
};

/** "60 s snapshot (default estimate)", "42.5 s boot (median of 7 jobs, this cloud pair and VM type)". */
function termWords(name: string, t: EstimateTerm, defaultWords = 'default estimate'): string {
  const head = `${formatSeconds(t.seconds)} s ${name}`;
  switch (t.source) {
    case EstimateSource.LEARNED:
      return `${head} (median of ${t.jobs} job${t.jobs === 1 ? '' : 's'}, ${poolWords[t.pool!]})`;
    case EstimateSource.DEFAULT:
      return `${head} (${defaultWords})`;
    case EstimateSource.STANDBY_IMAGE:
      return `${head} (standby image)`;
    default:
      return `${head} (not needed)`;
  }
}

function ageNote(quota: QuotaAge): string {
  return quota.age ? `; read ${formatSeconds(quota.age.seconds)} s ago, cached up to ${formatSeconds(quota.age.maxSeconds)} s` : '';
}

function rankingNotes(cloud: CandidateCloud, home: boolean, estimate: TimeEstimate & { link: Link | null }, quota: InstanceQuota, policies: readonly PlacementPolicy[]): string[] {
  const notes: string[] = [];
  const t = estimate.transfer;
  if (estimate.standbyImageId !== null) {
    notes.push(`fresh standby image ${estimate.standbyImageId} of this VM type here: no snapshot, no transfer`);
  } else if (home) {
    notes.push('home cloud: no transfer');
  } else {
    const size = `${formatBytes(estimate.imageBytes!)}${estimate.imageBytesAssumed ? ' (assumed)' : " (the source server's image)"}`;
    if (t.source === EstimateSource.LEARNED) {
      notes.push(`estimated ${formatSeconds(t.seconds)} s transfer of ${size} at ${formatRate(estimate.bytesPerSecond!)} (effective, median of ${t.jobs} job${t.jobs === 1 ? '' : 's'}, ${poolWords[t.pool!]})`);
    } else {
      const l = estimate.link!;
      const link = l.limitedBySource ? `${l.mbps} Mbit/s (source cloud ${l.limitedBySource}'s link)` : `${l.mbps} Mbit/s`;
      notes.push(`estimated ${formatSeconds(t.seconds)} s transfer of ${size} at ${link}`);
    }
    if (estimate.imageBytesAssumed) notes.push(`image size unknown: assumed ${formatBytes(estimate.imageBytes!)} (default)`);
  }
  const parts = [termWords('snapshot', estimate.snapshot)];
  if (t.source !== EstimateSource.NOT_NEEDED) parts.push(termWords('transfer', t, 'declared link'));
  parts.push(termWords('boot', estimate.boot));
  if (estimate.configure.source !== EstimateSource.NOT_NEEDED) parts.push(termWords('configure', estimate.configure));
  notes.push(`estimated ${formatSeconds(estimate.totalSeconds)} s to capacity (${parts.join(' + ')})`);
  if (cloud.health !== CloudHealth.HEALTHY) notes.push(`health ${cloud.health}: ranked after healthier clouds at equal time`);
  if (quota.kind === 'LIMITED') notes.push(`${freeOf(quota)} of ${quota.maxInstances} instances free${ageNote(quota)}`);
  else if (quota.kind === 'UNLIMITED') notes.push(`instance quota unlimited${ageNote(quota)}`);
  else notes.push(`instance quota unknown: ${quota.why}`);
  notes.push(`cost ${formatCost(cloud.costPerHour)}/h`);
  if (home) {
    for (const p of policies) {
      if (p.minBandwidthMbps !== null && cloud.bandwidthMbps < p.minBandwidthMbps) {
        notes.push(`home cloud: no transfer, so the ${p.minBandwidthMbps} Mbit/s minimum of policy "${p.name}" does not apply`);
      }
    }
  }
  return notes;
}

/** HEALTHY before UNKNOWN (not probed yet) before DEGRADED; UNREACHABLE never gets this far. */
const healthOrder: Record<CloudHealth, number> = {
  [CloudHealth.HEALTHY]: 0,
  [CloudHealth.UNKNOWN]: 1,
  [CloudHealth.DEGRADED]: 2,
  [CloudHealth.UNREACHABLE]: 3,
};

/** More is better; a cloud that did not say ranks after every cloud with room (eligible ones have at least 1). */
function quotaScore(quota: InstanceQuota): number {
  if (quota.kind === 'UNLIMITED') return Number.POSITIVE_INFINITY;
  return quota.kind === 'LIMITED' ? freeOf(quota) : 0;
}

function byPreference<C extends CandidateCloud>(a: Assessed<C>, b: Assessed<C>): number {
  const slot = (s: number) => Math.round(s / TIME_RESOLUTION_SECONDS);
  return (
    slot(a.estimatedSecondsToCapacity) - slot(b.estimatedSecondsToCapacity) ||
    healthOrder[a.cloud.health] - healthOrder[b.cloud.health] ||
    a.cloud.costPerHour - b.cloud.costPerHour ||
    descending(quotaScore(a.quota), quotaScore(b.quota)) ||
    byName(a.cloud, b.cloud)
  );
}

function byName(a: CandidateCloud, b: CandidateCloud): number {
  // Ids break ties between equally named clouds of different tenants, so the order never depends on input order.
  return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

/** Works with Infinity, where subtraction would give NaN. */
function descending(x: number, y: number): number {
  return x === y ? 0 : x > y ? -1 : 1;
}

function freeOf(quota: { maxInstances: number; usedInstances: number }): number {
  return Math.max(0, quota.maxInstances - quota.usedInstances);
}

/** 16, 17.2: one decimal at most. */
export function formatSeconds(seconds: number): string {
  return oneDecimal(seconds);
}

function oneDecimal(n: number): string {
  return String(Number(n.toFixed(1)));
}

/** 0.30, 0.125: at least two decimals, at most four (the stored precision). */
export function formatCost(cost: number): string {
  const s = String(Number(cost.toFixed(4)));
  const decimals = s.includes('.') ? s.split('.')[1].length : 0;
  return decimals >= 2 ? s : cost.toFixed(2);
}

/** 12.5 MB/s, 800 kB/s: decimal units, as links are quoted. */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1e6) return `${oneDecimal(bytesPerSecond / 1e6)} MB/s`;
  if (bytesPerSecond >= 1e3) return `${oneDecimal(bytesPerSecond / 1e3)} kB/s`;
  return `${oneDecimal(bytesPerSecond)} B/s`;
}

/** 2 GiB, 1.5 GiB, 16 MiB, 512 bytes. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${oneDecimal(bytes / 1024 ** 3)} GiB`;
  if (bytes >= 1024 ** 2) return `${oneDecimal(bytes / 1024 ** 2)} MiB`;
  return `${bytes} bytes`;
}

/** A finished job's phases as stored on it (clone_jobs.phases). */
interface StoredPhase {
  phase: string;
  durationMs: number | null;
}

/**
 * What a finished job measured, from the phase timings stored on it: a term is the sum of its
 * phases' durations, null when none of them ran. The bytes are those the transfer moved (the
 * image's size when the count was not kept).
 */
export function jobTimingOf(job: {
  sourceCloudId: string;
  targetCloudId: string;
  vmTypeId: string | null;
  phases: readonly StoredPhase[];
  bytesTransferred: number | null;
  bytesTotal: number | null;
}): JobTiming {
  const seconds = (...names: string[]): number | null => {
    const ran = job.phases.filter((p) => names.includes(p.phase) && p.durationMs !== null && p.durationMs >= 0);
    return ran.length === 0 ? null : ran.reduce((sum, p) => sum + p.durationMs!, 0) / 1000;
  };
  const transferSeconds = seconds('TRANSFER') === null ? null : seconds('TRANSFER', 'IMPORT');
  return {
    sourceCloudId: job.sourceCloudId,
    targetCloudId: job.targetCloudId,
    vmTypeId: job.vmTypeId,
    snapshotSeconds: seconds('SNAPSHOT'),
    transferSeconds,
    bytesMoved: transferSeconds === null ? null : job.bytesTransferred || job.bytesTotal || null,
    bootSeconds: seconds('BOOT', 'NETWORK'),
    configureSeconds: seconds('CONFIGURE', 'MONITORING', 'LOAD_BALANCER'),
  };
}

/** One cloud as the matchmaker saw it when it placed a clone (stored on the job, so plain data). */
export interface PlacementCandidate {
  cloudId: string;
  cloudName: string;
  eligible: boolean;
  rank: number | null;
  estimatedSecondsToCapacity: number;
  estimate: TimeEstimate;
  freeInstances: number | null;
  quotaAgeSeconds: number | null;
  costPerHour: number;
  reasons: string[];
}

/** Why a clone went where it went: the chosen cloud and every candidate with its verdict (CloneJob.placement). */
export interface Placement {
  chosenCloudId: string;
  chosenCloudName: string;
  /** ISO 8601. */
  decidedAt: string;
  candidates: PlacementCandidate[];
}

/** The explanation of a choice; null when no cloud is eligible. */
export function placementOf(assessments: readonly CloudAssessment<CandidateCloud>[], decidedAt: Date): Placement | null {
  const best = assessments.find((a) => a.rank === 1);
  if (!best) return null;
  return {
    chosenCloudId: best.cloud.id,
    chosenCloudName: best.cloud.name,
    decidedAt: decidedAt.toISOString(),
    candidates: assessments.map((a) => ({
      cloudId: a.cloud.id,
      cloudName: a.cloud.name,
      eligible: a.eligible,
      rank: a.rank,
      estimatedSecondsToCapacity: a.estimatedSecondsToCapacity,
      estimate: a.estimate,
      freeInstances: a.freeInstances,
      quotaAgeSeconds: a.quotaAgeSeconds,
      costPerHour: a.costPerHour,
      reasons: a.reasons,
    })),
  };
}
