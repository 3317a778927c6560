/**
 * The monitoring poller, a task of the leader scheduler: every MONITORING_POLL_SECONDS the leader
 * reads every registered Nagios and stores fresh samples (MonitoringPollService); each server's
 * outcome is logged with its id, a failure as a warning.
 */
import { Logger } from 'pino';
import { MonitoringPollService, ServerPollResult } from '../services/monitoring-poll.service';
import { PeriodicTask } from './leader-scheduler';

export class MonitoringPoller implements PeriodicTask {
  readonly name = 'monitoring-poll';

  constructor(
    private readonly poll: MonitoringPollService,
    private readonly logger: Logger,
    readonly intervalMs: number,
  ) {}

  async run(): Promise<void> {
    for (const result of await this.poll.pollAll()) this.report(result);
  }

  private report(result: ServerPollResult): void {
    const fields = { monitoringServerId: result.serverId, tenantId: result.tenantId };
    if (!result.ok) {
      this.logger.warn({ ...fields, err: result.cause, lastError: result.error }, 'monitoring server could not be read');
      return;
    }
    const { stored, stale, unmatchedHosts, unrenderable, ambiguousHosts } = result;
    if (ambiguousHosts.length > 0) this.logger.warn({ ...fields, ambiguousHosts }, 'several VMs render to one Nagios host name; their samples are not stored');
    this.logger.debug({ ...fields, stored, stale, unmatchedHosts, unrenderable }, 'monitoring server polled');
  }
}
