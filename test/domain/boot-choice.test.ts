/** The boot rule shared by the BOOT step and the matchmaker: hints, defaults, guests' allow-lists. */
import { BootTarget, chooseFlavor, chooseNetworks } from '../../src/domain/boot-choice';

const flavors = [
  { id: '1', name: 'm1.tiny' },
  { id: '2', name: 'm1.small' },
  { id: '9', name: 'sip.large' },
];
const networks = [
  { id: 'n-pub', name: 'public', external: true },
  { id: 'n-priv', name: 'private', external: false },
  { id: 'n-sip', name: 'sip-net', external: false },
];
const owner: BootTarget = { cloudName: 'home', guest: false, defaults: { flavor: 'm1.small', network: 'private' }, guestFlavors: [], guestNetworks: [] };
const guest: BootTarget = { ...owner, cloudName: 'partner', guest: true };

describe('chooseFlavor', () => {
  it("the owner's VM type hint wins over the cloud's default, by name or id", () => {
    expect(chooseFlavor(flavors, 'sip.large', owner)).toEqual({ ok: true, value: flavors[2] });
    expect(chooseFlavor(flavors, '9', owner)).toEqual({ ok: true, value: flavors[2] });
  });

  it("falls back to the cloud's default when the hint is not a flavor of the cloud", () => {
    expect(chooseFlavor(flavors, 'm9.huge', owner)).toEqual({ ok: true, value: flavors[1] });
  });

  it("a guest's hint is ignored unless the owner allow-listed it; the owner's default applies", () => {
    expect(chooseFlavor(flavors, 'sip.large', guest)).toEqual({ ok: true, value: flavors[1] });
    expect(chooseFlavor(flavors, 'sip.large', { ...guest, guestFlavors: ['sip.large'] })).toEqual({ ok: true, value: flavors[2] });
    // Allow-listing by name does not let a guest reach it by id, nor anything else by name.
    expect(chooseFlavor(flavors, '9', { ...guest, guestFlavors: ['sip.large'] })).toEqual({ ok: true, value: flavors[1] });
  });

  it('within one cloud, the source server\'s own flavor is the last resort', () => {
    const bare = { ...owner, defaults: { flavor: null, network: null } };
    expect(chooseFlavor(flavors, null, bare, '2')).toEqual({ ok: true, value: flavors[1] });
  });

  it('says why when nothing fits', () => {
    expect(chooseFlavor(flavors, 'm9.huge', { ...owner, defaults: { flavor: 'm8.huge', network: null } })).toEqual({ ok: false, reason: 'cloud home has no flavor m9.huge or m8.huge' });
    expect(chooseFlavor(flavors, null, { ...owner, defaults: { flavor: null, network: null } })).toEqual({
      ok: false,
      reason: "no flavor for cloud home: set the VM type's flavorHint or the cloud's defaults.flavor",
    });
    expect(chooseFlavor(flavors, 'sip.large', { ...guest, defaults: { flavor: null, network: null } })).toEqual({
      ok: false,
      reason: 'no flavor for cloud partner: its owner sets none for guests (defaults.flavor)',
    });
  });
});

describe('chooseNetworks', () => {
  it('hint, default, then the first internal network', () => {
    expect(chooseNetworks(networks, 'sip-net', owner)).toEqual({ ok: true, value: ['n-sip'] });
    expect(chooseNetworks(networks, null, owner)).toEqual({ ok: true, value: ['n-priv'] });
    expect(chooseNetworks(networks, null, { ...owner, defaults: { flavor: null, network: null } })).toEqual({ ok: true, value: ['n-priv'] });
    expect(chooseNetworks([networks[0]], null, { ...owner, defaults: { flavor: null, network: null } })).toEqual({ ok: true, value: 'none' });
  });

  it('passes none and auto through', () => {
    expect(chooseNetworks(networks, 'none', owner)).toEqual({ ok: true, value: 'none' });
    expect(chooseNetworks(networks, 'auto', owner)).toEqual({ ok: true, value: 'auto' });
  });

  it("never attaches a guest to a network the owner did not offer it", () => {
    expect(chooseNetworks(networks, 'sip-net', guest)).toEqual({ ok: true, value: ['n-priv'] });
    expect(chooseNetworks(networks, 'public', guest)).toEqual({ ok: true, value: ['n-priv'] });
    expect(chooseNetworks(networks, 'sip-net', { ...guest, guestNetworks: ['sip-net'] })).toEqual({ ok: true, value: ['n-sip'] });
  });

  it("refuses a guest a network when the owner names none for guests", () => {
    expect(chooseNetworks(networks, 'sip-net', { ...guest, defaults: { flavor: null, network: null } })).toEqual({
      ok: false,
      reason: 'no network for cloud partner: its owner sets none for guests (defaults.network)',
    });
  });

  it('names a network that does not exist', () => {
    expect(chooseNetworks(networks, 'nope', owner)).toEqual({ ok: false, reason: 'cloud home has no network nope' });
  });
});
