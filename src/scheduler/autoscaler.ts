/**
 * The autoscaler, a task of the leader scheduler: every SCHEDULER_TICK_SECONDS the leader
 * evaluates every VM type with an active threshold (AutoscalerService). Only the leader acts, so
 * two replicas never scale the same type at once.
 */
import { Logger } from 'pino';
import { ScalingAction } from '../domain/enums';
import { AutoscalerService } from '../services/autoscaler.service';
import { PeriodicTask } from './leader-scheduler';

export class Autoscaler implements PeriodicTask {
  readonly name = 'autoscaler';

  constructor(
    private readonly autoscaler: AutoscalerService,
    private readonly logger: Logger,
    readonly intervalMs: number,
  ) {}

  async run(): Promise<void> {
    for (const { vmTypeId, verdict, recorded } of await this.autoscaler.evaluateAll()) {
      if (!verdict || !recorded) continue;
      const fields = { vmTypeId, action: verdict.action, outcome: verdict.outcome, metric: verdict.metric };
      if (verdict.action === ScalingAction.NONE) this.logger.info(fields, 'autoscaler held back');
      else this.logger.info(fields, 'autoscaler acted');
    }
  }
}
