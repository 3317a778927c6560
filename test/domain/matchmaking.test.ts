/** The matchmaker's pure rules: every filter, the time estimate and the ranking order. */
import { CloudHealth } from '../../src/domain/enums';
import {
  ASSUMED_IMAGE_BYTES,
  BOOT_SECONDS,
  CandidateCloud,
  CONFIGURE_SECONDS,
  diskFormatAcceptance,
  EstimateSource,
  explainNoTarget,
  HistoryPool,
  JobTiming,
  jobTimingOf,
  LEARNED_WINDOW,
  learnedValue,
  median,
  placementOf,
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

/** A finished job from home to `target`, with every phase measured unless overridden. */
function job(target: CandidateCloud, over: Partial<JobTiming> = {}): JobTiming {
  return {
    sourceCloudId: home.id,
    targetCloudId: target.id,
    vmTypeId: 'type-sip',
    snapshotSeconds: 20,
    transferSeconds: 40,
    bytesMoved: 400e6,
    bootSeconds: 30,
    configureSeconds: 15,
    ...over,
  };
}

describe('matchmaking: learned estimates', () => {
  const remote = cloud('remote', { bandwidthMbps: 1000 });
  const other = cloud('other-source');
  const learnedRun = (history: JobTiming[], over: Partial<MatchmakingInput<CandidateCloud>> = {}) =>
    run([home, remote], { history, vmTypeId: 'type-sip', configures: true, imageBytes: 2e9, ...over }).byName('remote').estimate;

  it('uses the constants and the declared link while there is no finished job, and says DEFAULT', () => {
    const e = learnedRun([]);
    expect(e.snapshot).toEqual({ seconds: SNAPSHOT_SECONDS, source: EstimateSource.DEFAULT, jobs: 0, pool: null });
    expect(e.boot).toEqual({ seconds: BOOT_SECONDS, source: EstimateSource.DEFAULT, jobs: 0, pool: null });
    expect(e.configure).toEqual({ seconds: CONFIGURE_SECONDS, source: EstimateSource.DEFAULT, jobs: 0, pool: null });
    expect(e.transfer).toMatchObject({ source: EstimateSource.DEFAULT, jobs: 0 });
    expect(e.bytesPerSecond).toBe(1000e6 / 8);
    expect(e.transfer.seconds).toBeCloseTo(2e9 / (1000e6 / 8), 6);
    expect(e.totalSeconds).toBeCloseTo(SNAPSHOT_SECONDS + 16 + BOOT_SECONDS + CONFIGURE_SECONDS, 6);
  });

  it('learns every term from finished jobs: medians, and the transfer from the effective bandwidth', () => {
    const history = [
      job(remote, { snapshotSeconds: 10, transferSeconds: 10, bytesMoved: 100e6, bootSeconds: 20, configureSeconds: 5 }),
      job(remote, { snapshotSeconds: 30, transferSeconds: 20, bytesMoved: 100e6, bootSeconds: 40, configureSeconds: 7 }),
      job(remote, { snapshotSeconds: 20, transferSeconds: 25, bytesMoved: 100e6, bootSeconds: 30, configureSeconds: 6 }),
    ];
    const e = learnedRun(history);
    const learned = (seconds: number) => ({ seconds, source: EstimateSource.LEARNED, jobs: 3, pool: HistoryPool.PAIR_AND_TYPE });
    expect(e.snapshot).toEqual(learned(20));
    expect(e.boot).toEqual(learned(30));
    expect(e.configure).toEqual(learned(6));
    // Effective bandwidths 10, 5 and 4 MB/s: the median is 5 MB/s, so 2 GB take 400 s.
    expect(e.bytesPerSecond).toBe(5e6);
    expect(e.transfer).toEqual(learned(400));
    expect(e.totalSeconds).toBe(20 + 400 + 30 + 6);
    const reasons = run([home, remote], { history, vmTypeId: 'type-sip', configures: true, imageBytes: 2e9 }).byName('remote').reasons;
    expect(reasons).toContain("estimated 400 s transfer of 1.9 GiB (the source server's image) at 5 MB/s (effective, median of 3 jobs, this cloud pair and VM type)");
    expect(reasons).toContain(
      'estimated 456 s to capacity (20 s snapshot (median of 3 jobs, this cloud pair and VM type) + 400 s transfer (median of 3 jobs, this cloud pair and VM type) + 30 s boot (median of 3 jobs, this cloud pair and VM type) + 6 s configure (median of 3 jobs, this cloud pair and VM type))',
    );
  });

  it.each([
    ['one outlier among five', [30, 31, 29, 900, 30], 30],
    ['four outliers among ten', [30, 31, 29, 900, 30, 1000, 28, 2000, 32, 5000], 31.5],
    ['an even count takes the middle two', [10, 20, 30, 40], 25],
  ])('is not dominated by outliers: %s', (_name, boots, expected) => {
    const e = learnedRun(boots.map((b) => job(remote, { bootSeconds: b })));
    expect(e.boot).toMatchObject({ seconds: expected, source: EstimateSource.LEARNED, jobs: boots.length });
  });

  it(`uses only the newest ${LEARNED_WINDOW} jobs (history is newest first)`, () => {
    const newest = Array.from({ length: LEARNED_WINDOW }, () => job(remote, { bootSeconds: 12 }));
    const old = Array.from({ length: 20 }, () => job(remote, { bootSeconds: 500 }));
    expect(learnedRun([...newest, ...old]).boot).toMatchObject({ seconds: 12, jobs: LEARNED_WINDOW });
  });

  it.each([
    ['same pair and VM type first', [job(remote, { bootSeconds: 11 }), job(remote, { vmTypeId: 'type-web', bootSeconds: 22 })], 11, HistoryPool.PAIR_AND_TYPE],
    ['then same pair, any VM type', [job(remote, { vmTypeId: 'type-web', bootSeconds: 22 }), job(remote, { sourceCloudId: other.id, bootSeconds: 33 })], 22, HistoryPool.PAIR],
    ['then same target, any source', [job(remote, { sourceCloudId: other.id, bootSeconds: 33 }), job(home, { bootSeconds: 44 })], 33, HistoryPool.TARGET],
    ['never another target', [job(home, { bootSeconds: 44 })], BOOT_SECONDS, null],
  ])('falls back to wider pools: %s', (_name, history, seconds, pool) => {
    expect(learnedRun(history).boot).toMatchObject({ seconds, pool, source: pool ? EstimateSource.LEARNED : EstimateSource.DEFAULT });
  });

  it('learns each term from the jobs that ran it: a clone from a standby image teaches boot, not snapshot or transfer', () => {
    const fromStandby = job(remote, { snapshotSeconds: null, transferSeconds: null, bytesMoved: null, bootSeconds: 25 });
    const e = learnedRun([fromStandby]);
    expect(e.boot).toMatchObject({ seconds: 25, source: EstimateSource.LEARNED, jobs: 1 });
    expect(e.snapshot.source).toBe(EstimateSource.DEFAULT);
    expect(e.transfer.source).toBe(EstimateSource.DEFAULT);
  });

  it('has no configure term for a VM type that configures nothing', () => {
    const e = learnedRun([job(remote)], { configures: false });
    expect(e.configure).toEqual({ seconds: 0, source: EstimateSource.NOT_NEEDED, jobs: 0, pool: null });
  });

  it('the home cloud has no transfer term; its snapshot and boot are learned from intra-cloud jobs', () => {
    const e = run([home, remote], { history: [job(home, { snapshotSeconds: 8, bootSeconds: 9, transferSeconds: null })], vmTypeId: 'type-sip' }).byName('home').estimate;
    expect(e).toMatchObject({ imageBytes: null, bytesPerSecond: null, transfer: { seconds: 0, source: EstimateSource.NOT_NEEDED } });
    expect(e.snapshot).toMatchObject({ seconds: 8, source: EstimateSource.LEARNED });
    expect(e.totalSeconds).toBe(8 + 9);
  });

  it('a learned faster pair outranks a declared faster link', () => {
    const declaredFast = cloud('declared-fast', { bandwidthMbps: 10_000 });
    const measured = cloud('measured', { bandwidthMbps: 100 });
    const history = [job(measured, { transferSeconds: 1, bytesMoved: 2e9, snapshotSeconds: 5, bootSeconds: 5 })];
    const { order } = run([home, declaredFast, measured], { history, vmTypeId: 'type-sip', policies: [policy('away', { denyCloudIds: [home.id] })] });
    expect(order).toEqual(['measured', 'declared-fast']);
  });

  it('learnedValue and median: the rule on its own', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const where = { sourceCloudId: home.id, targetCloudId: remote.id, vmTypeId: null };
    // Without a VM type the narrowest pool is the pair.
    expect(learnedValue([job(remote, { bootSeconds: 7 })], where, (j) => j.bootSeconds)).toEqual({ value: 7, jobs: 1, pool: HistoryPool.PAIR });
    expect(learnedValue([], where, (j) => j.bootSeconds)).toBeNull();
  });
});

describe('matchmaking: standby images', () => {
  it('a fresh standby image zeroes snapshot and transfer there, says so, and wins on time', () => {
    const remote = cloud('remote', { bandwidthMbps: 100 });
    const standbys = new Map([[remote.id, { id: 'standby-1', expiresAt: new Date('2030-01-01T00:00:00Z') }]]);
    const { byName, order } = run([home, remote], { standbys });
    const e = byName('remote').estimate;
    expect(e.snapshot).toEqual({ seconds: 0, source: EstimateSource.STANDBY_IMAGE, jobs: 0, pool: null });
    expect(e.transfer).toEqual({ seconds: 0, source: EstimateSource.STANDBY_IMAGE, jobs: 0, pool: null });
    expect(e).toMatchObject({ standbyImageId: 'standby-1', imageBytes: null, totalSeconds: BOOT_SECONDS });
    expect(byName('remote').reasons[0]).toBe('fresh standby image standby-1 of this VM type here: no snapshot, no transfer');
    expect(order).toEqual(['remote', 'home']);
  });
});

describe('matchmaking: disk formats', () => {
  it.each([
    ['accepted as it is', ['qcow2', 'raw'], 'qcow2', false, { ok: true, note: null }],
    ['converted on the target side', ['raw'], 'qcow2', false, { ok: true, note: 'converted from qcow2 to raw on the target side' }],
    ['a format qemu-img is not allowed to read', ['raw'], 'vhd', false, { ok: false, reason: 'takes disk formats raw, not vhd, and vhd cannot be converted (only qcow2, raw, vmdk)' }],
    ['no accepted format to convert to', ['iso'], 'qcow2', false, { ok: false, reason: 'takes disk formats iso, none of which qcow2 converts to (qcow2, raw, vmdk)' }],
    ['not asked when no image moves (home cloud, standby image)', ['iso'], 'qcow2', true, { ok: true, note: null }],
    ['not asked when the format is unknown', ['raw'], null, false, { ok: true, note: null }],
  ])('%s', (_name, diskFormats, format, movesNoImage, expected) => {
    expect(diskFormatAcceptance(format, diskFormats, movesNoImage)).toEqual(expected);
  });

  it('excludes a remote cloud that cannot take the format even converted, not the home cloud nor a cloud with a standby image', () => {
    const isoOnly = cloud('iso-only', { diskFormats: ['iso'] });
    const rawOnly = cloud('raw-only', { diskFormats: ['raw'] });
    const isoWithStandby = cloud('iso-standby', { diskFormats: ['iso'] });
    const isoHome = cloud('home', { diskFormats: ['iso'] });
    const { byName } = run([isoHome, isoOnly, rawOnly, isoWithStandby], {
      sourceDiskFormat: 'qcow2',
      standbys: new Map([[isoWithStandby.id, { id: 's', expiresAt: new Date() }]]),
    });
    expect(byName('iso-only')).toMatchObject({ eligible: false, reasons: ['takes disk formats iso, none of which qcow2 converts to (qcow2, raw, vmdk)'] });
    expect(byName('raw-only').eligible).toBe(true);
    expect(byName('raw-only').reasons).toContain('converted from qcow2 to raw on the target side');
    expect(byName('home').eligible).toBe(true);
    expect(byName('iso-standby').eligible).toBe(true);
  });
});

describe('matchmaking: order by time, then cost, then free capacity', () => {
  it.each([
    ['time first, whatever the cost', [['fast-dear', 10_000, 0.9, 1], ['slow-cheap', 100, 0.01, 100]], ['fast-dear', 'slow-cheap']],
    ['at equal time, cost before free capacity', [['roomy-dear', 1000, 0.5, 100], ['tight-cheap', 1000, 0.1, 1]], ['tight-cheap', 'roomy-dear']],
    ['at equal time and cost, more free capacity', [['tight', 1000, 0.1, 1], ['roomy', 1000, 0.1, 50]], ['roomy', 'tight']],
    ['at equal everything, by name', [['b', 1000, 0.1, 5], ['a', 1000, 0.1, 5]], ['a', 'b']],
  ] as const)('%s', (_name, specs, expected) => {
    const clouds = specs.map(([name, bandwidthMbps, costPerHour]) => cloud(name, { bandwidthMbps, costPerHour }));
    const quotas = new Map(specs.map(([name, , , free]) => [`id-${name}`, limited(100, 100 - free)]));
    const { order } = run([home, ...clouds], { quotas, policies: [policy('away', { denyCloudIds: [home.id] })] });
    expect(order).toEqual(expected);
  });
});

describe('matchmaking: quota age and placement', () => {
  it('says how old a cached quota answer is', () => {
    const remote = cloud('remote');
    const { byName } = run([home, remote], { quotas: new Map([[remote.id, { kind: 'LIMITED', maxInstances: 10, usedInstances: 4, age: { seconds: 3.2, maxSeconds: 10 } }]]) });
    expect(byName('remote').quotaAgeSeconds).toBe(3.2);
    expect(byName('remote').reasons).toContain('6 of 10 instances free; read 3.2 s ago, cached up to 10 s');
    expect(byName('home').quotaAgeSeconds).toBeNull();
  });

  it('placementOf names the chosen cloud and keeps every candidate with its verdict; null when none is eligible', () => {
    const down = cloud('down', { health: CloudHealth.UNREACHABLE });
    const { result } = run([home, cloud('remote'), down]);
    const placement = placementOf(result, new Date('2026-01-02T03:04:05Z'))!;
    expect(placement).toMatchObject({ chosenCloudId: home.id, chosenCloudName: 'home', decidedAt: '2026-01-02T03:04:05.000Z' });
    expect(placement.candidates.map((c) => [c.cloudName, c.rank, c.eligible])).toEqual([
      ['home', 1, true],
      ['remote', 2, true],
      ['down', null, false],
    ]);
    expect(placement.candidates[2].reasons).toEqual(['health UNREACHABLE']);
    expect(placement.candidates[1].estimate.transfer.source).toBe(EstimateSource.DEFAULT);
    expect(JSON.parse(JSON.stringify(placement))).toEqual(placement);
    expect(placementOf(run([down]).result, new Date())).toBeNull();
  });
});

describe('matchmaking: what a finished job measured', () => {
  const phase = (p: string, durationMs: number | null) => ({ phase: p, durationMs });
  it.each([
    [
      'a full clone with the SIP path',
      [phase('SNAPSHOT', 20_000), phase('TRANSFER', 30_000), phase('IMPORT', 10_000), phase('BOOT', 25_000), phase('NETWORK', 5_000), phase('CONFIGURE', 8_000), phase('MONITORING', 1_000), phase('LOAD_BALANCER', 1_000)],
      { snapshotSeconds: 20, transferSeconds: 40, bytesMoved: 500, bootSeconds: 30, configureSeconds: 10 },
    ],
    ['a clone from a standby image', [phase('BOOT', 25_000), phase('NETWORK', 5_000)], { snapshotSeconds: null, transferSeconds: null, bytesMoved: null, bootSeconds: 30, configureSeconds: null }],
    ['a STANDBY job', [phase('SNAPSHOT', 20_000), phase('TRANSFER', 30_000), phase('IMPORT', 10_000)], { snapshotSeconds: 20, transferSeconds: 40, bytesMoved: 500, bootSeconds: null, configureSeconds: null }],
    ['an intra-cloud clone', [phase('SNAPSHOT', 20_000), phase('BOOT', 25_000), phase('NETWORK', null)], { snapshotSeconds: 20, transferSeconds: null, bytesMoved: null, bootSeconds: 25, configureSeconds: null }],
  ])('%s', (_name, phases, expected) => {
    expect(jobTimingOf({ sourceCloudId: 'a', targetCloudId: 'b', vmTypeId: null, phases, bytesTransferred: 500, bytesTotal: 600 })).toEqual({ sourceCloudId: 'a', targetCloudId: 'b', vmTypeId: null, ...expected });
  });
});
