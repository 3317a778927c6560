/**
 * The matchmake dry run over HTTP: sandbox clouds registered through the API with different
 * labels, links and costs, a partner's shared cloud, policies made with createPolicy, quotas
 * read from each cloud's real Nova /limits, and clouds whose limits call fails or hangs.
 * Policies cannot be deleted, so the tests run in order and each adds its policies to the ones before.
 */
import { Sandbox, SandboxCloud } from '../../sandbox';
import { BOOT_SECONDS, formatBytes, formatSeconds, SNAPSHOT_SECONDS } from '../../src/domain/matchmaking';
import { Principal } from '../../src/domain/principal';
import { Role } from '../../src/domain/roles';
import { DEFAULT_MATCHMAKING_OPTIONS } from '../../src/services/matchmaking.service';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { waitForJobState } from '../support/clone-fixture';
import { gqlError, gqlOk } from '../support/graphql';
import { bootSandboxServer, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';

const REGISTER = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`;
const IMPORT = `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`;
const CREATE_POLICY = `mutation($input: PolicyInput!) { createPolicy(input: $input) { id } }`;
const TERM = `{ seconds source jobs pool }`;
const ESTIMATE = `{ totalSeconds snapshot ${TERM} transfer ${TERM} boot ${TERM} configure ${TERM} imageBytes imageBytesAssumed bytesPerSecond standbyImageId }`;
const MATCHMAKE = `query($vmId: ID!) {
  matchmake(vmId: $vmId) { cloud { id name owned } eligible rank estimatedSecondsToCapacity estimate ${ESTIMATE} freeInstances quotaAgeSeconds costPerHour reasons }
}`;

interface Term {
  seconds: number;
  source: string;
  jobs: number;
  pool: string | null;
}

interface Estimate {
  totalSeconds: number;
  snapshot: Term;
  transfer: Term;
  boot: Term;
  configure: Term;
  imageBytes: number | null;
  imageBytesAssumed: boolean;
  bytesPerSecond: number | null;
  standbyImageId: string | null;
}

interface Candidate {
  cloud: { id: string; name: string; owned: boolean };
  eligible: boolean;
  rank: number | null;
  estimatedSecondsToCapacity: number;
  estimate: Estimate;
  freeInstances: number | null;
  quotaAgeSeconds: number | null;
  costPerHour: number;
  reasons: string[];
}

/** How each sandbox cloud is registered: the inputs the expectations below are computed from. */

// Links slow enough that the sandbox's small image takes whole seconds to cross them, so the estimates differ.
const CLOUDS = {
  home: { sandbox: 'mm-home', bandwidthMbps: 100, costPerHour: 0.1, labels: [{ key: 'jurisdiction', value: 'DE' }] },
  de: { sandbox: 'mm-de', bandwidthMbps: 10, costPerHour: 0.2, labels: [{ key: 'jurisdiction', value: 'DE' }] },
  slow: { sandbox: 'mm-slow', bandwidthMbps: 1, costPerHour: 0.05, labels: [] },
  partner: { sandbox: 'mm-partner', bandwidthMbps: 50, costPerHour: 0.5, labels: [{ key: 'jurisdiction', value: 'DE' }] },
} as const;
type CloudKey = keyof typeof CLOUDS;

function registerInput(cloud: SandboxCloud, name: string, spec: (typeof CLOUDS)[CloudKey], shared = false) {
  // A flavor and a network to boot with: the matchmaker only calls a cloud eligible if a clone could boot there.
  return registerCloudInput(cloud, name, { bandwidthMbps: spec.bandwidthMbps, costPerHour: spec.costPerHour, labels: spec.labels, shared, defaults: { flavor: 'm1.tiny', network: 'private' } });
}

/** The size of the image the home cloud's servers boot from: what a clone will move (set in beforeAll). */
let imageBytes = 0;

/** The documented estimate for a VM in the home cloud: no transfer at home, else the source image over the slower of the two links. */
function expectedSeconds(target: CloudKey): number {
  if (target === 'home') return SNAPSHOT_SECONDS + BOOT_SECONDS;
  const link = Math.min(CLOUDS[target].bandwidthMbps, CLOUDS.home.bandwidthMbps);
  return SNAPSHOT_SECONDS + (imageBytes * 8) / (link * 1e6) + BOOT_SECONDS;
}

describe('matchmake', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let url: string;
  let op: TenantToken;
  let partner: TenantToken;
  const ids = {} as Record<CloudKey, string>;
  const vms = {} as Record<'plain' | 'strict' | 'pinned', string>;
  const vmTypes = {} as Record<keyof typeof vms, string>;
  let partnerVmId: string;

  const sandboxOf = (key: CloudKey) => sandbox.cloud(CLOUDS[key].sandbox);
  const nameOf = (id: string) => (Object.keys(ids) as CloudKey[]).find((k) => ids[k] === id)!;

  /** Free instances of the tenant's project in a sandbox cloud, from the cloud's own settings and servers. */
  async function freeIn(key: CloudKey): Promise<number> {
    const c = sandboxOf(key).control;
    return (await c.settings()).quotas.instances - (await c.listServers()).filter((s) => !s.deleting).length;
  }

  async function matchmake(vmId: string, token = op.token): Promise<Record<CloudKey, Candidate> & { list: Candidate[] }> {
    const { matchmake: list } = await gqlOk<{ matchmake: Candidate[] }>(url, token, MATCHMAKE, { vmId });
    return Object.assign(Object.fromEntries(list.map((c) => [nameOf(c.cloud.id), c])) as Record<CloudKey, Candidate>, { list });
  }

  const ranked = (list: Candidate[]) => list.filter((c) => c.eligible).map((c) => nameOf(c.cloud.id));

  const principal = (): Principal => ({ tokenId: 'test', tokenName: 'test', tenantId: op.tenantId, tenantName: 'matchmaker', role: Role.OPERATOR });

  beforeAll(async () => {
    sandbox = await startSandboxClouds(...Object.values(CLOUDS).map((c) => c.sandbox));
    imageBytes = (await sandboxOf('home').control.listImages()).find((i) => i.name === 'cirros-sandbox')!.size!;
    db = await createTestDatabase();
    // No cache here: these tests change quotas and faults between queries and expect the next answer to see them (the cache has its own test).
    broker = await startTestBroker(db.url, { CLOUD_HEALTH_INTERVAL_SECONDS: '1', MATCHMAKING_CACHE_SECONDS: '0' });
    url = broker.url;
    op = await createTenantWithToken(url, broker.adminToken, 'matchmaker');
    partner = await createTenantWithToken(url, broker.adminToken, 'partner-operator');
    for (const key of ['home', 'de', 'slow'] as const) {
      ids[key] = (await gqlOk(url, op.token, REGISTER, { input: registerInput(sandboxOf(key), key, CLOUDS[key]) })).registerCloud.id;
    }
    ids.partner = (await gqlOk(url, partner.token, REGISTER, { input: registerInput(sandboxOf('partner'), 'partner', CLOUDS.partner, true) })).registerCloud.id;
    for (const kind of ['plain', 'strict', 'pinned'] as const) {
      vmTypes[kind] = (await gqlOk(url, op.token, `mutation($n: String!) { createVmType(input: { name: $n, minInstances: 1, maxInstances: 3 }) { id } }`, { n: kind })).createVmType.id;
      const server = await bootSandboxServer(sandboxOf('home'), `sip-${kind}`);
      vms[kind] = (await gqlOk(url, op.token, IMPORT, { input: { cloudId: ids.home, serverId: server.id, vmTypeId: vmTypes[kind] } })).importVm.id;
    }
    // The partner has a VM of its own in its cloud, to check that tenants cannot matchmake each other's VMs.
    const partnerType = (await gqlOk(url, partner.token, `mutation { createVmType(input: { name: "theirs", minInstances: 1, maxInstances: 1 }) { id } }`)).createVmType.id;
    const partnerServer = await bootSandboxServer(sandboxOf('partner'), 'partner-sip');
    partnerVmId = (await gqlOk(url, partner.token, IMPORT, { input: { cloudId: ids.partner, serverId: partnerServer.id, vmTypeId: partnerType } })).importVm.id;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await sandbox?.stop();
  });

  it('ranks every cloud the tenant can see by estimated time to capacity, with quotas from Nova and the reasons', async () => {
    const result = await matchmake(vms.plain);
    const keys = Object.keys(CLOUDS) as CloudKey[];
    expect(result.list).toHaveLength(keys.length);
    const byTime = [...keys].sort((a, b) => expectedSeconds(a) - expectedSeconds(b));
    expect(ranked(result.list)).toEqual(byTime);
    expect(result.list.map((c) => c.rank)).toEqual(byTime.map((_, i) => i + 1));
    for (const key of keys) {
      expect(result[key]).toMatchObject({ eligible: true, costPerHour: CLOUDS[key].costPerHour, freeInstances: await freeIn(key) });
      expect(result[key].estimatedSecondsToCapacity).toBeCloseTo(expectedSeconds(key), 6);
    }
    expect(result.partner.cloud).toMatchObject({ name: 'partner', owned: false });
    expect(result.home.reasons).toContain('home cloud: no transfer');
    // Every term as structured fields: no job has finished yet, so the defaults and the declared links.
    const byDefault = (seconds: number) => ({ seconds, source: 'DEFAULT', jobs: 0, pool: null });
    expect(result.de.estimate).toMatchObject({
      snapshot: byDefault(SNAPSHOT_SECONDS),
      transfer: { source: 'DEFAULT', jobs: 0, pool: null },
      boot: byDefault(BOOT_SECONDS),
      configure: { seconds: 0, source: 'NOT_NEEDED', jobs: 0, pool: null },
      imageBytes,
      imageBytesAssumed: false,
      bytesPerSecond: (CLOUDS.de.bandwidthMbps * 1e6) / 8,
      standbyImageId: null,
    });
    expect(result.de.estimate.totalSeconds).toBeCloseTo(expectedSeconds('de'), 6);
    expect(result.home.estimate.transfer).toEqual({ seconds: 0, source: 'NOT_NEEDED', jobs: 0, pool: null });
    expect(result.home.quotaAgeSeconds).toBeNull();
    expect(result.de.reasons).toEqual([
      `estimated ${formatSeconds(expectedSeconds('de') - SNAPSHOT_SECONDS - BOOT_SECONDS)} s transfer of ${formatBytes(imageBytes)} (the source server's image) at ${CLOUDS.de.bandwidthMbps} Mbit/s`,
      `estimated ${formatSeconds(expectedSeconds('de'))} s to capacity (${SNAPSHOT_SECONDS} s snapshot (default estimate) + ${formatSeconds(expectedSeconds('de') - SNAPSHOT_SECONDS - BOOT_SECONDS)} s transfer (declared link) + ${BOOT_SECONDS} s boot (default estimate))`,
      `${await freeIn('de')} of ${(await sandboxOf('de').control.settings()).quotas.instances} instances free`,
      'cost 0.20/h',
    ]);
  });

  it('applies a VM type\'s policies to its VMs only, and says which policy excluded which cloud', async () => {
    const vmTypeId = vmTypes.strict;
    await gqlOk(url, op.token, CREATE_POLICY, { input: { name: 'eu-only', vmTypeId, requiredLabels: [{ key: 'jurisdiction', value: 'DE' }] } });
    await gqlOk(url, op.token, CREATE_POLICY, { input: { name: 'cheap', vmTypeId, maxCostPerHour: 0.3 } });
    await gqlOk(url, op.token, CREATE_POLICY, { input: { name: 'fast', vmTypeId, minBandwidthMbps: 5 } });

    const strict = await matchmake(vms.strict);
    expect(strict.slow).toMatchObject({ eligible: false, rank: null });
    expect(strict.slow.reasons).toEqual(['lacks label jurisdiction=DE required by policy "eu-only"', 'bandwidth 1 Mbit/s below 5 Mbit/s required by policy "fast"']);
    expect(strict.partner).toMatchObject({ eligible: false, rank: null, reasons: ['cost 0.50/h above 0.30/h allowed by policy "cheap"'] });
    expect(ranked(strict.list)).toEqual(['home', 'de']);

    const plain = await matchmake(vms.plain);
    expect(plain.list.every((c) => c.eligible)).toBe(true);
  });

  it('keeps a VM in its home cloud under a homeCloudOnly policy', async () => {
    await gqlOk(url, op.token, CREATE_POLICY, { input: { name: 'stay-home', vmTypeId: vmTypes.pinned, homeCloudOnly: true } });
    const pinned = await matchmake(vms.pinned);
    expect(ranked(pinned.list)).toEqual(['home']);
    for (const key of ['de', 'slow', 'partner'] as const) expect(pinned[key].reasons).toEqual(['policy "stay-home" keeps VMs in their home cloud']);
  });

  it('excludes a cloud whose instance quota is used up, and pickTarget says when nothing is left', async () => {
    const home = sandboxOf('home').control;
    const before = (await home.settings()).quotas.instances;
    const used = (await home.listServers()).length;
    await home.setQuotas({ instances: used });
    try {
      const plain = await matchmake(vms.plain);
      expect(plain.home).toMatchObject({ eligible: false, rank: null, freeInstances: 0, reasons: [`no free instance quota (0 of ${used} free)`] });
      expect(plain.list.find((c) => c.rank === 1)!.cloud.id).toBe(ids.partner);
      await expect(broker.services.matchmaking.pickTarget(principal(), vms.plain)).resolves.toMatchObject({ cloudId: ids.partner, chosenCloudName: 'partner' });

      const err = await broker.services.matchmaking.pickTarget(principal(), vms.pinned).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.targetCloudId' });
      expect((err as Error).message).toBe(
        'input.targetCloudId: no eligible target cloud: ' +
          `de: policy "stay-home" keeps VMs in their home cloud; home: no free instance quota (0 of ${used} free); ` +
          'partner: policy "stay-home" keeps VMs in their home cloud; slow: policy "stay-home" keeps VMs in their home cloud',
      );
    } finally {
      await home.setQuotas({ instances: before });
    }
    await expect(broker.services.matchmaking.pickTarget(principal(), vms.pinned)).resolves.toMatchObject({ cloudId: ids.home });
  });

  it('adds tenant-wide policies to every VM type\'s own (AND)', async () => {
    await gqlOk(url, op.token, CREATE_POLICY, { input: { name: 'never-slow', denyCloudIds: [ids.slow] } });
    const plain = await matchmake(vms.plain);
    expect(plain.slow.reasons).toEqual(['denied by policy "never-slow"']);
    const strict = await matchmake(vms.strict);
    expect(strict.slow.reasons).toEqual([
      'denied by policy "never-slow"',
      'lacks label jurisdiction=DE required by policy "eu-only"',
      'bandwidth 1 Mbit/s below 5 Mbit/s required by policy "fast"',
    ]);
  });

  async function waitForHealth(cloudId: string, health: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { cloud } = await gqlOk(url, op.token, `query($id: ID!) { cloud(id: $id) { health } }`, { id: cloudId });
      if (cloud.health === health) return;
      if (Date.now() > deadline) throw new Error(`cloud ${cloudId} stayed ${cloud.health}, expected ${health}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('excludes an UNREACHABLE cloud without asking it for its limits', async () => {
    // The health prober (every second here) finds de's Keystone failing and marks it UNREACHABLE.
    const de = sandboxOf('de').control;
    await de.injectFault({ operation: 'keystone.token', mode: 'fail', status: 503, count: 'always' });
    try {
      await waitForHealth(ids.de, 'UNREACHABLE');
      await de.resetCalls();
      const plain = await matchmake(vms.plain);
      expect(plain.de).toMatchObject({ eligible: false, rank: null });
      expect(plain.de.reasons).toContain('health UNREACHABLE');
      expect((await de.calls())['nova.limits'] ?? 0).toBe(0);
    } finally {
      await de.clearFaults();
      await waitForHealth(ids.de, 'HEALTHY');
    }
  });

  it('answers when clouds fail or hang on their limits call, with their quota unknown and why', async () => {
    const de = sandboxOf('de').control;
    const partnerCloud = sandboxOf('partner').control;
    await de.injectFault({ operation: 'nova.limits', mode: 'fail', status: 403, count: 'always' });
    await partnerCloud.injectFault({ operation: 'nova.limits', mode: 'hang', hangMs: 120_000, count: 'always' });
    try {
      const plain = await matchmake(vms.plain);
      expect(plain.de).toMatchObject({ eligible: true, freeInstances: null });
      expect(plain.de.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^instance quota unknown: limits request failed: .*HTTP 403/)]));
      expect(plain.partner).toMatchObject({ eligible: true, freeInstances: null });
      expect(plain.partner.reasons).toContain(`instance quota unknown: limits not received within ${DEFAULT_MATCHMAKING_OPTIONS.limitsTimeoutMs} ms`);
      // The clouds that answered keep their quota, and the order still follows the estimate.
      expect(plain.home).toMatchObject({ rank: 1, freeInstances: await freeIn('home') });
      expect(ranked(plain.list).slice(0, 3)).toEqual(['home', 'partner', 'de']);
    } finally {
      await de.clearFaults();
      await partnerCloud.clearFaults();
    }
  });

  it('is a read: viewers may run it, other tenants\' VMs are not found, and a malformed id names the argument', async () => {
    const viewer = await addToken(url, broker.adminToken, op.tenantId, 'VIEWER');
    expect((await matchmake(vms.plain, viewer)).list.length).toBe(Object.keys(CLOUDS).length);
    expect((await gqlError(url, op.token, MATCHMAKE, { vmId: partnerVmId })).extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect((await gqlError(url, partner.token, MATCHMAKE, { vmId: vms.plain })).extensions).toMatchObject({ code: 'NOT_FOUND' });
    expect((await gqlError(url, op.token, MATCHMAKE, { vmId: 'not-an-id' })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'vmId' });
    expect((await gqlError(url, null, MATCHMAKE, { vmId: vms.plain })).extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('calls a cloud the clone cannot boot in ineligible, and refuses a cloneVm naming it before any snapshot', async () => {
    // The de cloud again, registered without a flavor for clones: neither the cloud nor the VM type names one.
    const bare = (await gqlOk(url, op.token, REGISTER, { input: registerCloudInput(sandboxOf('de'), 'bare', { bandwidthMbps: 10, costPerHour: 0.01 }) })).registerCloud.id;
    try {
      const { matchmake: list } = await gqlOk<{ matchmake: Candidate[] }>(url, op.token, MATCHMAKE, { vmId: vms.plain });
      const candidate = list.find((c) => c.cloud.id === bare)!;
      expect(candidate).toMatchObject({ eligible: false, rank: null });
      expect(candidate.reasons).toEqual(["cannot boot the clone: no flavor for cloud bare: set the VM type's flavorHint or the cloud's defaults.flavor"]);

      await sandboxOf('home').control.resetCalls();
      const err = await gqlError(url, op.token, `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`, { input: { vmId: vms.plain, targetCloudId: bare } });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.targetCloudId' });
      expect(err.message).toContain('cannot boot the clone: no flavor for cloud bare');
      expect((await sandboxOf('home').control.calls())['nova.server.createImage'] ?? 0).toBe(0);
      const { cloneJobs } = await gqlOk(url, op.token, `{ cloneJobs(first: 50) { nodes { targetCloud { id } } } }`);
      expect(cloneJobs.nodes.filter((n: { targetCloud: { id: string } | null }) => n.targetCloud?.id === bare)).toEqual([]);
    } finally {
      await gqlOk(url, op.token, `mutation($id: ID!) { deregisterCloud(id: $id) }`, { id: bare });
    }
  });
  it('excludes a cloud whose Glance cannot take the source image\'s disk format even converted, saying which it accepts', async () => {
    const format = (await sandboxOf('home').control.listImages()).find((i) => i.name === 'cirros-sandbox')!.diskFormat!;
    // iso is no format qemu-img converts to here (qcow2, raw and vmdk are, and would make the cloud eligible).
    const other = 'iso';
    const picky = (await gqlOk(url, op.token, REGISTER, { input: { ...registerInput(sandboxOf('de'), 'picky', CLOUDS.de), diskFormats: [other] } })).registerCloud.id;
    try {
      const { matchmake: list } = await gqlOk<{ matchmake: Candidate[] }>(url, op.token, MATCHMAKE, { vmId: vms.plain });
      expect(list.find((c) => c.cloud.id === picky)).toMatchObject({ eligible: false, rank: null, reasons: [`takes disk formats ${other}, none of which ${format} converts to (qcow2, raw, vmdk)`] });
      expect(list.find((c) => c.cloud.id === ids.de)!.eligible).toBe(true);
    } finally {
      await gqlOk(url, op.token, `mutation($id: ID!) { deregisterCloud(id: $id) }`, { id: picky });
    }
  });

  it('a replica with MATCHMAKING_CACHE_SECONDS answers from its cache and says how old the quota is; a clone\'s own pick reads fresh', async () => {
    const cached = await startTestBroker(db.url, { MATCHMAKING_CACHE_SECONDS: '600' });
    const home = sandboxOf('home').control;
    const before = (await home.settings()).quotas.instances;
    try {
      const ask = async () => (await gqlOk<{ matchmake: Candidate[] }>(cached.url, op.token, MATCHMAKE, { vmId: vms.plain })).matchmake;
      await home.resetCalls();
      const first = await ask();
      expect(first.find((c) => c.cloud.id === ids.home)!.quotaAgeSeconds).toBeNull();
      // The home cloud fills up; the cache does not know yet, and says how old its answer is.
      await home.setQuotas({ instances: (await home.listServers()).length });
      const second = (await ask()).find((c) => c.cloud.id === ids.home)!;
      const third = (await ask()).find((c) => c.cloud.id === ids.home)!;
      expect((await home.calls())['nova.limits']).toBe(1);
      for (const answer of [second, third]) {
        expect(answer.eligible).toBe(true);
        expect(answer.quotaAgeSeconds).toEqual(expect.any(Number));
        expect(answer.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^\d+ of \d+ instances free; read [\d.]+ s ago, cached up to 600 s$/)]));
      }
      // pickTarget (cloneVm without a target, the autoscaler) asks Nova again and sees the home cloud full.
      const picked = await cached.services.matchmaking.pickTarget(principal(), vms.plain);
      expect((await home.calls())['nova.limits']).toBe(2);
      expect(picked.cloudId).not.toBe(ids.home);
      expect(picked.candidates.find((c) => c.cloudId === ids.home)!.reasons[0]).toMatch(/^no free instance quota/);
    } finally {
      await home.setQuotas({ instances: before });
      await cached.stop();
    }
  });

  it('cloneVm without a target stores the placement; the finished jobs\' measured times become the next estimates', async () => {
    const JOB = `query($id: ID!) { cloneJob(id: $id) { state targetCloud { id } bytesTransferred phases { phase durationMs }
      placement { chosenCloudId chosenCloudName decidedAt candidates { cloudId cloudName eligible rank estimatedSecondsToCapacity estimate ${ESTIMATE} freeInstances quotaAgeSeconds costPerHour reasons } } } }`;
    const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`;
    const shown = await matchmake(vms.plain);

    // Without a target: the matchmaker's first choice (the home cloud: no transfer), and why, on the job.
    const picked = (await gqlOk(url, op.token, CLONE, { input: { vmId: vms.plain } })).cloneVm.id;
    const { cloneJob: pickedJob } = await gqlOk(url, op.token, JOB, { id: picked });
    expect(pickedJob.targetCloud.id).toBe(ids.home);
    expect(pickedJob.placement).toMatchObject({ chosenCloudId: ids.home, chosenCloudName: 'home' });
    expect(Date.parse(pickedJob.placement.decidedAt)).not.toBeNaN();
    const stored = pickedJob.placement.candidates as (Omit<Candidate, 'cloud'> & { cloudId: string; cloudName: string })[];
    expect(stored.map((c) => [c.cloudId, c.rank, c.eligible])).toEqual(shown.list.map((c) => [c.cloud.id, c.rank, c.eligible]));
    expect(stored.find((c) => c.cloudId === ids.slow)!.reasons).toEqual(['denied by policy "never-slow"']);
    expect(stored.find((c) => c.cloudId === ids.de)!.estimate).toEqual(shown.de.estimate);

    // A named target: no placement to store.
    const named = (await gqlOk(url, op.token, CLONE, { input: { vmId: vms.plain, targetCloudId: ids.de } })).cloneVm.id;
    const done = { home: await waitForJobState(url, op.token, picked, ['DONE', 'FAILED'], 180_000), de: await waitForJobState(url, op.token, named, ['DONE', 'FAILED'], 180_000) };
    expect([done.home.state, done.de.state]).toEqual(['DONE', 'DONE']);
    const { cloneJob: namedJob } = await gqlOk(url, op.token, JOB, { id: named });
    expect(namedJob.placement).toBeNull();

    const seconds = (job: typeof namedJob, ...phases: string[]) =>
      (job.phases as { phase: string; durationMs: number }[]).filter((p) => phases.includes(p.phase)).reduce((sum, p) => sum + p.durationMs, 0) / 1000;
    const learned = (value: number) => ({ seconds: value, source: 'LEARNED', jobs: 1, pool: 'PAIR_AND_TYPE' });
    const after = await matchmake(vms.plain);

    // The home cloud: snapshot and boot as the intra-cloud clone measured them.
    const homeJob = (await gqlOk(url, op.token, JOB, { id: picked })).cloneJob;
    expect(after.home.estimate.snapshot).toEqual(learned(seconds(homeJob, 'SNAPSHOT')));
    expect(after.home.estimate.boot).toEqual(learned(seconds(homeJob, 'BOOT', 'NETWORK')));
    expect(after.home.estimate.transfer.source).toBe('NOT_NEEDED');

    // de: every term from the cross-cloud clone, the transfer from its effective bandwidth.
    const effective = namedJob.bytesTransferred / seconds(namedJob, 'TRANSFER', 'IMPORT');
    expect(after.de.estimate.snapshot).toEqual(learned(seconds(namedJob, 'SNAPSHOT')));
    expect(after.de.estimate.boot).toEqual(learned(seconds(namedJob, 'BOOT', 'NETWORK')));
    expect(after.de.estimate.transfer).toMatchObject({ source: 'LEARNED', jobs: 1, pool: 'PAIR_AND_TYPE' });
    expect(after.de.estimate.bytesPerSecond).toBeCloseTo(effective, 3);
    expect(after.de.estimate.transfer.seconds).toBeCloseTo(imageBytes / effective, 3);
    expect(after.de.estimate.totalSeconds).toBeCloseTo(seconds(namedJob, 'SNAPSHOT') + imageBytes / effective + seconds(namedJob, 'BOOT', 'NETWORK'), 3);
    expect(after.de.estimatedSecondsToCapacity).not.toBeCloseTo(shown.de.estimatedSecondsToCapacity, 0);
    expect(after.de.reasons.some((r) => r.includes('(effective, median of 1 job, this cloud pair and VM type)'))).toBe(true);
    // A cloud no job went to keeps its defaults.
    expect(after.partner.estimate.snapshot.source).toBe('DEFAULT');
    expect(after.partner.estimate.transfer.source).toBe('DEFAULT');
  });
});
