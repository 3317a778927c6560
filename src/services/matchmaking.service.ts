/**
 * The matchmaker as a use case: gathers a VM's candidate clouds, its policies and each cloud's
 * instance quota, and lets the pure rules in domain/matchmaking decide. Answers the `matchmake`
 * dry run and picks the target when a clone names none.
 */
import { CloudEntity } from '../domain/entities';
import { BadUserInputError, DomainError } from '../domain/errors';
import { CloudAssessment, explainNoTarget, InstanceQuota, matchmake } from '../domain/matchmaking';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { CloudApiFactory, Limits } from '../ports/cloud-api.port';
import { requirePermission } from './access';
import { CloudService } from './cloud.service';
import { PolicyService } from './policy.service';
import { VmService } from './vm.service';

export interface MatchmakingOptions {
  /**
   * How long to wait for a cloud's Nova limits. A dry run should answer promptly, and a cloud too
   * slow to say its quota is no worse off than one whose quota is unknown.
   */
  limitsTimeoutMs: number;
}

export const DEFAULT_MATCHMAKING_OPTIONS: MatchmakingOptions = { limitsTimeoutMs: 3_000 };

export type CloudCandidate = CloudAssessment<CloudEntity>;

export class MatchmakingService {
  private readonly options: MatchmakingOptions;

  constructor(
    private readonly vms: VmService,
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

  private async assess(principal: Principal, vmId: string, field: string): Promise<CloudCandidate[]> {
    requirePermission(principal, Permission.READ);
    const vm = await this.vms.get(principal, vmId, field);
    const [candidates, policies] = await Promise.all([this.clouds.list(principal), this.policies.applicableTo(principal.tenantId, vm.vmTypeId)]);
    const input = {
      tenantId: principal.tenantId,
      sourceCloudId: vm.cloudId,
      candidates,
      policies,
      // The source server's image does not exist until the clone snapshots it.
      imageBytes: null,
    };
    // Only clouds that pass every other filter are asked: an excluded (or unreachable) cloud must not slow the answer.
    const worthAsking = matchmake(input).filter((c) => c.eligible).map((c) => c.cloud);
    const quotas = new Map(await Promise.all(worthAsking.map(async (cloud) => [cloud.id, await this.quotaOf(cloud)] as const)));
    return matchmake({ ...input, quotas });
  }

  /** Never throws: a cloud that fails or does not answer in time has an unknown quota, with the reason. */
  private async quotaOf(cloud: CloudEntity): Promise<InstanceQuota> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.limitsTimeoutMs);
    });
    try {
      // The adapter bounds the call itself; racing only stops this query from waiting for it.
      const limits = await Promise.race([this.cloudApis.forConnection(this.clouds.connectionOf(cloud)).getLimits(), timeout]);
      if (limits === 'timeout') return { kind: 'UNKNOWN', why: `limits not received within ${this.options.limitsTimeoutMs} ms` };
      return quotaFrom(limits);
    } catch (err) {
      // Domain errors carry at most the fault's own message; anything else is not shown (nor worth showing) to a tenant.
      return { kind: 'UNKNOWN', why: `limits request failed: ${err instanceof DomainError ? err.message : 'internal error'}` };
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
