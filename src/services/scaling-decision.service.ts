/** Scaling decisions: the read side, and `record` / `recordMany`, the ways a decision is stored and published. */
import crypto from 'node:crypto';
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

/** A new decision's stored fields, its optional ones made explicit. */
function decisionFields(d: NewScalingDecision) {
  return {
    tenantId: d.tenantId,
    vmTypeId: d.vmTypeId,
    action: d.action,
    metric: d.metric ?? null,
    reason: d.reason,
    evidence: d.evidence ?? {},
    cloneJobId: d.cloneJobId ?? null,
  };
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
    const decision = await tx.save(tx.create(ScalingDecisionEntity, decisionFields(d)));
    const payload: ScalingDecisionPayload = { ...decision, decidedAt: decision.decidedAt.toISOString() };
    const event = await this.bus.publish(tx, { stream: scalingDecisionStream(d.tenantId), tenantId: d.tenantId, type: SCALING_DECISION_EVENT_TYPE, payload });
    return { decision, seq: event.seq };
  }

  /**
   * Many decisions in the caller's transaction, in two statements for the rows and two for their
   * events whatever their number (the scheduler's tick when many blocks begin at once); stored and
   * published as `record` would, in the order given.
   */
  async recordMany(tx: EntityManager, ds: readonly NewScalingDecision[]): Promise<{ decision: ScalingDecisionEntity; seq: number }[]> {
    if (ds.length === 0) return [];
    // The ids are made here, so each stored row is found by its id whatever order RETURNING gives.
    const ids = ds.map(() => crypto.randomUUID());
    const fields = ds.map(decisionFields);
    const rows: { id: string; decided_at: Date }[] = await tx.query(
      `INSERT INTO scaling_decisions (id, tenant_id, vm_type_id, action, metric, reason, evidence, clone_job_id)
       SELECT id, tenant_id, vm_type_id, action, metric, reason, evidence::jsonb, clone_job_id
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[])
            AS d(id, tenant_id, vm_type_id, action, metric, reason, evidence, clone_job_id)
       RETURNING id, decided_at`,
      [
        ids,
        fields.map((f) => f.tenantId),
        fields.map((f) => f.vmTypeId),
        fields.map((f) => f.action),
        fields.map((f) => f.metric),
        fields.map((f) => f.reason),
        fields.map((f) => JSON.stringify(f.evidence)),
        fields.map((f) => f.cloneJobId),
      ],
    );
    const decidedAt = new Map(rows.map((r) => [r.id, r.decided_at]));
    const decisions = fields.map((f, k) => tx.create(ScalingDecisionEntity, { ...f, id: ids[k], decidedAt: decidedAt.get(ids[k])! }));
    const events = await this.bus.publishMany(
      tx,
      decisions.map((decision) => ({
        stream: scalingDecisionStream(decision.tenantId),
        tenantId: decision.tenantId,
        type: SCALING_DECISION_EVENT_TYPE,
        payload: { ...decision, decidedAt: decision.decidedAt.toISOString() } satisfies ScalingDecisionPayload,
      })),
    );
    return decisions.map((decision, k) => ({ decision, seq: events[k].seq }));
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
