/**
 * Scaling decisions are made by the autoscaler, which does not exist yet: until it does, tests
 * insert a decision row and publish its event exactly as the scheduler will (the stream and type
 * src/services/scaling-decision.service.ts subscribes to, the entity as payload), through the
 * real PostgreSQL event bus, so a live subscriber hears of it on commit.
 */
import { Logger } from 'pino';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { PostgresEventBus } from '../../src/adapters/postgres/postgres-event-bus';
import { ScalingDecisionEntity } from '../../src/domain/entities';
import { ScalingAction } from '../../src/domain/enums';
import { scalingStream } from '../../src/services/scaling-decision.service';

export interface DecisionInput {
  tenantId: string;
  vmTypeId: string;
  action: ScalingAction;
  metric?: string | null;
  reason: string;
  evidence?: Record<string, unknown>;
  cloneJobId?: string | null;
}

export async function insertScalingDecision(ds: DataSource, databaseUrl: string, d: DecisionInput, logger: Logger = pino({ level: 'silent' })): Promise<ScalingDecisionEntity> {
  const bus = new PostgresEventBus(ds, databaseUrl, logger);
  try {
    return await ds.transaction(async (tx) => {
      const row = await tx.save(
        tx.create(ScalingDecisionEntity, { tenantId: d.tenantId, vmTypeId: d.vmTypeId, action: d.action, metric: d.metric ?? null, reason: d.reason, evidence: d.evidence ?? {}, cloneJobId: d.cloneJobId ?? null }),
      );
      await bus.publish(tx, { stream: scalingStream(d.vmTypeId), tenantId: d.tenantId, type: 'scaling.decision', payload: { ...row, decidedAt: row.decidedAt.toISOString() } });
      return row;
    });
  } finally {
    await bus.close();
  }
}
