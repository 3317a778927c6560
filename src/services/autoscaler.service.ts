/**
 * The autoscaler's use case: for every VM type with an active threshold, gather the facts (live
 * VMs, their recent samples, clone and removal jobs), let the pure rules decide
 * (domain/scaling-rules), start the clone or removal through the same services the API uses, as
 * the scheduler acting for the VM type's tenant, and store the decision with its reasons.
 *
 * The facts of all types are read together, set-based (factsOfTypes): a tick costs the same ten
 * queries for 3 VM types or 1,000; the blocked decisions that differ from their type's last one
 * are stored together (seven statements however many); only a type whose verdict asks for an
 * action costs more.
 */
import { Logger } from 'pino';
import { DataSource, In } from 'typeorm';
import { CloneJobPurpose, CloneJobState, terminalStates } from '../domain/clone-phase';
import { CloudEntity, ThresholdEntity } from '../domain/entities';
import { CloudHealth, ScalingAction, SampleState, VmOrigin } from '../domain/enums';
import { BadUserInputError, tenantMessage } from '../domain/errors';
import { explainNoTarget } from '../domain/matchmaking';
import { maxGapMs } from '../domain/hold';
import { autoscalerPrincipal } from '../domain/principal';
import { decideScaling, MetricSample, RECENT_CLONES, ScalingFacts, ScalingOutcome, ScalingVerdict, ScalingVm, ScalingVmType } from '../domain/scaling-rules';
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

/** A blocked verdict to store for a VM type. */
interface NewBlock {
  tenantId: string;
  vmTypeId: string;
  verdict: ScalingVerdict;
}

/** One VM type's facts as the rules take them, with whom it belongs to and its last stored decision. */
export interface TypeFacts {
  facts: ScalingFacts;
  tenantId: string;
  tenantName: string;
  /** The type's newest decision: a blocked verdict identical to it is not stored again (and costs no query). */
  lastDecision: { action: ScalingAction; metric: string | null; outcome: unknown } | null;
}

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

  /**
   * One round over every VM type with an active threshold: the facts of all of them in a bounded
   * number of queries, then the pure rules per type; one type's failure does not stop the others.
   * The blocks that begin this round are stored together (recordBlocked), so a round where a
   * hundred of them begin costs the same statements as one where one does.
   */
  async evaluateAll(now: Date = new Date()): Promise<TypeEvaluation[]> {
    const out: (TypeEvaluation | null)[] = [];
    const blocks: (NewBlock & { at: number })[] = [];
    for (const typeFacts of await this.factsOfTypes(null, now)) {
      const vmTypeId = typeFacts.facts.vmType.id;
      try {
        const verdict = decideScaling(typeFacts.facts);
        if (verdict?.action === ScalingAction.NONE && !sameBlock(typeFacts.lastDecision, verdict)) {
          blocks.push({ tenantId: typeFacts.tenantId, vmTypeId, verdict, at: out.length });
          out.push(null);
        } else {
          out.push(await this.decide(typeFacts, verdict, now));
        }
      } catch (err) {
        this.logger.warn({ err, vmTypeId }, 'autoscaler could not evaluate a VM type');
      }
    }
    if (blocks.length > 0) {
      let stored: Set<string>;
      try {
        stored = await this.recordBlocked(blocks);
      } catch (err) {
        // One type's row must not keep the others' from being stored: each on its own then.
        this.logger.warn({ err, blocks: blocks.length }, 'autoscaler could not store the new blocks together; storing them one by one');
        stored = new Set();
        for (const b of blocks) {
          try {
            for (const id of await this.recordBlocked([b])) stored.add(id);
          } catch (err) {
            this.logger.warn({ err, vmTypeId: b.vmTypeId }, 'autoscaler could not evaluate a VM type');
          }
        }
      }
      for (const b of blocks) out[b.at] = { vmTypeId: b.vmTypeId, verdict: b.verdict, recorded: stored.has(b.vmTypeId) };
    }
    return out.filter((e): e is TypeEvaluation => e !== null);
  }

  /** One VM type (whatever its thresholds): the same facts and rules as a round over all of them. */
  async evaluate(vmTypeId: string, now: Date = new Date()): Promise<TypeEvaluation> {
    const [typeFacts] = await this.factsOfTypes([vmTypeId], now);
    if (!typeFacts) return { vmTypeId, verdict: null, recorded: false };
    return this.decide(typeFacts, decideScaling(typeFacts.facts), now);
  }

  private async decide(t: TypeFacts, verdict: ScalingVerdict | null, now: Date): Promise<TypeEvaluation> {
    const vmTypeId = t.facts.vmType.id;
    if (!verdict) return { vmTypeId, verdict: null, recorded: false };
    if (verdict.action === ScalingAction.NONE) {
      // The common case at scale: a block that goes on, already stored when it began.
      if (sameBlock(t.lastDecision, verdict)) return { vmTypeId, verdict, recorded: false };
      const stored = await this.recordBlocked([{ tenantId: t.tenantId, vmTypeId, verdict }]);
      return { vmTypeId, verdict, recorded: stored.has(vmTypeId) };
    }
    await this.act(t.tenantId, t.tenantName, vmTypeId, verdict, now);
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
      await this.recordBlocked([{ tenantId, vmTypeId, verdict: refused }]);
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
   * or metric), not every tick while nothing changes: the log says when a block began. Returns
   * the VM types whose decision was stored. One transaction and the same seven statements for
   * one block or a hundred (locks, last decisions, rows and events each set-based).
   */
  private async recordBlocked(blocks: readonly NewBlock[]): Promise<Set<string>> {
    return this.dataSource.transaction(async (tx) => {
      // Serialises this check with another evaluation of the same types (a leader change mid-tick);
      // taken in one order by every caller, so two of them never wait on each other in a cycle.
      const keys = [...new Set(blocks.map((b) => `autoscaler:${b.vmTypeId}`))].sort();
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest($1::text[]) AS k`, [keys]);
      const last: { vm_type_id: string; action: ScalingAction; metric: string | null; outcome: unknown }[] = await tx.query(
        `SELECT t.id AS vm_type_id, d.action, d.metric, d.evidence->'outcome' AS outcome
         FROM unnest($1::uuid[]) AS t(id)
         CROSS JOIN LATERAL (SELECT action, metric, evidence FROM scaling_decisions WHERE vm_type_id = t.id ORDER BY decided_at DESC LIMIT 1) d`,
        [[...new Set(blocks.map((b) => b.vmTypeId))]],
      );
      const lastOf = new Map(last.map((r) => [r.vm_type_id, r]));
      const fresh = blocks.filter((b) => !sameBlock(lastOf.get(b.vmTypeId), b.verdict));
      await this.decisions.recordMany(
        tx,
        fresh.map((b) => ({ tenantId: b.tenantId, vmTypeId: b.vmTypeId, action: ScalingAction.NONE, metric: b.verdict.metric, reason: b.verdict.reason, evidence: b.verdict.evidence })),
      );
      return new Set(fresh.map((b) => b.vmTypeId));
    });
  }

  /**
   * The facts of the given VM types, or of every type with an active threshold (null), read
   * set-based: the number of queries does not depend on the number of types or VMs.
   *
   * Samples: only the series (VM, metric) whose newest sample in the window is WARNING or CRITICAL
   * are read (heldSeries); any other series (most of them, most of the time) costs nothing.
   */
  async factsOfTypes(vmTypeIds: readonly string[] | null, now: Date): Promise<TypeFacts[]> {
    const ds = this.dataSource;
    const types: (ScalingVmType & { tenantId: string; tenantName: string })[] = await ds.query(
      `SELECT t.id, t.name, t.tenant_id AS "tenantId", n.name AS "tenantName", t.min_instances AS "minInstances", t.max_instances AS "maxInstances",
              t.scale_up_cooldown_seconds AS "scaleUpCooldownSeconds", t.scale_down_cooldown_seconds AS "scaleDownCooldownSeconds"
       FROM vm_types t JOIN tenants n ON n.id = t.tenant_id
       WHERE ${vmTypeIds ? 't.id = ANY($1::uuid[])' : 't.id IN (SELECT vm_type_id FROM thresholds WHERE active)'}
       ORDER BY t.id`,
      vmTypeIds ? [vmTypeIds] : [],
    );
    if (types.length === 0) return [];
    const ids = types.map((t) => t.id);
    const maxGap = maxGapMs(this.options.pollIntervalMs);

    const [thresholds, vms, jobs, lastClones, doneClones, scaleDowns, fresh, lastDecisions, held] = await Promise.all([
      ds.getRepository(ThresholdEntity).find({ where: { vmTypeId: In(ids), active: true } }),
      ds.query(
        `SELECT v.id, v.vm_type_id, v.name, v.origin, v.state, v.created_at, (d.vm_id IS NOT NULL) AS removing, c.id AS cloning
         FROM vms v
         LEFT JOIN (SELECT DISTINCT vm_id FROM scale_down_jobs WHERE state ${LIVE}) d ON d.vm_id = v.id
         LEFT JOIN (SELECT DISTINCT ON (source_vm_id) source_vm_id, id FROM clone_jobs WHERE state ${LIVE} ORDER BY source_vm_id, created_at) c ON c.source_vm_id = v.id
         WHERE v.vm_type_id = ANY($1::uuid[]) AND v.retired_at IS NULL`,
        [ids],
      ) as Promise<{ id: string; vm_type_id: string; name: string; origin: VmOrigin; state: string; created_at: Date; removing: boolean; cloning: string | null }[]>,
      // Clone jobs not ended, by the type stored on the job: clones in flight (counted against the maximum) and prepares.
      ds.query(`SELECT id, vm_type_id, purpose, created_at FROM clone_jobs WHERE vm_type_id = ANY($1::uuid[]) AND state ${LIVE} ORDER BY created_at, id`, [ids]) as Promise<
        { id: string; vm_type_id: string; purpose: string; created_at: Date }[]
      >,
      ds.query(
        `SELECT DISTINCT ON (vm_type_id) vm_type_id, target_cloud_id, created_at FROM clone_jobs
         WHERE vm_type_id = ANY($1::uuid[]) AND purpose = 'CLONE' ORDER BY vm_type_id, created_at DESC`,
        [ids],
      ) as Promise<{ vm_type_id: string; target_cloud_id: string; created_at: Date }[]>,
      // Per type: its newest DONE clone, and the newest few to each target (the cooldown takes those to the last clone's target).
      ds.query(
        `SELECT vm_type_id, target_cloud_id, finished_at, seconds, nth_of_type, nth_to_target FROM (
           SELECT vm_type_id, target_cloud_id, finished_at, extract(epoch FROM finished_at - created_at)::float8 AS seconds,
                  row_number() OVER (PARTITION BY vm_type_id ORDER BY finished_at DESC) AS nth_of_type,
                  row_number() OVER (PARTITION BY vm_type_id, target_cloud_id ORDER BY finished_at DESC) AS nth_to_target
           FROM clone_jobs WHERE vm_type_id = ANY($1::uuid[]) AND purpose = 'CLONE' AND state = $2 AND finished_at IS NOT NULL) d
         WHERE nth_of_type = 1 OR nth_to_target <= $3
         ORDER BY finished_at DESC`,
        [ids, CloneJobState.DONE, RECENT_CLONES],
      ) as Promise<{ vm_type_id: string; target_cloud_id: string; finished_at: Date; seconds: number; nth_of_type: string; nth_to_target: string }[]>,
      ds.query(`SELECT vm_type_id, max(created_at) AS at FROM scale_down_jobs WHERE vm_type_id = ANY($1::uuid[]) GROUP BY vm_type_id`, [ids]) as Promise<{ vm_type_id: string; at: Date }[]>,
      ds.query(`SELECT vm_type_id, cloud_id, expires_at FROM standby_images WHERE vm_type_id = ANY($1::uuid[]) AND deleted_at IS NULL AND expires_at > $2`, [ids, now]) as Promise<
        { vm_type_id: string; cloud_id: string; expires_at: Date }[]
      >,
      ds.query(
        `SELECT t.id AS vm_type_id, d.action, d.metric, d.evidence->'outcome' AS outcome
         FROM unnest($1::uuid[]) AS t(id)
         CROSS JOIN LATERAL (SELECT action, metric, evidence FROM scaling_decisions WHERE vm_type_id = t.id ORDER BY decided_at DESC LIMIT 1) d`,
        [ids],
      ) as Promise<{ vm_type_id: string; action: ScalingAction; metric: string | null; outcome: unknown }[]>,
      this.heldSeries(ids, vmTypeIds === null, maxGap, now),
    ]);

    const thresholdsOf = groupBy(thresholds, (t) => t.vmTypeId);
    const live = vms.filter((v) => !v.removing);
    const byVm = new Map<string, Record<string, MetricSample[]>>();
    const liveIds = new Set(live.map((v) => v.id));
    for (const { vmId, metric, samples: series } of held) {
      // A VM being removed is not counted, nor are its samples.
      if (!liveIds.has(vmId)) continue;
      const of = byVm.get(vmId) ?? {};
      of[metric] = series;
      byVm.set(vmId, of);
    }

    const vmsOf = groupBy(vms, (v) => v.vm_type_id);
    const jobsOf = groupBy(jobs, (j) => j.vm_type_id);
    const lastCloneOf = new Map(lastClones.map((r) => [r.vm_type_id, r]));
    const doneOf = groupBy(doneClones, (r) => r.vm_type_id);
    const scaleDownOf = new Map(scaleDowns.map((r) => [r.vm_type_id, r.at]));
    const freshOf = groupBy(fresh, (r) => r.vm_type_id);
    const decisionOf = new Map(lastDecisions.map((r) => [r.vm_type_id, r]));

    return types.map((t): TypeFacts => {
      const typeThresholds = thresholdsOf.get(t.id) ?? [];
      const all = vmsOf.get(t.id) ?? [];
      const scalingVms: ScalingVm[] = all
        .filter((v) => !v.removing)
        .map((v) => ({
          id: v.id,
          name: v.name,
          origin: v.origin,
          state: v.state,
          createdAt: v.created_at,
          busy: v.cloning ? `source of clone job ${v.cloning}` : null,
          samples: byVm.get(v.id) ?? {},
        }));
      const typeJobs = jobsOf.get(t.id) ?? [];
      const lastClone = lastCloneOf.get(t.id);
      const done = doneOf.get(t.id) ?? [];
      const lastDone = done.find((d) => Number(d.nth_of_type) === 1);
      const preparing = typeJobs.find((j) => j.purpose === CloneJobPurpose.STANDBY);
      const decision = decisionOf.get(t.id);
      const { tenantId, tenantName, ...vmType } = t;
      return {
        tenantId,
        tenantName,
        lastDecision: decision ? { action: decision.action, metric: decision.metric, outcome: decision.outcome } : null,
        facts: {
          now,
          maxGapMs: maxGap,
          vmType,
          // Plain values: the threshold goes into the decision's evidence as it was read.
          thresholds: typeThresholds.map(({ metric, active, warningHoldSeconds, criticalHoldSeconds, role, prepareOnWarning }) => ({ metric, active, warningHoldSeconds, criticalHoldSeconds, role, prepareOnWarning })),
          vms: scalingVms,
          removing: all.length - scalingVms.length,
          clonesInFlight: typeJobs.filter((j) => j.purpose === CloneJobPurpose.CLONE).map((j) => ({ id: j.id, startedAt: j.created_at })),
          lastCloneStartedAt: lastClone?.created_at ?? null,
          lastDoneClone: lastDone ? { finishedAt: lastDone.finished_at, seconds: Number(lastDone.seconds) } : null,
          lastCloneTargetCloudId: lastClone?.target_cloud_id ?? null,
          // Newest first (the query's order).
          recentCloneSecondsToTarget: lastClone ? done.filter((d) => d.target_cloud_id === lastClone.target_cloud_id && Number(d.nth_to_target) <= RECENT_CLONES).map((d) => Number(d.seconds)) : [],
          lastScaleDownAt: scaleDownOf.get(t.id) ?? null,
          standby: { preparingJobId: preparing?.id ?? null, fresh: (freshOf.get(t.id) ?? []).map((r) => ({ cloudId: r.cloud_id, expiresAt: r.expires_at })) },
        },
      };
    });
  }
  /**
   * The samples of every series (live VM, metric of an active threshold of its type) whose newest
   * sample in its type's window is WARNING or CRITICAL, each oldest first (by observation time,
   * then id). A hold needs its newest sample at WARNING or worse, and a scale-down candidate's load
   * is read only when the metric holds on every VM, so any other series can never change a
   * verdict and is not read. (Several samples at the newest time: the series counts when any of
   * them is WARNING or worse.)
   *
   * One statement, and its cost follows the WARNING and CRITICAL samples, not the fleet: such a
   * series has such a sample in its window, so the partial index samples_held_observed_idx (only
   * those samples, by time) names the few candidates; only they are read in full, and the ones
   * that recovered since (newest sample OK or UNKNOWN) are dropped here. For named types (evaluate
   * one) each of their series is probed instead (`everyType` false).
   */
  private async heldSeries(vmTypeIds: readonly string[], everyType: boolean, maxGap: number, now: Date): Promise<{ vmId: string; metric: string; samples: MetricSample[] }[]> {
    const rows: { vm_id: string; metric: string; samples: [SampleState, number | string | null, number][] }[] = await this.dataSource.query(
      // w: per type and metric of its active thresholds, how far back it looks (its longest hold plus one allowed gap).
      // A series comes back as one row, its samples one JSON array (state, value, epoch ms), oldest first:
      // a native JSON.parse instead of a row and a date string parsed per sample.
      // OFFSET 0 keeps the read of a candidate a probe of its series, not a scan of the table.
      `WITH w AS MATERIALIZED (
         SELECT DISTINCT vm_type_id, metric::text AS metric,
                $3::timestamptz - make_interval(secs => max(greatest(warning_hold_seconds, critical_hold_seconds)) OVER (PARTITION BY vm_type_id) + $2::float8) AS since
         FROM thresholds WHERE active AND vm_type_id = ANY($1::uuid[])),
       candidates AS MATERIALIZED (${
         everyType
           ? `SELECT DISTINCT s.vm_id, s.metric FROM samples s
              WHERE s.state IN ('${SampleState.WARNING}', '${SampleState.CRITICAL}') AND s.observed_at >= (SELECT min(since) FROM w) AND s.observed_at <= $3`
           : // A few types (evaluate one): a probe of each of their series beats walking every such sample of the fleet.
             `SELECT v.id AS vm_id, w.metric FROM vms v JOIN w ON w.vm_type_id = v.vm_type_id
              WHERE v.retired_at IS NULL AND EXISTS (
                SELECT 1 FROM samples s WHERE s.vm_id = v.id AND s.metric = w.metric AND s.observed_at >= w.since AND s.observed_at <= $3
                  AND s.state IN ('${SampleState.WARNING}', '${SampleState.CRITICAL}'))`
       }),
       series AS MATERIALIZED (
         SELECT c.vm_id, c.metric, w.since FROM candidates c
         JOIN vms v ON v.id = c.vm_id
         JOIN w ON w.vm_type_id = v.vm_type_id AND w.metric = c.metric)
       SELECT series.vm_id, series.metric, r.samples
       FROM series CROSS JOIN LATERAL (
         SELECT json_agg(json_build_array(s.state, s.value, floor(extract(epoch FROM s.observed_at) * 1000)) ORDER BY s.observed_at, s.id) AS samples
         FROM (SELECT s.id, s.state, s.value, s.observed_at FROM samples s
               WHERE s.vm_id = series.vm_id AND s.metric = series.metric AND s.observed_at >= series.since AND s.observed_at <= $3 OFFSET 0) s) r
       WHERE r.samples IS NOT NULL`,
      [vmTypeIds, maxGap / 1000, now],
    );
    const held = (state: SampleState) => state === SampleState.WARNING || state === SampleState.CRITICAL;
    const out: { vmId: string; metric: string; samples: MetricSample[] }[] = [];
    for (const r of rows) {
      const raw = r.samples;
      const newest = raw[raw.length - 1][2];
      let hot = false;
      for (let i = raw.length - 1; i >= 0 && raw[i][2] === newest && !hot; i--) hot = held(raw[i][0]);
      if (!hot) continue;
      // JSON has no NaN or Infinity: PostgreSQL writes them as strings.
      const samples = raw.map(([state, value, ms]): MetricSample => ({ state, value: typeof value === 'string' ? Number(value) : value, observedAt: new Date(ms) }));
      out.push({ vmId: r.vm_id, metric: r.metric, samples });
    }
    return out;
  }
}

/** Whether a blocked verdict says what the type's last decision said (same block, same metric): then it is not stored again. */
function sameBlock(last: { action: ScalingAction; metric: string | null; outcome: unknown } | null | undefined, verdict: ScalingVerdict): boolean {
  return !!last && last.action === ScalingAction.NONE && last.metric === verdict.metric && last.outcome === verdict.outcome;
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}
