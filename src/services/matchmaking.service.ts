/**
 * The matchmaker as a use case: gathers a VM's candidate clouds, its policies, each cloud's
 * instance quota and whether the clone could boot there, the size and disk format of the source
 * server's image, the tenant's finished clone jobs (what the estimates learn from) and the fresh
 * standby images of the VM's type, and lets the pure rules in domain/matchmaking decide. Answers
 * the `matchmake` dry run, picks the target when a clone names none, and checks the target a
 * clone names.
 *
 * Reads per call, whatever the number of clouds: two database queries (finished jobs, standby
 * images) besides the VM, its clouds and policies; per eligible cloud, its limits, flavors and
 * networks, which the dry run serves from a per-process cache up to `cacheMs` old (the age is in
 * the answer), as it does the source server's image size, disk format and flavor. A clone's own choice (pickTarget, checkTarget) reads them fresh: it is about to
 * spend minutes on that cloud, and Nova checks the quota again when the clone boots anyway.
 */
import { DataSource } from 'typeorm';
import { bootTargetOf, chooseFlavor, chooseNetworks } from '../domain/boot-choice';
import { CloudEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { BadUserInputError, tenantMessage } from '../domain/errors';
import { CloudAssessment, explainNoTarget, FreshStandby, InstanceQuota, JobTiming, jobTimingOf, LEARNED_WINDOW, matchmake, Placement, placementOf, worthAsking } from '../domain/matchmaking';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { CloudApi, CloudApiFactory, Limits } from '../ports/cloud-api.port';
import { requirePermission } from './access';
import { CachedAnswer, CloudAnswerCache } from './cloud-answer.cache';
import { CloudService } from './cloud.service';
import { PolicyService } from './policy.service';
import { VmTypeService } from './vm-type.service';
import { VmService } from './vm.service';

export interface MatchmakingOptions {
  /**
   * How long to wait for a cloud's answers (limits, flavors, networks, the source image). A dry
   * run should answer promptly, and a cloud too slow to say is no worse off than one that did not.
   */
  limitsTimeoutMs: number;
  /** How old a cloud's limits, flavors and networks may be when the dry run answers (MATCHMAKING_CACHE_SECONDS); 0: never cached. */
  cacheMs: number;
}

export const DEFAULT_MATCHMAKING_OPTIONS: MatchmakingOptions = { limitsTimeoutMs: 3_000, cacheMs: 0 };

export type CloudCandidate = CloudAssessment<CloudEntity>;

type Boot = { ok: true } | { ok: false; reason: string };

/** What the source side tells: the bytes a clone will move and their disk format, and the server's flavor (for a clone in its own cloud). */
interface SourceFacts {
  imageBytes: number | null;
  diskFormat: string | null;
  flavorId: string | null;
}

const NO_SOURCE_FACTS: SourceFacts = { imageBytes: null, diskFormat: null, flavorId: null };

export class MatchmakingService {
  private readonly options: MatchmakingOptions;
  private readonly cache: CloudAnswerCache;

  constructor(
    private readonly dataSource: DataSource,
    private readonly vms: VmService,
    private readonly vmTypes: VmTypeService,
    private readonly clouds: CloudService,
    private readonly policies: PolicyService,
    private readonly cloudApis: CloudApiFactory,
    options: Partial<MatchmakingOptions> = {},
  ) {
    this.options = { ...DEFAULT_MATCHMAKING_OPTIONS, ...options };
    this.cache = new CloudAnswerCache(this.options.cacheMs);
  }

  /** Every cloud the caller can see as a target for a clone of the VM: eligible ones ranked, each with its reasons and estimate terms. */
  async rank(principal: Principal, vmId: string): Promise<CloudCandidate[]> {
    return this.assess(principal, vmId, 'vmId', this.options.cacheMs);
  }

  /**
   * The best eligible cloud for a clone of the VM with the explanation of the choice (every
   * candidate, its verdict and estimate) for the caller to store, or BAD_USER_INPUT on
   * input.targetCloudId saying why none is eligible. Reads every cloud's answers fresh.
   */
  async pickTarget(principal: Principal, vmId: string): Promise<Placement & { cloudId: string }> {
    const candidates = await this.assess(principal, vmId, 'input.vmId', 0);
    const placement = placementOf(candidates, new Date());
    if (!placement) throw new BadUserInputError('input.targetCloudId', `no eligible target cloud: ${explainNoTarget(candidates)}`);
    return { ...placement, cloudId: placement.chosenCloudId };
  }

  /**
   * A target a clone names must pass the same filters as one the matchmaker picks (policies,
   * health, quota, disk format, a flavor and network to boot with), before any snapshot is taken.
   * Its limits, flavors and networks are read fresh, not from the dry run's cache; and a quota
   * taken meanwhile is still refused by Nova when the clone boots (BOOT fails, the job undoes).
   */
  async checkTarget(principal: Principal, vmId: string, cloudId: string): Promise<void> {
    const [assessment] = await this.assess(principal, vmId, 'input.vmId', 0, cloudId);
    if (assessment && !assessment.eligible) {
      throw new BadUserInputError('input.targetCloudId', `cloud ${assessment.cloud.name} is not eligible: ${assessment.reasons.join('; ')}`);
    }
  }

  private async assess(principal: Principal, vmId: string, field: string, maxAgeMs: number, onlyCloudId?: string): Promise<CloudCandidate[]> {
    requirePermission(principal, Permission.READ);
    const vm = await this.vms.get(principal, vmId, field);
    const [visible, policies, vmType] = await Promise.all([
      this.clouds.list(principal),
      this.policies.applicableTo(principal.tenantId, vm.vmTypeId),
      vm.vmTypeId ? this.vmTypes.get(principal, vm.vmTypeId).catch(() => null) : Promise.resolve(null),
    ]);
    const home = visible.find((c) => c.id === vm.cloudId) ?? null;
    // The home cloud stays among the candidates when one target is checked: its link bounds the transfer.
    const candidates = onlyCloudId ? visible.filter((c) => c.id === onlyCloudId || c.id === vm.cloudId) : visible;
    const targetIds = candidates.map((c) => c.id);
    const [source, history, standbys] = await Promise.all([
      home ? this.sourceFacts(home, vm, maxAgeMs) : Promise.resolve(NO_SOURCE_FACTS),
      this.history(principal.tenantId, vm, targetIds),
      vm.vmTypeId ? this.freshStandbys(principal.tenantId, vm.vmTypeId, targetIds) : Promise.resolve(new Map<string, FreshStandby>()),
    ]);
    const input = {
      tenantId: principal.tenantId,
      sourceCloudId: vm.cloudId,
      candidates,
      policies,
      imageBytes: source.imageBytes,
      sourceDiskFormat: source.diskFormat,
      vmTypeId: vm.vmTypeId,
      configures: !!(vmType && (vmType.configureRecipe || vmType.monitoring || vmType.loadBalancer)),
      history,
      standbys,
    };
    // Only clouds that pass every other filter are asked: an excluded (or unreachable) cloud must not slow the answer.
    const asked = worthAsking(input).filter((c) => !onlyCloudId || c.id === onlyCloudId);
    const facts = await Promise.all(asked.map(async (cloud) => [cloud.id, await this.cloudFacts(principal, cloud, vm, vmType, source, maxAgeMs)] as const));
    const quotas = new Map(facts.map(([id, f]) => [id, f.quota]));
    const bootable = new Map(facts.flatMap(([id, f]) => (f.boot ? [[id, f.boot] as const] : [])));
    const ranked = matchmake({ ...input, quotas, bootable });
    return onlyCloudId ? ranked.filter((c) => c.cloud.id === onlyCloudId) : ranked;
  }

  /**
   * The tenant's finished (DONE) jobs into the candidate clouds that the learned estimates may use,
   * newest first: per target cloud, the LEARNED_WINDOW newest of each pool (same pair and VM type,
   * same pair, same target), so one query bounded by 3 x LEARNED_WINDOW rows per cloud. Only the
   * tenant's own jobs: another tenant's clones into a shared cloud are none of its business.
   */
  private async history(tenantId: string, vm: VmEntity, targetCloudIds: string[]): Promise<JobTiming[]> {
    if (targetCloudIds.length === 0) return [];
    const rows: { source_cloud_id: string; target_cloud_id: string; vm_type_id: string | null; phases: { phase: string; durationMs: number | null }[]; bytes_transferred: string | null; bytes_total: string | null }[] =
      await this.dataSource.query(
        `SELECT source_cloud_id, target_cloud_id, vm_type_id, phases, bytes_transferred, bytes_total FROM (
           SELECT j.source_cloud_id, j.target_cloud_id, v.vm_type_id, j.phases, j.bytes_transferred, j.bytes_total, j.finished_at, j.id,
             row_number() OVER (PARTITION BY j.target_cloud_id, j.source_cloud_id, v.vm_type_id ORDER BY j.finished_at DESC, j.id) AS by_type,
             row_number() OVER (PARTITION BY j.target_cloud_id, j.source_cloud_id ORDER BY j.finished_at DESC, j.id) AS by_pair,
             row_number() OVER (PARTITION BY j.target_cloud_id ORDER BY j.finished_at DESC, j.id) AS by_target
           FROM clone_jobs j JOIN vms v ON v.id = j.source_vm_id
           WHERE j.tenant_id = $1 AND j.state = 'DONE' AND j.finished_at IS NOT NULL AND j.target_cloud_id = ANY($2::uuid[])
         ) r
         WHERE by_target <= $5 OR (source_cloud_id = $3 AND by_pair <= $5) OR (source_cloud_id = $3 AND vm_type_id = $4 AND by_type <= $5)
         ORDER BY finished_at DESC, id`,
        [tenantId, targetCloudIds, vm.cloudId, vm.vmTypeId, LEARNED_WINDOW],
      );
    return rows.map((r) =>
      jobTimingOf({
        sourceCloudId: r.source_cloud_id,
        targetCloudId: r.target_cloud_id,
        vmTypeId: r.vm_type_id,
        phases: Array.isArray(r.phases) ? r.phases : [],
        bytesTransferred: r.bytes_transferred === null ? null : Number(r.bytes_transferred),
        bytesTotal: r.bytes_total === null ? null : Number(r.bytes_total),
      }),
    );
  }

  /** Per candidate cloud, the freshest standby image of the VM's type there (a clone there would boot from it). */
  private async freshStandbys(tenantId: string, vmTypeId: string, cloudIds: string[]): Promise<Map<string, FreshStandby>> {
    if (cloudIds.length === 0) return new Map();
    const rows: { id: string; cloud_id: string; expires_at: Date }[] = await this.dataSource.query(
      `SELECT DISTINCT ON (cloud_id) id, cloud_id, expires_at FROM standby_images
       WHERE tenant_id = $1 AND vm_type_id = $2 AND cloud_id = ANY($3::uuid[]) AND deleted_at IS NULL AND expires_at > now()
       ORDER BY cloud_id, expires_at DESC`,
      [tenantId, vmTypeId, cloudIds],
    );
    return new Map(rows.map((r) => [r.cloud_id, { id: r.id, expiresAt: new Date(r.expires_at) }]));
  }

  /** Quota and bootability of one candidate; never throws (what a cloud does not say in time stays unknown). */
  private async cloudFacts(
    principal: Principal,
    cloud: CloudEntity,
    vm: VmEntity,
    vmType: VmTypeEntity | null,
    source: SourceFacts,
    maxAgeMs: number,
  ): Promise<{ quota: InstanceQuota; boot: Boot | null }> {
    // Opened only when something is not in the cache: opening unseals the cloud's credentials.
    let opened: CloudApi | null = null;
    const api = () => (opened ??= this.cloudApis.forConnection(this.clouds.connectionOf(cloud)));
    // A cloud edited since (new credentials or endpoint) is another key: nothing read before the change is served after it.
    const key = `${cloud.id}:${cloud.updatedAt?.getTime?.() ?? ''}`;
    const [limits, boot] = await Promise.all([
      this.bounded(() => this.cache.get(`limits:${key}`, () => api().getLimits(), maxAgeMs)),
      this.bounded(() => this.bootability(api, key, cloud, principal.tenantId, vmType, cloud.id === vm.cloudId ? source.flavorId : null, maxAgeMs)),
    ]);
    const quota: InstanceQuota = limits.ok
      ? quotaFrom(limits.value, this.options.cacheMs)
      : { kind: 'UNKNOWN', why: limits.timedOut ? `limits not received within ${this.options.limitsTimeoutMs} ms` : `limits request failed: ${limits.message}` };
    return { quota, boot: boot.ok ? boot.value : null };
  }

  /** Whether the boot rule (domain/boot-choice.ts) finds a flavor and networks for this tenant's clone there. */
  private async bootability(api: () => CloudApi, key: string, cloud: CloudEntity, tenantId: string, vmType: VmTypeEntity | null, sourceFlavorId: string | null, maxAgeMs: number): Promise<Boot> {
    const [{ value: flavors }, { value: networks }] = await Promise.all([
      this.cache.get(`flavors:${key}`, () => api().listFlavors(), maxAgeMs),
      this.cache.get(`networks:${key}`, () => api().listNetworks(), maxAgeMs),
    ]);
    const target = bootTargetOf(cloud, tenantId);
    const flavor = chooseFlavor(flavors, vmType?.flavorHint ?? null, target, sourceFlavorId);
    if (!flavor.ok) return flavor;
    const nets = chooseNetworks(networks, vmType?.networkHint ?? null, target);
    return nets.ok ? { ok: true } : nets;
  }

  /** The source server's image size and disk format (what a snapshot will be close to) and flavor; unknown when the cloud does not say in time. */
  private async sourceFacts(home: CloudEntity, vm: VmEntity, maxAgeMs: number): Promise<SourceFacts> {
    const key = `source:${home.id}:${home.updatedAt?.getTime?.() ?? ''}:${vm.serverId}`;
    const facts = await this.bounded(() =>
      this.cache.get(key, async (): Promise<SourceFacts> => {
        const api = this.cloudApis.forConnection(this.clouds.connectionOf(home));
        const server = await api.getServer(vm.serverId);
        const image = server?.imageId ? await api.getImage(server.imageId) : null;
        return { imageBytes: image?.size ?? null, diskFormat: image?.diskFormat ?? null, flavorId: server?.flavorId ?? null };
      }, maxAgeMs),
    );
    return facts.ok ? facts.value.value : NO_SOURCE_FACTS;
  }

  /** Runs a cloud call with the dry run's deadline; the adapter bounds it itself, racing only stops this query from waiting. */
  private async bounded<T>(call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; timedOut: boolean; message: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.limitsTimeoutMs);
    });
    try {
      const value = await Promise.race([call(), timeout]);
      return value === 'timeout' ? { ok: false, timedOut: true, message: 'timed out' } : { ok: true, value };
    } catch (err) {
      return { ok: false, timedOut: false, message: tenantMessage(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Nova reports -1 for "no limit". An answer from the cache carries its age. */
function quotaFrom(answer: CachedAnswer<Limits>, cacheMs: number): InstanceQuota {
  const age = answer.cached ? { age: { seconds: answer.ageMs / 1000, maxSeconds: cacheMs / 1000 } } : {};
  const limits = answer.value;
  if (limits.maxInstances < 0) return { kind: 'UNLIMITED', ...age };
  return { kind: 'LIMITED', maxInstances: limits.maxInstances, usedInstances: limits.usedInstances, ...age };
}
