/**
 * The services the broker uses from a cloud's catalog, and what counts as a change of it. Pure:
 * the Keystone adapter reads catalogs, this compares them. A catalog is pinned when its cloud is
 * verified; later tokens whose catalog differs for these services are refused, not obeyed.
 */
import { CatalogEndpoint } from './entities/cloud.entity';

/** The services a clone needs; a cloud without them is not registered. */
export const REQUIRED_SERVICES = ['compute', 'image', 'network'] as const;
export type RequiredService = (typeof REQUIRED_SERVICES)[number];

export function missingServices(catalog: readonly CatalogEndpoint[]): RequiredService[] {
  return REQUIRED_SERVICES.filter((t) => !catalog.some((e) => e.type === t));
}

/** Trailing slashes are not a change (Keystone deployments write them either way). */
function urlOf(catalog: readonly CatalogEndpoint[], type: string): string | null {
  return catalog.find((e) => e.type === type)?.url.replace(/\/+$/, '') ?? null;
}

/** The required services whose endpoint in `current` is not the pinned one (added, removed or moved). */
export function catalogDrift(pinned: readonly CatalogEndpoint[], current: readonly CatalogEndpoint[]): RequiredService[] {
  return REQUIRED_SERVICES.filter((t) => urlOf(pinned, t) !== urlOf(current, t));
}

export function describeDrift(drift: readonly string[]): string {
  return `Keystone now lists a different ${drift.join(', ')} endpoint than the one pinned when the cloud was verified; the broker does not follow it until the cloud's owner runs verifyCloud`;
}
