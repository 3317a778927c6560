/** The matchmaker's pure rules: every filter, the time estimate and the ranking order. */
import { CloudHealth } from '../../src/domain/enums';
import {
  ASSUMED_IMAGE_BYTES,
  BOOT_SECONDS,
  CandidateCloud,
  explainNoTarget,
  formatCost,
  formatSeconds,
  InstanceQuota,
  matchmake,
  MatchmakingInput,
  PlacementPolicy,
  SNAPSHOT_SECONDS,
} from '../../src/domain/matchmaking';

const TENANT = 'tenant-a';
const GiB = 1024 ** 3;

function cloud(name: string, over: Partial<CandidateCloud> = {}): CandidateCloud {
  return { id: `id-${name}`, name, tenantId: TENANT, shared: false, health: CloudHealth.HEALTHY, labels: [], bandwidthMbps: 1000, costPerHour: 0.1, diskFormats: ['qcow2', 'raw'], ...over };
}

function policy(name: string, over: Partial<PlacementPolicy> = {}): PlacementPolicy {
  return { name, allowCloudIds: [], denyCloudIds: [], requiredLabels: [], homeCloudOnly: false, maxCostPerHour: null, minBandwidthMbps: null, ...over };
}

const limited = (maxInstances: number, usedInstances: number): InstanceQuota => ({ kind: 'LIMITED', maxInstances, usedInstances });

/** What the estimate should be, written out from the documented formula. */
const transferSeconds = (bytes: number, mbps: number) => (bytes * 8) / (mbps * 1e6);
const remoteEstimate = (bytes: number, mbps: number) => SNAPSHOT_SECONDS + transferSeconds(bytes, mbps) + BOOT_SECONDS;
const homeEstimate = SNAPSHOT_SECONDS + BOOT_SECONDS;

const home = cloud('home', { bandwidthMbps: 10_000 });

function run(candidates: CandidateCloud[], over: Partial<MatchmakingInput<CandidateCloud>> = {}) {
  const result = matchmake({ tenantId: TENANT, sourceCloudId: home.id, candidates, policies: [], imageBytes: 2 * GiB, ...over });
  const byName = (name: string) => {
    const found = result.find((r) => r.cloud.name === name);
    if (!found) throw new Error(`no result for ${name}`);
    return found;
  };
  return { result, byName, order: result.filter((r) => r.eligible).map((r) => r.cloud.name) };
}

describe('matchmaking: estimate', () => {
  it('adds snapshot, bytes over the link and boot for another cloud, and no transfer in the home cloud', () => {
    const bytes = 3 * GiB;
    const { byName } = run([home, cloud('remote', { bandwidthMbps: 1000 })], { imageBytes: bytes });
    expect(byName('home').estimatedSecondsToCapacity).toBe(homeEstimate);
    expect(byName('home').reasons).toContain('home cloud: no transfer');
    expect(byName('remote').estimatedSecondsToCapacity).toBeCloseTo(remoteEstimate(bytes, 1000), 6);
    expect(byName('remote').reasons).toContain(`estimated ${formatSeconds(transferSeconds(bytes, 1000))} s transfer of 3 GiB (the source server's image) at 1000 Mbit/s`);
    expect(byName('remote').reasons).toContain(
      `estimated ${formatSeconds(remoteEstimate(bytes, 1000))} s to capacity (${SNAPSHOT_SECONDS} s snapshot (default estimate) + ${formatSeconds(transferSeconds(bytes, 1000))} s transfer (declared link) + ${BOOT_SECONDS} s boot (default estimate))`,
    );
  });

  it('assumes a size when the image size is unknown, and says so', () => {
    const { byName } = run([home, cloud('remote')], { imageBytes: null });
    expect(byName('remote').estimatedSecondsToCapacity).toBeCloseTo(remoteEstimate(ASSUMED_IMAGE_BYTES, 1000), 6);
    expect(byName('remote').reasons).toContain(`image size unknown: assumed ${ASSUMED_IMAGE_BYTES / GiB} GiB (default)`);
    const known = run([home, cloud('remote')], { imageBytes: GiB }).byName('remote');
    expect(known.reasons.some((r) => r.startsWith('image size unknown'))).toBe(false);
  });

  it('uses the slower of the source and target links, and names the source when it is the bottleneck', () => {
    const slowHome = cloud('home', { bandwidthMbps: 100 });
    const { byName } = run([slowHome, cloud('fast', { bandwidthMbps: 10_000 })]);
    expect(byName('fast').estimatedSecondsToCapacity).toBeCloseTo(remoteEstimate(2 * GiB, 100), 6);
    expect(byName('fast').reasons).toContain(`estimated ${formatSeconds(transferSeconds(2 * GiB, 100))} s transfer of 2 GiB (the source server's image) at 100 Mbit/s (source cloud home's link)`);
  });
});

describe('matchmaking: filters', () => {
  it('excludes an UNREACHABLE cloud and allows DEGRADED and UNKNOWN ones, saying how they rank', () => {
    const { byName } = run([
      home,
      cloud('down', { health: CloudHealth.UNREACHABLE }),
      cloud('shaky', { health: CloudHealth.DEGRADED }),
      cloud('new', { health: CloudHealth.UNKNOWN }),
    ]);
    expect(byName('down')).toMatchObject({ eligible: false, rank: null, reasons: ['health UNREACHABLE'] });
    expect(byName('shaky')).toMatchObject({ eligible: true });
    expect(byName('shaky').reasons).toContain('health DEGRADED: ranked after healthier clouds at equal time');
    expect(byName('new').reasons).toContain('health UNKNOWN: ranked after healthier clouds at equal time');
  });

  it('keeps only the allow list of a policy that has one, and drops denied clouds', () => {
    const a = cloud('a');
    const b = cloud('b');
    const c = cloud('c');
    const { byName } = run([home, a, b, c], {
      policies: [policy('only-ab', { allowCloudIds: [home.id, a.id, b.id] }), policy('not-b', { denyCloudIds: [b.id] })],
    });
    expect(byName('a').eligible).toBe(true);
    expect(byName('b').reasons).toEqual(['denied by policy "not-b"']);
    expect(byName('c').reasons).toEqual(['not in the allow list of policy "only-ab"']);
    expect(byName('home').eligible).toBe(true);
  });

  it('requires every label of a policy, key and value, and names each one missing', () => {
    const de = cloud('de', { labels: [{ key: 'jurisdiction', value: 'DE' }, { key: 'cert', value: 'c5' }] });
    const fr = cloud('fr', { labels: [{ key: 'jurisdiction', value: 'FR' }] });
    const none = cloud('none');
    const eu = policy('eu-only', { requiredLabels: [{ key: 'jurisdiction', value: 'DE' }, { key: 'cert', value: 'c5' }] });
    const { byName } = run([home, de, fr, none], { policies: [eu] });
    expect(byName('de').eligible).toBe(true);
    expect(byName('fr').reasons).toEqual(['lacks label jurisdiction=DE required by policy "eu-only"', 'lacks label cert=c5 required by policy "eu-only"']);
    expect(byName('none').reasons).toEqual(byName('fr').reasons);
    expect(byName('home').reasons).toEqual(byName('fr').reasons);
  });

  it('keeps VMs in their home cloud under a homeCloudOnly policy', () => {
    const { byName, order } = run([home, cloud('away')], { policies: [policy('stay', { homeCloudOnly: true })] });
    expect(order).toEqual(['home']);
    expect(byName('away').reasons).toEqual(['policy "stay" keeps VMs in their home cloud']);
  });

  it('excludes clouds above a maximum cost, the home cloud included', () => {
    const pricey = cloud('pricey', { costPerHour: 0.3 });
    const exact = cloud('exact', { costPerHour: 0.2 });
    const dearHome = cloud('home', { costPerHour: 0.25 });
    const { byName } = run([dearHome, pricey, exact], { policies: [policy('cheap', { maxCostPerHour: 0.2 })] });
    expect(byName('pricey').reasons).toEqual(['cost 0.30/h above 0.20/h allowed by policy "cheap"']);
    expect(byName('home').reasons).toEqual(['cost 0.25/h above 0.20/h allowed by policy "cheap"']);
    expect(byName('exact').eligible).toBe(true);
  });

  it('excludes clouds below a minimum bandwidth, but not the home cloud, which moves no image', () => {
    const slowHome = cloud('home', { bandwidthMbps: 100 });
    const slow = cloud('slow', { bandwidthMbps: 100 });
    const fast = cloud('fast', { bandwidthMbps: 1000 });
    const { byName } = run([slowHome, slow, fast], { policies: [policy('fast-link', { minBandwidthMbps: 1000 })] });
    expect(byName('slow').reasons).toEqual(['bandwidth 100 Mbit/s below 1000 Mbit/s required by policy "fast-link"']);
    expect(byName('fast').eligible).toBe(true);
    expect(byName('home').eligible).toBe(true);
    expect(byName('home').reasons).toContain('home cloud: no transfer, so the 1000 Mbit/s minimum of policy "fast-link" does not apply');
  });

  it('excludes a cloud with no free instance quota and reports the free instances of the others', () => {
    const full = cloud('full');
    const roomy = cloud('roomy');
    const over = cloud('over');
    const quotas = new Map([
      [full.id, limited(10, 10)],
      [roomy.id, limited(10, 3)],
      [over.id, limited(2, 5)],
    ]);
    const { byName } = run([home, full, roomy, over], { quotas });
    expect(byName('full')).toMatchObject({ eligible: false, freeInstances: 0, reasons: ['no free instance quota (0 of 10 free)'] });
    expect(byName('over')).toMatchObject({ eligible: false, freeInstances: 0, reasons: ['no free instance quota (0 of 2 free)'] });
    expect(byName('roomy')).toMatchObject({ eligible: true, freeInstances: 10 - 3 });
    expect(byName('roomy').reasons).toContain(`${10 - 3} of 10 instances free`);
  });

  it('allows a cloud whose quota is unknown or unlimited, with freeInstances null and the reason', () => {
    const quiet = cloud('quiet');
    const endless = cloud('endless');
    const { byName } = run([home, quiet, endless], { quotas: new Map([[quiet.id, { kind: 'UNKNOWN', why: 'limits not received within 3000 ms' }], [endless.id, { kind: 'UNLIMITED' }]]) });
    expect(byName('quiet')).toMatchObject({ eligible: true, freeInstances: null });
    expect(byName('quiet').reasons).toContain('instance quota unknown: limits not received within 3000 ms');
    expect(byName('endless')).toMatchObject({ eligible: true, freeInstances: null });
    expect(byName('endless').reasons).toContain('instance quota unlimited');
    expect(byName('home').reasons).toContain('instance quota unknown: not asked');
  });

  it('excludes another tenant\'s cloud unless it is shared', () => {
    const partner = cloud('partner', { tenantId: 'tenant-b', shared: true });
    const hidden = cloud('hidden', { tenantId: 'tenant-b', shared: false });
    const { byName } = run([home, partner, hidden]);
    expect(byName('partner').eligible).toBe(true);
    expect(byName('hidden').reasons).toEqual(['belongs to another tenant and is not shared']);
  });

  it('applies every policy (AND) and lists every filter that excluded a cloud', () => {
    const bad = cloud('bad', { costPerHour: 0.5, bandwidthMbps: 10, health: CloudHealth.UNREACHABLE });
    const { byName } = run([home, bad], {
      policies: [
        policy('tenant-wide', { denyCloudIds: [bad.id], requiredLabels: [{ key: 'cert', value: 'c5' }] }),
        policy('vm-type', { maxCostPerHour: 0.2, minBandwidthMbps: 100, homeCloudOnly: true }),
      ],
    });
    expect(byName('bad').reasons).toEqual([
      'health UNREACHABLE',
      'denied by policy "tenant-wide"',
      'lacks label cert=c5 required by policy "tenant-wide"',
      'policy "vm-type" keeps VMs in their home cloud',
      'cost 0.50/h above 0.20/h allowed by policy "vm-type"',
      'bandwidth 10 Mbit/s below 100 Mbit/s required by policy "vm-type"',
    ]);
  });
});

describe('matchmaking: ranking', () => {
  it('ranks by estimated time first: the home cloud, then faster links', () => {
    const { result, order } = run([cloud('slow', { bandwidthMbps: 100 }), cloud('fast', { bandwidthMbps: 10_000 }), cloud('mid', { bandwidthMbps: 1000 }), home]);
    const expected = [
      ['home', homeEstimate],
      ['fast', remoteEstimate(2 * GiB, 10_000)],
      ['mid', remoteEstimate(2 * GiB, 1000)],
      ['slow', remoteEstimate(2 * GiB, 100)],
    ] as const;
    // The expected order is the order of the expected estimates.
    expect([...expected].sort((a, b) => a[1] - b[1]).map(([name]) => name)).toEqual(expected.map(([name]) => name));
    expect(order).toEqual(expected.map(([name]) => name));
    expect(result.map((r) => r.rank)).toEqual([1, 2, 3, 4]);
  });

  it('at equal time ranks HEALTHY before UNKNOWN before DEGRADED', () => {
    const { order } = run([home, cloud('d', { health: CloudHealth.DEGRADED }), cloud('u', { health: CloudHealth.UNKNOWN }), cloud('h', { health: CloudHealth.HEALTHY })]);
    expect(order).toEqual(['home', 'h', 'u', 'd']);
  });

  it('a DEGRADED cloud that is faster still ranks before a slower healthy one', () => {
    const { order } = run([home, cloud('slow-ok', { bandwidthMbps: 100 }), cloud('fast-degraded', { bandwidthMbps: 1000, health: CloudHealth.DEGRADED })]);
    expect(order).toEqual(['home', 'fast-degraded', 'slow-ok']);
  });

  it('at equal time and health ranks by free quota: unlimited, then more free, then unknown', () => {
    const [few, many, endless, quiet] = ['few', 'many', 'endless', 'quiet'].map((n) => cloud(n));
    const quotas = new Map<string, InstanceQuota>([
      [few.id, limited(10, 9)],
      [many.id, limited(10, 2)],
      [endless.id, { kind: 'UNLIMITED' }],
      [quiet.id, { kind: 'UNKNOWN', why: 'timeout' }],
    ]);
    const { order } = run([home, few, many, endless, quiet], { quotas });
    expect(order).toEqual(['home', 'endless', 'many', 'few', 'quiet']);
  });

  it('then by lower cost, then by name', () => {
    const { order } = run([home, cloud('b-cheap', { costPerHour: 0.05 }), cloud('z-dear', { costPerHour: 0.5 }), cloud('a-mid', { costPerHour: 0.1 }), cloud('c-mid', { costPerHour: 0.1 })]);
    expect(order).toEqual(['home', 'b-cheap', 'a-mid', 'c-mid', 'z-dear']);
  });

  it('treats estimates in the same whole second as equal, so cost decides between nearly equal links', () => {
    const a = cloud('a', { bandwidthMbps: 1000, costPerHour: 0.2 });
    const b = cloud('b', { bandwidthMbps: 999, costPerHour: 0.1 });
    const { byName, order } = run([home, a, b]);
    expect(Math.round(byName('a').estimatedSecondsToCapacity)).toBe(Math.round(byName('b').estimatedSecondsToCapacity));
    expect(byName('a').estimatedSecondsToCapacity).toBeLessThan(byName('b').estimatedSecondsToCapacity);
    expect(order).toEqual(['home', 'b', 'a']);
  });

  it('lists excluded clouds after the ranked ones, by name, with rank null', () => {
    const { result } = run([cloud('z-down', { health: CloudHealth.UNREACHABLE }), cloud('b'), cloud('a-down', { health: CloudHealth.UNREACHABLE }), home]);
    expect(result.map((r) => [r.cloud.name, r.rank])).toEqual([
      ['home', 1],
      ['b', 2],
      ['a-down', null],
      ['z-down', null],
    ]);
  });

  it('gives the eligible ones ranking inputs as reasons: transfer, health, quota and cost', () => {
    const remote = cloud('remote', { costPerHour: 0.125, health: CloudHealth.DEGRADED });
    const { byName } = run([home, remote], { quotas: new Map([[remote.id, limited(4, 1)]]) });
    expect(byName('remote').reasons).toEqual([
      `estimated ${formatSeconds(transferSeconds(2 * GiB, 1000))} s transfer of 2 GiB (the source server's image) at 1000 Mbit/s`,
      `estimated ${formatSeconds(remoteEstimate(2 * GiB, 1000))} s to capacity (${SNAPSHOT_SECONDS} s snapshot (default estimate) + ${formatSeconds(transferSeconds(2 * GiB, 1000))} s transfer (declared link) + ${BOOT_SECONDS} s boot (default estimate))`,
      'health DEGRADED: ranked after healthier clouds at equal time',
      '3 of 4 instances free',
      'cost 0.125/h',
    ]);
  });
});

describe('matchmaking: bootability', () => {
  it('excludes a cloud the clone could not boot in, with the boot rule\'s reason, and keeps unchecked ones', () => {
    const noFlavor = cloud('no-flavor');
    const unchecked = cloud('unchecked');
    const { byName, order } = run([home, noFlavor, unchecked], {
      bootable: new Map([
        [noFlavor.id, { ok: false as const, reason: 'cloud no-flavor has no flavor m9.huge' }],
        [home.id, { ok: true as const }],
      ]),
    });
    expect(byName('no-flavor')).toMatchObject({ eligible: false, rank: null, reasons: ['cannot boot the clone: cloud no-flavor has no flavor m9.huge'] });
    expect(order).toEqual(['home', 'unchecked']);
  });
});

describe('matchmaking: explaining that no cloud is eligible', () => {
  it('names each cloud with its reasons', () => {
    const result = matchmake({
      tenantId: TENANT,
      sourceCloudId: home.id,
      candidates: [home, cloud('away')],
      policies: [policy('stay', { homeCloudOnly: true })],
      quotas: new Map([[home.id, limited(1, 1)]]),
      imageBytes: null,
    });
    expect(result.some((r) => r.eligible)).toBe(false);
    expect(explainNoTarget(result)).toBe('away: policy "stay" keeps VMs in their home cloud; home: no free instance quota (0 of 1 free)');
    expect(explainNoTarget([])).toBe('no cloud is registered or shared with you');
  });
});

describe('matchmaking: formatting', () => {
  it('prints costs with two to four decimals and seconds with at most one', () => {
    expect([0.3, 0.125, 1, 0.12346].map(formatCost)).toEqual(['0.30', '0.125', '1.00', '0.1235']);
    expect([16, 17.18, 0.06].map(formatSeconds)).toEqual(['16', '17.2', '0.1']);
  });
});
