/**
 * Which flavor and networks a clone boots with in a target cloud: the same rule for the BOOT
 * step and for the matchmaker (so a cloud the matchmaker calls eligible can boot the clone).
 * A guest (a tenant booting into another tenant's shared cloud) uses only what the owner offers
 * guests: the owner's defaults, or a VM type hint that the owner put on the cloud's guest
 * allow-list; never a flavor or network the guest names on its own.
 */

export interface NamedResource {
  id: string;
  name: string;
}

export interface BootTarget {
  /** The cloud's name, for messages. */
  cloudName: string;
  /** The clone's tenant does not own the cloud. */
  guest: boolean;
  defaults: { flavor: string | null; network: string | null };
  /** Flavors and networks (names or ids) the owner lets guests ask for by VM type hint. */
  guestFlavors: readonly string[];
  guestNetworks: readonly string[];
}

/** The boot rule's view of a cloud, for a clone of `tenantId`. */
export function bootTargetOf(
  cloud: { name: string; tenantId: string; defaults: { flavor: string | null; network: string | null }; guestFlavors: readonly string[]; guestNetworks: readonly string[] },
  tenantId: string,
): BootTarget {
  return {
    cloudName: cloud.name,
    guest: cloud.tenantId !== tenantId,
    defaults: { flavor: cloud.defaults.flavor ?? null, network: cloud.defaults.network ?? null },
    guestFlavors: cloud.guestFlavors ?? [],
    guestNetworks: cloud.guestNetworks ?? [],
  };
}

export type Choice<T> = { ok: true; value: T } | { ok: false; reason: string };

const matches = (r: NamedResource, wanted: string) => r.id === wanted || r.name === wanted;

/** The VM type's hint if this tenant may use it here, then the cloud's default. */
function wantedOf(hint: string | null, fallback: string | null, guest: boolean, allowed: readonly string[]): string[] {
  const usableHint = hint && (!guest || allowed.includes(hint)) ? hint : null;
  return [usableHint, fallback].filter((x): x is string => !!x);
}

/**
 * VM type hint (if the tenant may use it), then the cloud's default, then, within one cloud, the
 * source server's own flavor.
 */
export function chooseFlavor(flavors: readonly NamedResource[], hint: string | null, target: BootTarget, sourceFlavorId: string | null = null): Choice<NamedResource> {
  const wanted = wantedOf(hint, target.defaults.flavor, target.guest, target.guestFlavors);
  for (const w of wanted) {
    const found = flavors.find((f) => matches(f, w));
    if (found) return { ok: true, value: found };
  }
  const source = sourceFlavorId ? flavors.find((f) => f.id === sourceFlavorId) : undefined;
  if (source) return { ok: true, value: source };
  if (wanted.length > 0) return { ok: false, reason: `cloud ${target.cloudName} has no flavor ${wanted.join(' or ')}` };
  return {
    ok: false,
    reason: target.guest
      ? `no flavor for cloud ${target.cloudName}: its owner sets none for guests (defaults.flavor)`
      : `no flavor for cloud ${target.cloudName}: set the VM type's flavorHint or the cloud's defaults.flavor`,
  };
}

/**
 * VM type hint (if the tenant may use it), then the cloud's default; `none` and `auto` pass
 * through (Nova 2.37+); with neither, the cloud's first internal network, or none. A guest
 * gets no network the owner did not name for it.
 */
export function chooseNetworks(networks: readonly (NamedResource & { external: boolean })[], hint: string | null, target: BootTarget): Choice<string[] | 'none' | 'auto'> {
  const [wanted] = wantedOf(hint, target.defaults.network, target.guest, target.guestNetworks);
  if (wanted === 'none' || wanted === 'auto') return { ok: true, value: wanted };
  if (wanted) {
    const found = networks.find((n) => matches(n, wanted));
    return found ? { ok: true, value: [found.id] } : { ok: false, reason: `cloud ${target.cloudName} has no network ${wanted}` };
  }
  if (target.guest) return { ok: false, reason: `no network for cloud ${target.cloudName}: its owner sets none for guests (defaults.network)` };
  const internal = networks.find((n) => !n.external);
  return { ok: true, value: internal ? [internal.id] : 'none' };
}
