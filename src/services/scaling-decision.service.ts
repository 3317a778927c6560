/** Scaling decisions (read side; the scheduler writes them). */
import { DataSource, FindOptionsWhere } from 'typeorm';
import { ScalingDecisionEntity } from '../domain/entities';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { BusEvent, EventBus } from '../ports/event-bus.port';
import { requirePermission } from './access';
import { pageSizeRule, parseInput, uuidRule } from './validation';

/** Decisions are published on one stream per VM type. */
export const scalingStream = (vmTypeId: string) => `scaling:${vmTypeId}`;

export class ScalingDecisionService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
  ) {}

  async list(principal: Principal, vmTypeId: string | null | undefined, first: number | null | undefined): Promise<ScalingDecisionEntity[]> {
    requirePermission(principal, Permission.READ);
    const take = parseInput(pageSizeRule(50), first ?? undefined, 'first');
    const where: FindOptionsWhere<ScalingDecisionEntity> = { tenantId: principal.tenantId };
    if (vmTypeId) where.vmTypeId = parseInput(uuidRule, vmTypeId, 'vmTypeId');
    return this.dataSource.getRepository(ScalingDecisionEntity).find({ where, order: { decidedAt: 'DESC' }, take });
  }

  /** Live decisions of the caller's tenant, optionally of one VM type. */
  subscribe(principal: Principal, vmTypeId: string | null | undefined): AsyncIterableIterator<BusEvent> {
    requirePermission(principal, Permission.READ);
    const only = vmTypeId ? scalingStream(parseInput(uuidRule, vmTypeId, 'vmTypeId')) : null;
    return this.bus.subscribeTenant(principal.tenantId, (e) => e.type === 'scaling.decision' && (only === null || e.stream === only));
  }
}
