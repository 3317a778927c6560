/**
 * `intercloud apply`: the file says what VM types (with their bindings and thresholds) and
 * policies should exist; the plan compares that with what the broker has and lists creates,
 * updates and what is already so. VM types are replaced as a whole (updateVmType): a field left
 * out of the file goes back to its default. Thresholds are only managed for a VM type whose
 * entry has `thresholds:`; policies are matched by name.
 */
import type { PolicyFieldsFragment, PolicyInput, ThresholdInput, VmTypeFieldsFragment, VmTypeInput } from '../sdk';
import { usage } from './errors';
import { isObject, labelList } from './files';

export interface DesiredPolicy {
  name: string;
  vmTypeName: string | null;
  /** Cloud names or ids, resolved when applying. */
  allowClouds: string[];
  denyClouds: string[];
  requiredLabels: { key: string; value: string }[];
  homeCloudOnly: boolean;
  maxCostPerHour: number | null;
  minBandwidthMbps: number | null;
}

export interface DesiredVmType {
  input: VmTypeInput;
  thresholds: ThresholdInput[] | null;
}

export interface Desired {
  vmTypes: DesiredVmType[];
  policies: DesiredPolicy[];
}

export type ChangeAction = 'create' | 'update' | 'unchanged' | 'conflict';

export interface Change {
  kind: 'vmType' | 'thresholds' | 'policy';
  name: string;
  action: ChangeAction;
  /** What differs, one entry per field: "maxInstances: 4 -> 5". */
  diff: string[];
}

const POLICY_KEYS = ['name', 'allowClouds', 'denyClouds', 'requiredLabels', 'homeCloudOnly', 'maxCostPerHour', 'minBandwidthMbps'];

function only(obj: Record<string, unknown>, keys: string[], where: string): void {
  const unknown = Object.keys(obj).filter((k) => !keys.includes(k));
  if (unknown.length > 0) throw usage(`${where}: unknown field ${unknown.join(', ')} (known: ${keys.join(', ')})`);
}

function policyOf(p: unknown, vmTypeName: string | null, where: string): DesiredPolicy {
  if (!isObject(p) || typeof p.name !== 'string') throw usage(`${where} must be a map with at least a name`);
  only(p, POLICY_KEYS, where);
  const names = (v: unknown, key: string) => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw usage(`${where}.${key} must be a list of cloud names or ids`);
    return v.map(String);
  };
  return {
    name: p.name,
    vmTypeName,
    allowClouds: names(p.allowClouds, 'allowClouds'),
    denyClouds: names(p.denyClouds, 'denyClouds'),
    requiredLabels: labelList(p.requiredLabels, `${where}.requiredLabels`) ?? [],
    homeCloudOnly: p.homeCloudOnly === true,
    maxCostPerHour: typeof p.maxCostPerHour === 'number' ? p.maxCostPerHour : null,
    minBandwidthMbps: typeof p.minBandwidthMbps === 'number' ? p.minBandwidthMbps : null,
  };
}

/** The documents of an apply file: `vmTypes:` and `policies:` (tenant-wide) lists. */
export function parseDesired(docs: unknown[], file: string): Desired {
  const desired: Desired = { vmTypes: [], policies: [] };
  docs.forEach((doc, d) => {
    const where = `${file}${docs.length > 1 ? ` (document ${d + 1})` : ''}`;
    if (!isObject(doc)) throw usage(`${where} must be a map with vmTypes: and/or policies:`);
    only(doc, ['vmTypes', 'policies'], where);
    for (const [i, raw] of ((doc.vmTypes as unknown[] | undefined) ?? []).entries()) {
      const w = `${where}: vmTypes[${i}]`;
      if (!isObject(raw) || typeof raw.name !== 'string') throw usage(`${w} must be a map with at least name, minInstances, maxInstances`);
      // Everything but thresholds and policies is VmTypeInput; the broker names a field it does not know.
      const { thresholds, policies, ...input } = raw;
      if (thresholds !== undefined && !Array.isArray(thresholds)) throw usage(`${w}.thresholds must be a list`);
      desired.vmTypes.push({ input: input as unknown as VmTypeInput, thresholds: (thresholds as ThresholdInput[] | undefined) ?? null });
      for (const [j, p] of ((policies as unknown[] | undefined) ?? []).entries()) desired.policies.push(policyOf(p, raw.name, `${w}.policies[${j}]`));
    }
    for (const [i, p] of ((doc.policies as unknown[] | undefined) ?? []).entries()) desired.policies.push(policyOf(p, null, `${where}: policies[${i}]`));
  });
  const dup = (names: string[]) => names.find((n, i) => names.indexOf(n) !== i);
  const t = dup(desired.vmTypes.map((v) => v.input.name));
  if (t) throw usage(`${file}: VM type "${t}" appears twice`);
  const p = dup(desired.policies.map((v) => v.name));
  if (p) throw usage(`${file}: policy "${p}" appears twice`);
  return desired;
}

/** A VM type input with the broker's defaults filled in, in the shape the broker returns it. */
export function normalVmType(v: VmTypeInput | VmTypeFieldsFragment): Record<string, unknown> {
  const recipe = v.configureRecipe;
  const mon = v.monitoring;
  const lb = v.loadBalancer;
  return {
    name: v.name,
    minInstances: v.minInstances,
    maxInstances: v.maxInstances,
    scaleUpCooldownSeconds: v.scaleUpCooldownSeconds ?? 300,
    scaleDownCooldownSeconds: v.scaleDownCooldownSeconds ?? 600,
    flavorHint: v.flavorHint ?? null,
    networkHint: v.networkHint ?? null,
    configureRecipe: recipe
      ? {
          sshKeyId: recipe.sshKeyId,
          sshPort: recipe.sshPort ?? 22,
          sudo: recipe.sudo ?? null,
          files: (recipe.files ?? []).map((f) => ({ path: f.path, template: f.template, mode: f.mode ?? 0o644 })),
          commands: recipe.commands ?? [],
          readiness: recipe.readiness
            ? { command: recipe.readiness.command ?? null, tcpPort: recipe.readiness.tcpPort ?? null, udpPort: recipe.readiness.udpPort ?? null, timeoutSeconds: recipe.readiness.timeoutSeconds ?? 120 }
            : null,
        }
      : null,
    monitoring: mon
      ? { serverId: mon.serverId, hostName: mon.hostName ?? '{{vmName}}', hostTemplate: mon.hostTemplate, metrics: (mon.metrics ?? []).map((m) => ({ service: m.service, metric: m.metric })) }
      : null,
    loadBalancer: lb
      ? {
          loadBalancerId: lb.loadBalancerId,
          setId: lb.setId,
          uriTemplate: lb.uriTemplate ?? 'sip:{{fixedIp}}:5060',
          attrs: lb.attrs ?? '',
          drainMetric: lb.drainMetric ?? null,
          drainTimeoutSeconds: lb.drainTimeoutSeconds ?? 300,
          drainAction: lb.drainAction ?? 'FORCE_REMOVE',
        }
      : null,
  };
}

export function normalThresholds(list: readonly ThresholdInput[]): Record<string, unknown>[] {
  return list
    .map((t) => ({
      metric: t.metric,
      active: t.active,
      warningHoldSeconds: t.warningHoldSeconds,
      criticalHoldSeconds: t.criticalHoldSeconds,
      role: t.role,
      prepareOnWarning: t.prepareOnWarning ?? false,
    }))
    .sort((a, b) => a.metric.localeCompare(b.metric));
}

const show = (v: unknown) => (v === null || v === undefined ? 'none' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** "field: old -> new" for each top-level field that differs. */
export function diffFields(current: Record<string, unknown>, wanted: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(current), ...Object.keys(wanted)])];
  return keys.filter((k) => JSON.stringify(current[k]) !== JSON.stringify(wanted[k])).map((k) => `${k}: ${show(current[k])} -> ${show(wanted[k])}`);
}

export function diffThresholds(current: readonly ThresholdInput[], wanted: readonly ThresholdInput[]): string[] {
  const a = new Map(normalThresholds(current).map((t) => [t.metric as string, t]));
  const b = new Map(normalThresholds(wanted).map((t) => [t.metric as string, t]));
  const out: string[] = [];
  for (const [m, t] of b) {
    const old = a.get(m);
    if (!old) out.push(`+ ${m} (${t.role}, WARNING ${t.warningHoldSeconds}s, CRITICAL ${t.criticalHoldSeconds}s${t.active ? '' : ', inactive'})`);
    else for (const d of diffFields(old, t)) out.push(`~ ${m}: ${d}`);
  }
  for (const m of a.keys()) if (!b.has(m)) out.push(`- ${m}`);
  return out;
}

/** A policy with cloud ids in the shape the broker returns, for comparison. */
export function normalPolicy(p: Omit<PolicyInput, 'vmTypeId'> & { vmTypeId?: string | null } | PolicyFieldsFragment): Record<string, unknown> {
  return {
    vmTypeId: p.vmTypeId ?? null,
    allowCloudIds: [...(p.allowCloudIds ?? [])].sort(),
    denyCloudIds: [...(p.denyCloudIds ?? [])].sort(),
    requiredLabels: [...(p.requiredLabels ?? [])].map((l) => ({ key: l.key, value: l.value })).sort((x, y) => x.key.localeCompare(y.key)),
    homeCloudOnly: p.homeCloudOnly ?? false,
    maxCostPerHour: p.maxCostPerHour ?? null,
    minBandwidthMbps: p.minBandwidthMbps ?? null,
  };
}
