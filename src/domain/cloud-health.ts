/** How a Keystone probe becomes a cloud's health. Pure: the service measures, this judges. */
import { describeDrift } from './cloud-catalog';
import { CloudHealth } from './enums';

export interface HealthRule {
  /** A Keystone slower than this still works, but clones there will be slow: DEGRADED. */
  degradedAfterMs: number;
}

export interface HealthVerdict {
  health: CloudHealth;
  message: string | null;
  /** The Keystone round trip; null when there was none. */
  latencyMs: number | null;
}

export type ProbeOutcome =
  | { ok: true; latencyMs: number; missingServices: string[]; catalogDrift: string[] }
  /** Unreachable, timed out, failing (5xx) or refusing the credentials: in each case no clone can start there. */
  | { ok: false; reason: string };

export function judgeProbe(outcome: ProbeOutcome, rule: HealthRule): HealthVerdict {
  if (!outcome.ok) return { health: CloudHealth.UNREACHABLE, message: outcome.reason, latencyMs: null };
  const { latencyMs, missingServices, catalogDrift } = outcome;
  // The broker refuses such tokens, so no clone can start there until the owner re-verifies.
  if (catalogDrift.length > 0) return { health: CloudHealth.UNREACHABLE, message: describeDrift(catalogDrift), latencyMs };
  if (missingServices.length > 0) {
    return { health: CloudHealth.DEGRADED, message: `the catalog has no public ${missingServices.join(', ')} endpoint in the cloud's region`, latencyMs };
  }
  if (latencyMs > rule.degradedAfterMs) {
    return { health: CloudHealth.DEGRADED, message: `Keystone answered in ${latencyMs} ms (slower than ${rule.degradedAfterMs} ms)`, latencyMs };
  }
  return { health: CloudHealth.HEALTHY, message: null, latencyMs };
}
