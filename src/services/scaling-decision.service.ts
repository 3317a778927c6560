/** Scaling decisions: the read side, and `record`, the one way a decision is stored and published. */
import { DataSource, EntityManager, FindOptionsWhere } from 'typeorm';
import { z } from 'zod';
import { ScalingDecisionEntity } from '../domain/entities';
import { ScalingAction } from '../domain/enums';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { BusEvent, EventBus } from '../ports/event-bus.port';
import { requirePermission } from './access';
import { pageSizeRule, parseInput, uuidRule } from './validation';

/**
 * Decisions are published on one stream per tenant, so every decision of a tenant has one dense
 * seq and a subscriber (of all VM types or of one) resumes with `afterSeq` without a gap.
 */
export const scalingDecisionStream = (tenantId: string) => `scaling-decisions:${tenantId}`;
export const SCALING_DECISION_EVENT_TYPE = 'scaling.decision';

export interface NewScalingDecision {
  tenantId: string;
  vmTypeId: string;
  action: ScalingAction;
  metric?: string | null;
  reason: string;
  evidence?: Record<string, unknown>;
  cloneJobId?: string | null;
}

/** The payload of a decision event: the stored row, its time as ISO text. */
export type ScalingDecisionPayload = Omit<ScalingDecisionEntity, 'decidedAt'> & { decidedAt: string };

export class ScalingDecisionService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
  ) {}

  /** Stores a decision and publishes it in the caller's transaction (subscribers hear of it on commit). */
  async record(tx: EntityManager, d: NewScalingDecision): Promise<{ decision: ScalingDecisionEntity; seq: number }> {
    const decision = await tx.save(
      tx.create(ScalingDecisionEntity, {
        tenantId: d.tenantId,
        vmTypeId: d.vmTypeId,
        action: d.action,
        metric: d.metric ?? null,
        reason: d.reason,
        evidence: d.evidence ?? {},
        cloneJobId: d.cloneJobId ?? null,
      }),
    );
    const payload: ScalingDecisionPayload = { ...decision, decidedAt: decision.decidedAt.toISOString() };
    const event = await this.bus.publish(tx, { stream: scalingDecisionStream(d.tenantId), tenantId: d.tenantId, type: SCALING_DECISION_EVENT_TYPE, payload });
    return { decision, seq: event.seq };
  }

  async list(principal: Principal, vmTypeId: string | null | undefined, first: number | null | undefined): Promise<ScalingDecisionEntity[]> {
    requirePermission(principal, Permission.READ);
    const take = parseInput(pageSizeRule(50), first ?? undefined, 'first');
    const where: FindOptionsWhere<ScalingDecisionEntity> = { tenantId: principal.tenantId };
    if (vmTypeId) where.vmTypeId = parseInput(uuidRule, vmTypeId, 'vmTypeId');
    return this.dataSource.getRepository(ScalingDecisionEntity).find({ where, order: { decidedAt: 'DESC' }, take });
  }

  /**
   * Decisions of the caller's tenant (optionally of one VM type): with `afterSeq`, the stored ones
   * after it first, then live ones; without it, live ones from now on.
   */
  async subscribe(principal: Principal, vmTypeId: string | null | undefined, afterSeq: number | null | undefined): Promise<AsyncIterableIterator<BusEvent>> {
    requirePermission(principal, Permission.READ);
    const only = vmTypeId ? parseInput(uuidRule, vmTypeId, 'vmTypeId') : null;
    const stream = scalingDecisionStream(principal.tenantId);
    let after: number;
    if (afterSeq === null || afterSeq === undefined) {
      // The stream's current end: anything committed after this read has a larger seq and is delivered.
      const [row] = await this.dataSource.query(`SELECT last_seq FROM event_streams WHERE stream = $1`, [stream]);
      after = row ? Number(row.last_seq) : 0;
    } else {
      after = parseInput(z.number().int().min(0, 'must not be negative'), afterSeq, 'afterSeq');
    }
    const events = this.bus.subscribeStream(stream, after);
    return only === null ? events : ofVmType(events, only);
  }
}

/** Only the decisions of one VM type; returning it ends the inner stream. */
function ofVmType(inner: AsyncIterableIterator<BusEvent>, vmTypeId: string): AsyncIterableIterator<BusEvent> {
  const iterator: AsyncIterableIterator<BusEvent> = {
    async next() {
      for (;;) {
        const r = await inner.next();
        if (r.done || (r.value.payload as Partial<ScalingDecisionPayload>).vmTypeId === vmTypeId) return r;
      }
    },
    async return() {
      await inner.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
