/**
 * Cloud health: every registered cloud's Keystone is asked for a token within a short timeout
 * and the verdict is stored on the cloud. A change of health is published on the cloud's stream;
 * it is an observation, not anyone's action, so it is not audited. The scheduler's leader runs
 * `probeAll` periodically (src/scheduler/cloud-health.prober.ts).
 */
import { DataSource, IsNull } from 'typeorm';
import { HealthRule, HealthVerdict, judgeProbe, ProbeOutcome } from '../domain/cloud-health';
import { CloudEntity } from '../domain/entities';
import { CloudHealth } from '../domain/enums';
import { DomainError } from '../domain/errors';
import { CloudConnector } from '../ports/cloud-connector.port';
import { EventBus } from '../ports/event-bus.port';
import { CloudService } from './cloud.service';

export const cloudStream = (cloudId: string) => `cloud:${cloudId}`;
export const CLOUD_HEALTH_EVENT_TYPE = 'cloud.health';

/** The payload of a `cloud.health` event. */
export interface CloudHealthChange {
  cloudId: string;
  name: string;
  health: CloudHealth;
  previousHealth: CloudHealth;
  message: string | null;
  latencyMs: number | null;
  checkedAt: string;
}

export interface ProbeOptions extends HealthRule {
  timeoutMs: number;
}

export type CloudProbeResult =
  /** `failure`: the error behind an UNREACHABLE verdict, for the log (its message is all a tenant reads). */
  | { cloudId: string; verdict: HealthVerdict; previousHealth: CloudHealth; failure?: DomainError }
  /** The probe could not be made at all (a bug, or credentials that no longer open): health is left as it was. */
  | { cloudId: string; error: unknown };

/** healthMessage is varchar(512). */
const MAX_MESSAGE = 512;

export class CloudHealthService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
    private readonly clouds: CloudService,
    private readonly connector: CloudConnector,
  ) {}

  /** Probes every registered (not deregistered) cloud at once. */
  async probeAll(options: ProbeOptions): Promise<CloudProbeResult[]> {
    const clouds = await this.dataSource.getRepository(CloudEntity).find({ where: { deregisteredAt: IsNull() }, order: { createdAt: 'ASC' } });
    const results = await Promise.all(clouds.map((cloud) => this.probe(cloud, options)));
    return results.filter((r): r is CloudProbeResult => r !== null);
  }

  /** Null when the cloud was deregistered while it was probed. */
  private async probe(cloud: CloudEntity, options: ProbeOptions): Promise<CloudProbeResult | null> {
    let outcome: ProbeOutcome;
    let failure: DomainError | undefined;
    try {
      outcome = { ok: true, ...(await this.connector.probe(this.clouds.connectionOf(cloud), options.timeoutMs)) };
    } catch (err) {
      if (!(err instanceof DomainError)) return { cloudId: cloud.id, error: err };
      outcome = { ok: false, reason: err.message };
      failure = err;
    }
    const verdict = judgeProbe(outcome, options);
    if (verdict.message && verdict.message.length > MAX_MESSAGE) verdict.message = `${verdict.message.slice(0, MAX_MESSAGE - 3)}...`;
    const previousHealth = await this.record(cloud.id, verdict);
    return previousHealth === null ? null : { cloudId: cloud.id, verdict, previousHealth, ...(failure ? { failure } : {}) };
  }

  /** Stores the verdict and, when the health changed, its event, together; answers the health before. */
  private async record(cloudId: string, verdict: HealthVerdict): Promise<CloudHealth | null> {
    return this.dataSource.transaction(async (tx) => {
      const cloud = await tx.findOne(CloudEntity, { where: { id: cloudId, deregisteredAt: IsNull() }, lock: { mode: 'pessimistic_write' } });
      if (!cloud) return null;
      const checkedAt = new Date();
      // Not through the entity: a probe is not a change of the cloud, so updated_at stays.
      await tx.query(`UPDATE clouds SET health = $2, health_message = $3, health_latency_ms = $4, health_checked_at = $5 WHERE id = $1`, [
        cloudId,
        verdict.health,
        verdict.message,
        verdict.latencyMs,
        checkedAt,
      ]);
      if (cloud.health !== verdict.health) {
        const payload: CloudHealthChange = {
          cloudId,
          name: cloud.name,
          health: verdict.health,
          previousHealth: cloud.health,
          message: verdict.message,
          latencyMs: verdict.latencyMs,
          checkedAt: checkedAt.toISOString(),
        };
        await this.bus.publish(tx, { stream: cloudStream(cloudId), tenantId: cloud.tenantId, type: CLOUD_HEALTH_EVENT_TYPE, payload });
      }
      return cloud.health;
    });
  }
}
