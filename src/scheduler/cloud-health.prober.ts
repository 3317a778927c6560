/**
 * The periodic cloud health probe, a task of the leader scheduler: the leader probes every
 * registered cloud's Keystone (CloudHealthService) and logs each change of health.
 */
import { Logger } from 'pino';
import { Metrics } from '../api/metrics';
import { CloudHealth } from '../domain/enums';
import { CloudHealthService, CloudProbeResult, ProbeOptions } from '../services/cloud-health.service';
import { PeriodicTask } from './leader-scheduler';

/** A short timeout: a Keystone that takes longer is unusable for clones anyway. Slower than 2 s is DEGRADED. */
export const DEFAULT_PROBE_OPTIONS: ProbeOptions = { timeoutMs: 5000, degradedAfterMs: 2000 };

export class CloudHealthProber implements PeriodicTask {
  readonly name = 'cloud-health';

  constructor(
    private readonly health: CloudHealthService,
    private readonly logger: Logger,
    private readonly metrics: Pick<Metrics, 'cloudHealthProbes'>,
    readonly intervalMs: number,
    private readonly options: ProbeOptions = DEFAULT_PROBE_OPTIONS,
  ) {}

  async run(): Promise<void> {
    for (const result of await this.health.probeAll(this.options)) this.report(result);
  }

  private report(result: CloudProbeResult): void {
    if ('error' in result) {
      this.metrics.cloudHealthProbes.inc({ health: 'ERROR' });
      this.logger.error({ err: result.error, cloudId: result.cloudId }, 'could not probe cloud');
      return;
    }
    const { cloudId, verdict, previousHealth, failure } = result;
    this.metrics.cloudHealthProbes.inc({ health: verdict.health });
    const fields = { cloudId, health: verdict.health, previousHealth, latencyMs: verdict.latencyMs, healthMessage: verdict.message, ...(failure ? { err: failure } : {}) };
    if (verdict.health === previousHealth) this.logger.debug(fields, 'cloud probed');
    else if (verdict.health === CloudHealth.HEALTHY) this.logger.info(fields, 'cloud health changed');
    else this.logger.warn(fields, 'cloud health changed');
  }
}
