/**
 * The matchmaker's rules: which clouds a clone of a VM may go to (visibility, health, policies,
 * instance quota: hard filters) and in what order (estimated time to capacity, then health, free
 * quota, cost, name), with the reasons in words. Pure: the service gathers the inputs.
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
/** Nova BUILD -> ACTIVE plus the guest's boot until it answers SSH, in the target cloud. */
export const BOOT_SECONDS = 60;
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
  /** Disk formats the cloud's Glance takes (empty or missing: not declared). */
  diskFormats?: readonly string[];
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
  | { kind: 'LIMITED'; maxInstances: number; usedInstances: number }
  | { kind: 'UNLIMITED' }
  | { kind: 'UNKNOWN'; why: string };

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
  /** disk_format of the source server's image; null or missing when not known (no format filter then). */
  sourceDiskFormat?: string | null;
}

export interface CloudAssessment<C extends CandidateCloud> {
  cloud: C;
  eligible: boolean;
  /** 1 = best among the eligible; null for an excluded cloud. */
  rank: number | null;
  /** Snapshot + transfer (none in the home cloud) + boot, in seconds. */
  estimatedSecondsToCapacity: number;
  /** Instances that can still be started; null when unknown or unlimited. */
  freeInstances: number | null;
  costPerHour: number;
  /** Excluded: every filter that excluded it. Eligible: the inputs of its ranking. */
  reasons: string[];
}

interface Assessed<C extends CandidateCloud> extends CloudAssessment<C> {
  quota: InstanceQuota;
}

/** Every candidate, the eligible ones first in rank order, then the excluded ones by name. */
export function matchmake<C extends CandidateCloud>(input: MatchmakingInput<C>): CloudAssessment<C>[] {
  const source = input.candidates.find((c) => c.id === input.sourceCloudId) ?? null;
  const assessed = input.candidates.map((cloud) => assess(cloud, source, input));
  const eligible = assessed.filter((a) => a.eligible).sort(byPreference);
  eligible.forEach((a, i) => (a.rank = i + 1));
  const excluded = assessed.filter((a) => !a.eligible).sort((a, b) => byName(a.cloud, b.cloud));
  return [...eligible, ...excluded].map(({ quota: _quota, ...rest }) => rest);
}

/** One line naming each excluded cloud and why, for "no eligible target cloud" errors. */
export function explainNoTarget(assessments: readonly CloudAssessment<CandidateCloud>[]): string {
  if (assessments.length === 0) return 'no cloud is registered or shared with you';
  return assessments
    .filter((a) => !a.eligible)
    .map((a) => `${a.cloud.name}: ${a.reasons.join(', ')}`)
    .join('; ');
}

function assess<C extends CandidateCloud>(cloud: C, source: CandidateCloud | null, input: MatchmakingInput<C>): Assessed<C> {
  const home = cloud.id === input.sourceCloudId;
  const quota = input.quotas?.get(cloud.id) ?? { kind: 'UNKNOWN', why: 'not asked' };
  const estimate = estimateSeconds(cloud, home, source, input.imageBytes);
  const format = home ? ({ ok: true, note: null } as const) : diskFormatAcceptance(input.sourceDiskFormat ?? null, cloud.diskFormats ?? []);
  const exclusions = [
    ...visibilityExclusions(cloud, input.tenantId),
    ...healthExclusions(cloud),
    ...input.policies.flatMap((p) => policyExclusions(cloud, home, p)),
    ...quotaExclusions(quota),
    ...bootExclusions(input.bootable?.get(cloud.id)),
    ...(format.ok ? [] : [format.reason]),
  ];
  const eligible = exclusions.length === 0;
  return {
    cloud,
    eligible,
    rank: null,
    estimatedSecondsToCapacity: estimate.total,
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
export function diskFormatAcceptance(sourceFormat: string | null, cloudFormats: readonly string[]): { ok: true; note: string | null } | { ok: false; reason: string } {
  const plan = planDiskFormat(sourceFormat, cloudFormats);
  if (plan.kind === 'impossible') return { ok: false, reason: plan.reason };
  return { ok: true, note: plan.kind === 'convert' ? `converted from ${plan.from} to ${plan.to} on the target side` : null };
}

function bootExclusions(boot: { ok: true } | { ok: false; reason: string } | undefined): string[] {
  return boot && !boot.ok ? [`cannot boot the clone: ${boot.reason}`] : [];
}

function quotaExclusions(quota: InstanceQuota): string[] {
  if (quota.kind !== 'LIMITED' || freeOf(quota) > 0) return [];
  return [`no free instance quota (0 of ${quota.maxInstances} free)`];
}

interface Estimate {
  total: number;
  /** null in the home cloud. */
  transfer: { seconds: number; bytes: number; assumed: boolean; linkMbps: number; limitedBySource: string | null } | null;
}

/**
 * Snapshot + bytes over the link + boot; no transfer in the home cloud. The image leaves through
 * the source cloud's link and arrives through the target's, so the slower of the two declared
 * bandwidths is the link (the target's alone when the source cloud is not among the candidates).
 */
function estimateSeconds(cloud: CandidateCloud, home: boolean, source: CandidateCloud | null, imageBytes: number | null): Estimate {
  if (home) return { total: SNAPSHOT_SECONDS + BOOT_SECONDS, transfer: null };
  const bytes = imageBytes ?? ASSUMED_IMAGE_BYTES;
  const sourceIsSlower = source !== null && source.bandwidthMbps < cloud.bandwidthMbps;
  const linkMbps = sourceIsSlower ? source.bandwidthMbps : cloud.bandwidthMbps;
  const limitedBySource = sourceIsSlower ? source.name : null;
  const seconds = (bytes * 8) / (linkMbps * 1e6);
  return { total: SNAPSHOT_SECONDS + seconds + BOOT_SECONDS, transfer: { seconds, bytes, assumed: imageBytes === null, linkMbps, limitedBySource } };
}

function rankingNotes(cloud: CandidateCloud, home: boolean, estimate: Estimate, quota: InstanceQuota, policies: readonly PlacementPolicy[]): string[] {
  const notes: string[] = [];
  const t = estimate.transfer;
  if (t === null) {
    notes.push('home cloud: no transfer');
  } else {
    const link = t.limitedBySource ? `${t.linkMbps} Mbit/s (source cloud ${t.limitedBySource}'s link)` : `${t.linkMbps} Mbit/s`;
    notes.push(`estimated ${formatSeconds(t.seconds)} s transfer of ${formatBytes(t.bytes)}${t.assumed ? ' (assumed)' : " (the source server's image)"} at ${link}`);
    if (t.assumed) notes.push(`image size unknown: assumed ${formatBytes(t.bytes)} (default)`);
  }
  // Snapshot and boot are fixed default estimates (not measured yet); the transfer comes from the image size and the link.
  const parts = [`${SNAPSHOT_SECONDS} s snapshot (default estimate)`, ...(t ? [`${formatSeconds(t.seconds)} s transfer`] : []), `${BOOT_SECONDS} s boot (default estimate)`];
  notes.push(`estimated ${formatSeconds(estimate.total)} s to capacity (${parts.join(' + ')})`);
  if (cloud.health !== CloudHealth.HEALTHY) notes.push(`health ${cloud.health}: ranked after healthier clouds at equal time`);
  if (quota.kind === 'LIMITED') notes.push(`${freeOf(quota)} of ${quota.maxInstances} instances free`);
  else if (quota.kind === 'UNLIMITED') notes.push('instance quota unlimited');
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
    descending(quotaScore(a.quota), quotaScore(b.quota)) ||
    a.cloud.costPerHour - b.cloud.costPerHour ||
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

/** 2 GiB, 1.5 GiB, 16 MiB, 512 bytes. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${oneDecimal(bytes / 1024 ** 3)} GiB`;
  if (bytes >= 1024 ** 2) return `${oneDecimal(bytes / 1024 ** 2)} MiB`;
  return `${bytes} bytes`;
}
