/**
 * Scaling decisions are made by the autoscaler (test/scheduler/autoscaler.test.ts drives it); tests
 * of the read side that need a decision of a given content store and publish one through
 * ScalingDecisionService.record (the one way the autoscaler does), over the real PostgreSQL event
 * bus, so a live subscriber hears of it on commit.
 */
import { Logger } from 'pino';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { PostgresEventBus } from '../../src/adapters/postgres/postgres-event-bus';
import { ScalingDecisionEntity } from '../../src/domain/entities';
import { NewScalingDecision, ScalingDecisionService } from '../../src/services/scaling-decision.service';

export type DecisionInput = NewScalingDecision;

export async function insertScalingDecision(ds: DataSource, databaseUrl: string, d: DecisionInput, logger: Logger = pino({ level: 'silent' })): Promise<ScalingDecisionEntity & { seq: number }> {
  const bus = new PostgresEventBus(ds, databaseUrl, logger);
  try {
    const { decision, seq } = await ds.transaction((tx) => new ScalingDecisionService(ds, bus).record(tx, d));
    return Object.assign(decision, { seq });
  } finally {
    await bus.close();
  }
}
