/**
 * The periodic cloud health probe. Every interval each replica asks for the leader lock; only
 * the replica holding it probes every registered cloud's Keystone (CloudHealthService) and logs
 * each change of health. A leader that dies frees the lock and another replica takes over at
 * its next interval.
 */
import { Logger } from 'pino';
import { Metrics } from '../api/metrics';
import { CloudHealth } from '../domain/enums';
import { CloudHealthService, CloudProbeResult, ProbeOptions } from '../services/cloud-health.service';
import { LeaderLock } from './leader-lock';

/** Advisory lock ids in use: 7_310_001 migrations, 7_310_002 admin bootstrap, this one. */
export const CLOUD_HEALTH_LOCK_ID = 7_310_003;

/** A short timeout: a Keystone that takes longer is unusable for clones anyway. Slower than 2 s is DEGRADED. */
export const DEFAULT_PROBE_OPTIONS: ProbeOptions = { timeoutMs: 5000, degradedAfterMs: 2000 };

export interface CloudHealthProberOptions extends ProbeOptions {
  intervalMs: number;
}

export class CloudHealthProber {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly health: CloudHealthService,
    private readonly lock: LeaderLock,
    private readonly logger: Logger,
    private readonly metrics: Pick<Metrics, 'cloudHealthLeader' | 'cloudHealthProbes'>,
    private readonly options: CloudHealthProberOptions,
  ) {}

  /** The first round runs at once, so a new leader refreshes health without waiting an interval. */
  start(): void {
    this.schedule(0);
  }

  /** Waits for a running round, then gives up the lock so another replica takes over. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round;
    await this.lock.release();
    this.metrics.cloudHealthLeader.set(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      this.round = this.runRound().finally(() => {
        this.round = null;
        // Rounds never overlap: one slower than the interval delays the next instead.
        this.schedule(Math.max(0, this.options.intervalMs - (Date.now() - started)));
      });
    }, delayMs);
    this.timer.unref();
  }

  private async runRound(): Promise<void> {
    try {
      const leader = await this.lock.acquire();
      this.metrics.cloudHealthLeader.set(leader ? 1 : 0);
      if (!leader || this.stopped) return;
      for (const result of await this.health.probeAll(this.options)) this.report(result);
    } catch (err) {
      this.logger.warn({ err }, 'cloud health round failed');
    }
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
