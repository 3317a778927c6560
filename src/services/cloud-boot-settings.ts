/**
 * The names a cloud's owner sets for booting clones there (defaults, guest allow-lists) are
 * checked against the cloud itself when they are set: a flavor that does not exist, an internal
 * network given as the floating network, or a zone nobody can boot in is refused naming the
 * field, rather than failing a clone in BOOT after its snapshot and transfer.
 */
import { BadUserInputError } from '../domain/errors';
import { CloudApi } from '../ports/cloud-api.port';

export interface BootSettings {
  defaults: { network: string | null; floatingNetwork: string | null; flavor: string | null; availabilityZone: string | null };
  guestFlavors: readonly string[];
  guestNetworks: readonly string[];
}

const LISTED = 12;
const listOf = (names: string[]) => (names.length > LISTED ? `${names.slice(0, LISTED).join(', ')}, ...` : names.join(', ') || 'none');

/** Throws BadUserInputError on the first setting the cloud does not have; `field` is the input's path (`input`). */
export async function checkBootSettings(api: CloudApi, s: BootSettings, cloudName: string, field = 'input'): Promise<void> {
  const { defaults } = s;
  const wantsFlavors = defaults.flavor !== null || s.guestFlavors.length > 0;
  const wantsNetworks = [defaults.network, defaults.floatingNetwork].some((n) => n !== null && n !== 'none' && n !== 'auto') || s.guestNetworks.length > 0;
  const [flavors, networks, zones] = await Promise.all([
    wantsFlavors ? api.listFlavors() : Promise.resolve([]),
    wantsNetworks ? api.listNetworks() : Promise.resolve([]),
    defaults.availabilityZone !== null ? api.listAvailabilityZones() : Promise.resolve([]),
  ]);
  const flavorNames = flavors.map((f) => f.name);
  const hasFlavor = (w: string) => flavors.some((f) => f.id === w || f.name === w);
  const network = (w: string) => networks.find((n) => n.id === w || n.name === w);
  const internal = networks.filter((n) => !n.external).map((n) => n.name);
  const external = networks.filter((n) => n.external).map((n) => n.name);

  if (defaults.flavor !== null && !hasFlavor(defaults.flavor)) {
    throw new BadUserInputError(`${field}.defaults.flavor`, `must name a flavor of cloud ${cloudName} (it has ${listOf(flavorNames)})`);
  }
  if (defaults.network !== null && defaults.network !== 'none' && defaults.network !== 'auto') {
    const n = network(defaults.network);
    if (!n || n.external) throw new BadUserInputError(`${field}.defaults.network`, `must name a network of cloud ${cloudName} that servers attach to, or none or auto (it has ${listOf(internal)})`);
  }
  if (defaults.floatingNetwork !== null && !network(defaults.floatingNetwork)?.external) {
    throw new BadUserInputError(`${field}.defaults.floatingNetwork`, `must name an external network of cloud ${cloudName} to take floating IPs from (it has ${listOf(external)})`);
  }
  if (defaults.availabilityZone !== null && !zones.includes(defaults.availabilityZone)) {
    throw new BadUserInputError(`${field}.defaults.availabilityZone`, `must name an availability zone of cloud ${cloudName} (it has ${listOf(zones)})`);
  }
  s.guestFlavors.forEach((w, i) => {
    if (!hasFlavor(w)) throw new BadUserInputError(`${field}.guestFlavors.${i}`, `must name a flavor of cloud ${cloudName} (it has ${listOf(flavorNames)})`);
  });
  s.guestNetworks.forEach((w, i) => {
    if (w === 'none' || w === 'auto') return;
    const n = network(w);
    if (!n || n.external) throw new BadUserInputError(`${field}.guestNetworks.${i}`, `must name a network of cloud ${cloudName} that servers attach to (it has ${listOf(internal)})`);
  });
}
