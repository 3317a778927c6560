/**
 * The autoscaler's use case: for every VM type with an active threshold, gather the facts (live
 * VMs, their recent samples, clone and removal jobs), let the pure rules decide
 * (domain/scaling-rules), start the clone or removal through the same services the API uses, as
 * the scheduler acting for the VM type's tenant, and store the decision with its reasons.
 */
import { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { CloneJobState, terminalStates } from '../domain/clone-phase';
import { CloudEntity, ScalingDecisionEntity, TenantEntity, ThresholdEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { CloudHealth, ScalingAction, SampleState, VmOrigin } from '../domain/enums';
import { BadUserInputError, tenantMessage } from '../domain/errors';
import { explainNoTarget } from '../domain/matchmaking';
import { maxGapMs } from '../domain/hold';
import { autoscalerPrincipal } from '../domain/principal';
import { decideScaling, MetricSample, ScalingFacts, ScalingOutcome, ScalingVerdict, ScalingVm } from '../domain/scaling-rules';
import { AuditService } from './audit.service';
import { CloneJobService } from './clone-job.service';
import { MatchmakingService } from './matchmaking.service';
import { ScaleDownService } from './scale-down.service';
import { ScalingDecisionService } from './scaling-decision.service';

export interface AutoscalerOptions {
  /** The monitoring poll interval: three of them without a sample break a hold. */
  pollIntervalMs: number;
}

/** What one evaluation of one VM type came to (for logs and tests). */
export interface TypeEvaluation {
  vmTypeId: string;
  verdict: ScalingVerdict | null;
  /** Whether a decision row was stored (an identical blocked decision in a row is not). */
  recorded: boolean;
}

/** The evidence a decision keeps when the VM it clones is in a cloud that does not answer. */
interface UnreachableOrigin {
  cloudId: string;
  name: string;
  message: string;
}

const LIVE = `NOT IN (${terminalStates.map((s) => `'${s}'`).join(',')})`;

export class AutoscalerService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly decisions: ScalingDecisionService,
    private readonly clone: CloneJobService,
    private readonly scaleDown: ScaleDownService,
    private readonly matchmaking: MatchmakingService,
    private readonly audit: AuditService,
    private readonly logger: Logger,
    private readonly options: AutoscalerOptions,
  ) {}

  /** One round over every VM type with an active threshold; one type's failure does not stop the others. */
  async evaluateAll(now: Date = new Date()): Promise<TypeEvaluation[]> {
    const rows: { vm_type_id: string }[] = await this.dataSource.query(`SELECT DISTINCT vm_type_id FROM thresholds WHERE active`);
    const out: TypeEvaluation[] = [];
    for (const { vm_type_id: vmTypeId } of rows) {
      try {
        out.push(await this.evaluate(vmTypeId, now));
      } catch (err) {
        this.logger.warn({ err, vmTypeId }, 'autoscaler could not evaluate a VM type');
      }
    }
    return out;
  }

  async evaluate(vmTypeId: string, now: Date = new Date()): Promise<TypeEvaluation> {
    const facts = await this.factsOf(vmTypeId, now);
    if (!facts) return { vmTypeId, verdict: null, recorded: false };
    const verdict = decideScaling(facts.facts);
    if (!verdict) return { vmTypeId, verdict: null, recorded: false };
    if (verdict.action === ScalingAction.NONE) return { vmTypeId, verdict, recorded: await this.recordBlocked(facts.tenantId, vmTypeId, verdict) };
    await this.act(facts.tenantId, facts.tenantName, vmTypeId, verdict, now);
    return { vmTypeId, verdict, recorded: true };
  }

  /**
   * Starts the clone (the matchmaker picks the target) or the removal the verdict asks for, then
   * stores the decision naming the job. A start that is refused (no eligible cloud, a bound that
   * changed meanwhile) is stored as a blocked decision saying why.
   */
  private async act(tenantId: string, tenantName: string, vmTypeId: string, verdict: ScalingVerdict, now: Date): Promise<void> {
    const principal = autoscalerPrincipal(tenantId, tenantName);
    let cloneJobId: string | null = null;
    let evidence = verdict.evidence;
    let reason = verdict.reason;
    let origin: UnreachableOrigin | null = null;
    try {
      if (verdict.action === ScalingAction.SCALE_UP) {
        // cloneVm itself turns to a partner cloud's standby when the origin is UNREACHABLE; the decision says so.
        origin = await this.unreachableOrigin(verdict.sourceVmId!);
        const job = await this.clone.cloneVm(principal, { vmId: verdict.sourceVmId, idempotencyKey: `autoscaler:${vmTypeId}:${now.getTime()}` });
        cloneJobId = job.id;
        evidence = { ...evidence, targetCloudId: job.targetCloudId, standbyImageId: job.standbyImageId ?? null };
        if (origin) {
          const target = await this.dataSource.getRepository(CloudEntity).findOneByOrFail({ id: job.targetCloudId });
          const image = (job.artefacts as { standbyImageId?: string }).standbyImageId;
          reason = `${reason}; the origin cloud ${origin.name} is unreachable (${origin.message}): the clone boots from standby image ${image} in ${target.name}, the freshest there is, with no snapshot of the origin`;
          evidence = { ...evidence, originUnreachable: origin };
        }
      } else if (verdict.action === ScalingAction.PREPARE) {
        // Where the commit's clone would go now: the matchmaker's first choice for the source VM.
        const { cloudId, ...placement } = await this.matchmaking.pickTarget(principal, verdict.sourceVmId!);
        const job = await this.clone.prepareStandby(principal, vmTypeId, cloudId);
        cloneJobId = job.id;
        evidence = { ...evidence, targetCloudId: cloudId, placement };
      } else {
        const job = await this.scaleDown.scaleDownVm(principal, verdict.removeVmId!, verdict.reason);
        evidence = { ...evidence, scaleDownJobId: job.id };
      }
    } catch (err) {
      this.logger.warn({ err, vmTypeId, action: verdict.action }, 'autoscaler could not start its action');
      const refused: ScalingVerdict = {
        ...verdict,
        action: ScalingAction.NONE,
        outcome: ScalingOutcome.ACTION_REFUSED,
        reason: `${verdict.reason}; but it could not start: ${tenantMessage(err)}`,
        evidence: { ...evidence, outcome: ScalingOutcome.ACTION_REFUSED, decided: verdict.outcome, ...(origin ? { originUnreachable: origin } : {}) },
      };
      await this.recordBlocked(tenantId, vmTypeId, refused);
      return;
    }
    await this.dataSource.transaction(async (tx) => {
      const { decision } = await this.decisions.record(tx, { tenantId, vmTypeId, action: verdict.action, metric: verdict.metric, reason, evidence, cloneJobId });
      await this.audit.record(tx, principal, tenantId, 'scalingDecision.act', 'ScalingDecision', decision.id, { vmTypeId, action: verdict.action, cloneJobId, scaleDownJobId: evidence.scaleDownJobId ?? null });
    });
  }

  /** The source VM's cloud when its last health probe found it UNREACHABLE (the attacked cloud), else null. */
  private async unreachableOrigin(vmId: string): Promise<UnreachableOrigin | null> {
    const [row]: { id: string; name: string; health: CloudHealth; health_message: string | null }[] = await this.dataSource.query(
      `SELECT c.id, c.name, c.health, c.health_message FROM vms v JOIN clouds c ON c.id = v.cloud_id WHERE v.id = $1`,
      [vmId],
    );
    return row?.health === CloudHealth.UNREACHABLE ? { cloudId: row.id, name: row.name, message: row.health_message ?? 'last probe failed' } : null;
  }

  /**
   * A blocked decision is stored when it differs from the type's last decision (another outcome
   * or metric), not every tick while nothing changes: the log says when a block began.
   */
  private async recordBlocked(tenantId: string, vmTypeId: string, verdict: ScalingVerdict): Promise<boolean> {
    return this.dataSource.transaction(async (tx) => {
      // Serialises this check with another evaluation of the same type (a leader change mid-tick).
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`autoscaler:${vmTypeId}`]);
      const last = await tx.findOne(ScalingDecisionEntity, { where: { vmTypeId }, order: { decidedAt: 'DESC' } });
      if (last && last.action === ScalingAction.NONE && last.metric === verdict.metric && last.evidence.outcome === verdict.outcome) return false;
      await this.decisions.record(tx, { tenantId, vmTypeId, action: ScalingAction.NONE, metric: verdict.metric, reason: verdict.reason, evidence: verdict.evidence });
      return true;
    });
  }

  private async factsOf(vmTypeId: string, now: Date): Promise<{ facts: ScalingFacts; tenantId: string; tenantName: string } | null> {
    const ds = this.dataSource;
    const vmType = await ds.getRepository(VmTypeEntity).findOne({ where: { id: vmTypeId } });
    if (!vmType) return null;
    const tenant = await ds.getRepository(TenantEntity).findOneByOrFail({ id: vmType.tenantId });
    const thresholds = await ds.getRepository(ThresholdEntity).find({ where: { vmTypeId, active: true } });
    const maxGap = maxGapMs(this.options.pollIntervalMs);

    const vms = await ds.getRepository(VmEntity).query(
      `SELECT v.id, v.name, v.origin, v.state, v.created_at,
              EXISTS (SELECT 1 FROM scale_down_jobs d WHERE d.vm_id = v.id AND d.state ${LIVE}) AS removing,
              (SELECT j.id FROM clone_jobs j WHERE j.source_vm_id = v.id AND j.state ${LIVE} LIMIT 1) AS cloning
       FROM vms v WHERE v.vm_type_id = $1 AND v.retired_at IS NULL`,
      [vmTypeId],
    );
    const live = (vms as { id: string; name: string; origin: VmOrigin; state: string; created_at: Date; removing: boolean; cloning: string | null }[]).filter((v) => !v.removing);

    // Enough history to see the longest hold, plus one allowed gap before it.
    const longestHoldMs = Math.max(0, ...thresholds.map((t) => Math.max(t.warningHoldSeconds, t.criticalHoldSeconds) * 1000));
    const since = new Date(now.getTime() - longestHoldMs - maxGap);
    const samples: { vm_id: string; metric: string; state: SampleState; value: number | null; observed_at: Date }[] = live.length
      ? await ds.query(
          `SELECT vm_id, metric, state, value, observed_at FROM samples
           WHERE vm_id = ANY($1) AND metric = ANY($2) AND observed_at >= $3 AND observed_at <= $4
           ORDER BY observed_at, id`,
          [live.map((v) => v.id), thresholds.map((t) => t.metric), since, now],
        )
      : [];
    const byVm = new Map<string, Record<string, MetricSample[]>>();
    for (const s of samples) {
      const series = byVm.get(s.vm_id) ?? {};
      (series[s.metric] ??= []).push({ state: s.state, value: s.value, observedAt: s.observed_at });
      byVm.set(s.vm_id, series);
    }
    const scalingVms: ScalingVm[] = live.map((v) => ({
      id: v.id,
      name: v.name,
      origin: v.origin,
      state: v.state,
      createdAt: v.created_at,
      busy: v.cloning ? `source of clone job ${v.cloning}` : null,
      samples: byVm.get(v.id) ?? {},
    }));

    // A clone job belongs to the VM type of its source VM.
    const inFlight: { id: string; created_at: Date }[] = await ds.query(
      `SELECT j.id, j.created_at FROM clone_jobs j JOIN vms s ON s.id = j.source_vm_id
       WHERE s.vm_type_id = $1 AND j.purpose = 'CLONE' AND j.state ${LIVE} ORDER BY j.created_at`,
      [vmTypeId],
    );
    const [last] = await ds.query(
      `SELECT (SELECT max(j.created_at) FROM clone_jobs j JOIN vms s ON s.id = j.source_vm_id WHERE s.vm_type_id = $1 AND j.purpose = 'CLONE') AS last_clone_started,
              (SELECT max(d.created_at) FROM scale_down_jobs d WHERE d.vm_type_id = $1) AS last_scale_down`,
      [vmTypeId],
    );
    const [preparing]: { id: string }[] = await ds.query(
      `SELECT j.id FROM clone_jobs j JOIN vms s ON s.id = j.source_vm_id
       WHERE s.vm_type_id = $1 AND j.purpose = 'STANDBY' AND j.state ${LIVE} ORDER BY j.created_at LIMIT 1`,
      [vmTypeId],
    );
    const fresh: { cloud_id: string; expires_at: Date }[] = await ds.query(
      `SELECT cloud_id, expires_at FROM standby_images WHERE vm_type_id = $1 AND deleted_at IS NULL AND expires_at > $2`,
      [vmTypeId, now],
    );
    const [done] = await ds.query(
      `SELECT j.finished_at, extract(epoch FROM j.finished_at - j.created_at)::float8 AS seconds
       FROM clone_jobs j JOIN vms s ON s.id = j.source_vm_id
       WHERE s.vm_type_id = $1 AND j.purpose = 'CLONE' AND j.state = $2 AND j.finished_at IS NOT NULL
       ORDER BY j.finished_at DESC LIMIT 1`,
      [vmTypeId, CloneJobState.DONE],
    );
    return {
      tenantId: tenant.id,
      tenantName: tenant.name,
      facts: {
        now,
        maxGapMs: maxGap,
        vmType,
        // Plain values: the threshold goes into the decision's evidence as it was read.
        thresholds: thresholds.map(({ metric, active, warningHoldSeconds, criticalHoldSeconds, role, prepareOnWarning }) => ({ metric, active, warningHoldSeconds, criticalHoldSeconds, role, prepareOnWarning })),
        vms: scalingVms,
        removing: vms.length - live.length,
        clonesInFlight: inFlight.map((j) => ({ id: j.id, startedAt: j.created_at })),
        lastCloneStartedAt: last.last_clone_started ?? null,
        lastDoneClone: done ? { finishedAt: done.finished_at, seconds: Number(done.seconds) } : null,
        lastScaleDownAt: last.last_scale_down ?? null,
        standby: { preparingJobId: preparing?.id ?? null, fresh: fresh.map((r) => ({ cloudId: r.cloud_id, expiresAt: r.expires_at })) },
      },
    };
  }
}
