/**
 * The matchmaker as a use case: gathers a VM's candidate clouds, its policies, each cloud's
 * instance quota and whether the clone could boot there, and the size of the source server's
 * image, and lets the pure rules in domain/matchmaking decide. Answers the `matchmake` dry run,
 * picks the target when a clone names none, and checks the target a clone names.
 */
import { bootTargetOf, chooseFlavor, chooseNetworks } from '../domain/boot-choice';
import { CloudEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { BadUserInputError, tenantMessage } from '../domain/errors';
import { CloudAssessment, explainNoTarget, InstanceQuota, matchmake } from '../domain/matchmaking';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { CloudApi, CloudApiFactory, Limits } from '../ports/cloud-api.port';
import { requirePermission } from './access';
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
}

export const DEFAULT_MATCHMAKING_OPTIONS: MatchmakingOptions = { limitsTimeoutMs: 3_000 };

export type CloudCandidate = CloudAssessment<CloudEntity>;

type Boot = { ok: true } | { ok: false; reason: string };

/** What the source side tells: the bytes a clone will move, and the server's flavor (for a clone in its own cloud). */
interface SourceFacts {
  imageBytes: number | null;
  flavorId: string | null;
  /** The source image's disk_format: a target that cannot take it (even converted) is excluded. */
  diskFormat: string | null;
}

export class MatchmakingService {
  private readonly options: MatchmakingOptions;

  constructor(
    private readonly vms: VmService,
    private readonly vmTypes: VmTypeService,
    private readonly clouds: CloudService,
    private readonly policies: PolicyService,
    private readonly cloudApis: CloudApiFactory,
    options: Partial<MatchmakingOptions> = {},
  ) {
    this.options = { ...DEFAULT_MATCHMAKING_OPTIONS, ...options };
  }

  /** Every cloud the caller can see as a target for a clone of the VM: eligible ones ranked, each with its reasons. */
  async rank(principal: Principal, vmId: string): Promise<CloudCandidate[]> {
    return this.assess(principal, vmId, 'vmId');
  }

  /** The best eligible cloud for a clone of the VM, or BAD_USER_INPUT on input.targetCloudId saying why none is. */
  async pickTarget(principal: Principal, vmId: string): Promise<string> {
    const candidates = await this.assess(principal, vmId, 'input.vmId');
    const best = candidates.find((c) => c.rank === 1);
    if (!best) throw new BadUserInputError('input.targetCloudId', `no eligible target cloud: ${explainNoTarget(candidates)}`);
    return best.cloud.id;
  }

  /**
   * A target a clone names must pass the same filters as one the matchmaker picks (policies,
   * health, quota, a flavor and network to boot with), before any snapshot is taken.
   */
  async checkTarget(principal: Principal, vmId: string, cloudId: string): Promise<void> {
    const [assessment] = await this.assess(principal, vmId, 'input.vmId', cloudId);
    if (assessment && !assessment.eligible) {
      throw new BadUserInputError('input.targetCloudId', `cloud ${assessment.cloud.name} is not eligible: ${assessment.reasons.join('; ')}`);
    }
  }

  private async assess(principal: Principal, vmId: string, field: string, onlyCloudId?: string): Promise<CloudCandidate[]> {
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
    const source = home ? await this.sourceFacts(home, vm) : { imageBytes: null, flavorId: null, diskFormat: null };
    const input = { tenantId: principal.tenantId, sourceCloudId: vm.cloudId, candidates, policies, imageBytes: source.imageBytes, sourceDiskFormat: source.diskFormat };
    // Only clouds that pass every other filter are asked: an excluded (or unreachable) cloud must not slow the answer.
    const worthAsking = matchmake(input)
      .filter((c) => c.eligible && (!onlyCloudId || c.cloud.id === onlyCloudId))
      .map((c) => c.cloud);
    const facts = await Promise.all(worthAsking.map(async (cloud) => [cloud.id, await this.cloudFacts(principal, cloud, vm, vmType, source)] as const));
    const quotas = new Map(facts.map(([id, f]) => [id, f.quota]));
    const bootable = new Map(facts.flatMap(([id, f]) => (f.boot ? [[id, f.boot] as const] : [])));
    const ranked = matchmake({ ...input, quotas, bootable });
    return onlyCloudId ? ranked.filter((c) => c.cloud.id === onlyCloudId) : ranked;
  }

  /** Quota and bootability of one candidate; never throws (what a cloud does not say in time stays unknown). */
  private async cloudFacts(principal: Principal, cloud: CloudEntity, vm: VmEntity, vmType: VmTypeEntity | null, source: SourceFacts): Promise<{ quota: InstanceQuota; boot: Boot | null }> {
    const api = this.cloudApis.forConnection(this.clouds.connectionOf(cloud));
    const [limits, boot] = await Promise.all([
      this.bounded(() => api.getLimits()),
      this.bounded(() => this.bootability(api, cloud, principal.tenantId, vmType, cloud.id === vm.cloudId ? source.flavorId : null)),
    ]);
    const quota: InstanceQuota =
      limits.ok ? quotaFrom(limits.value) : { kind: 'UNKNOWN', why: limits.timedOut ? `limits not received within ${this.options.limitsTimeoutMs} ms` : `limits request failed: ${limits.message}` };
    return { quota, boot: boot.ok ? boot.value : null };
  }

  /** Whether the boot rule (domain/boot-choice.ts) finds a flavor and networks for this tenant's clone there. */
  private async bootability(api: CloudApi, cloud: CloudEntity, tenantId: string, vmType: VmTypeEntity | null, sourceFlavorId: string | null): Promise<Boot> {
    const [flavors, networks] = await Promise.all([api.listFlavors(), api.listNetworks()]);
    const target = bootTargetOf(cloud, tenantId);
    const flavor = chooseFlavor(flavors, vmType?.flavorHint ?? null, target, sourceFlavorId);
    if (!flavor.ok) return flavor;
    const nets = chooseNetworks(networks, vmType?.networkHint ?? null, target);
    return nets.ok ? { ok: true } : nets;
  }

  /** The source server's image size (what a snapshot will be close to) and flavor; unknown when the cloud does not say in time. */
  private async sourceFacts(home: CloudEntity, vm: VmEntity): Promise<SourceFacts> {
    const api = this.cloudApis.forConnection(this.clouds.connectionOf(home));
    const facts = await this.bounded(async () => {
      const server = await api.getServer(vm.serverId);
      const image = server?.imageId ? await api.getImage(server.imageId) : null;
      return { imageBytes: image?.size ?? null, flavorId: server?.flavorId ?? null, diskFormat: image?.diskFormat ?? null };
    });
    return facts.ok ? facts.value : { imageBytes: null, flavorId: null, diskFormat: null };
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

/** Nova reports -1 for "no limit". */
function quotaFrom(limits: Limits): InstanceQuota {
  if (limits.maxInstances < 0) return { kind: 'UNLIMITED' };
  return { kind: 'LIMITED', maxInstances: limits.maxInstances, usedInstances: limits.usedInstances };
}
