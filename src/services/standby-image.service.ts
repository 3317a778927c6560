/**
 * Standby images after they are made (prepareStandby makes them, src/services/clone-job.service.ts):
 * listing them, releasing one, expiring stale ones (deleted in their cloud), and preparing the
 * successor of one kept fresh before it expires.
 */
import { Logger } from 'pino';
import { DataSource, In } from 'typeorm';
import { z } from 'zod';
import { CloneJobPurpose, terminalStates } from '../domain/clone-phase';
import { CloudEntity, StandbyImageEntity } from '../domain/entities';
import { BadUserInputError } from '../domain/errors';
import { autoscalerPrincipal, Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { refreshDue } from '../domain/standby';
import { CloudApiFactory } from '../ports/cloud-api.port';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { CloneJobService } from './clone-job.service';
import { CloudService } from './cloud.service';
import { pageSizeRule, parseInput, uuidRule } from './validation';

const listRule = z.object({
  vmTypeId: uuidRule.nullable().optional(),
  cloudId: uuidRule.nullable().optional(),
  includeExpired: z.boolean().nullable().optional(),
  first: pageSizeRule(50),
});

/** A refresh whose job failed is tried again only after this long, not every round. */
export const REFRESH_RETRY_AFTER_FAILURE_MS = 60_000;

/** What expiring one standby did: `imageDeleted` false when its cloud is gone and the image is out of reach. */
export interface ExpiredStandby {
  standby: StandbyImageEntity;
  imageDeleted: boolean;
}

/** What the refresher did for one kept-fresh standby that was due. */
export interface StandbyRefresh {
  standbyImageId: string;
  tenantId: string;
  vmTypeId: string;
  cloudId: string;
  /** The STANDBY job preparing the successor (started now or already running); null when none could be. */
  jobId: string | null;
  /** Why there is no job: a recent failure being waited out, or the refusal of prepareStandby. */
  skipped: string | null;
}

export class StandbyImageService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clouds: CloudService,
    private readonly cloudApis: CloudApiFactory,
    private readonly audit: AuditService,
    private readonly clone: CloneJobService,
    private readonly logger: Logger,
  ) {}

  /**
   * The tenant's standby images, newest first: by default those still fresh; with
   * includeExpired also the expired and deleted ones.
   */
  async list(principal: Principal, rawArgs: unknown): Promise<StandbyImageEntity[]> {
    requirePermission(principal, Permission.READ);
    const args = parseInput(listRule, rawArgs, '');
    const q = this.dataSource.getRepository(StandbyImageEntity).createQueryBuilder('s').where('s.tenant_id = :tenantId', { tenantId: principal.tenantId });
    if (args.vmTypeId) q.andWhere('s.vm_type_id = :vmTypeId', { vmTypeId: args.vmTypeId });
    if (args.cloudId) q.andWhere('s.cloud_id = :cloudId', { cloudId: args.cloudId });
    if (!args.includeExpired) q.andWhere('s.deleted_at IS NULL AND s.expires_at > now()');
    return q.orderBy('s.created_at', 'DESC').addOrderBy('s.id', 'DESC').take(args.first).getMany();
  }

  /** Of these standby ids (from stored rows), those of the caller's tenant, in one query: a job's standbyImage, batched. */
  async getMany(principal: Principal, ids: readonly string[]): Promise<Map<string, StandbyImageEntity>> {
    requirePermission(principal, Permission.READ);
    if (ids.length === 0) return new Map();
    const rows = await this.dataSource.getRepository(StandbyImageEntity).find({ where: { id: In([...new Set(ids)]), tenantId: principal.tenantId } });
    return new Map(rows.map((r) => [r.id, r]));
  }

  /**
   * Ends keeping a standby fresh and expires it now: no new clone boots from it, a refresh of it
   * in flight no longer hands the flag on, and the image is deleted in its cloud at once unless a
   * clone still running boots from it (then the reaper deletes it once that clone has ended).
   */
  async release(principal: Principal, id: string): Promise<StandbyImageEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    parseInput(uuidRule, id, 'id');
    await this.dataSource.transaction(async (tx) => {
      const standby = await tx.findOne(StandbyImageEntity, { where: { id, tenantId: principal.tenantId }, lock: { mode: 'pessimistic_write' } });
      if (!standby) throw new BadUserInputError('id', 'must be the id of one of your standby images');
      if (standby.deletedAt) return;
      const wasKeptFresh = standby.keepFresh;
      await tx.query(`UPDATE standby_images SET keep_fresh = false, expires_at = least(expires_at, now()) WHERE id = $1`, [standby.id]);
      const stopped: { id: string }[] = await tx.query(
        `UPDATE clone_jobs j SET keep_fresh = false FROM vms v
         WHERE v.id = j.source_vm_id AND j.tenant_id = $1 AND v.vm_type_id = $2 AND j.target_cloud_id = $3 AND j.purpose = $4 AND j.keep_fresh AND j.state <> ALL($5)
         RETURNING j.id`,
        [standby.tenantId, standby.vmTypeId, standby.cloudId, CloneJobPurpose.STANDBY, terminalStates],
      );
      await this.audit.record(tx, principal, principal.tenantId, 'standbyImage.release', 'CloneJob', standby.createdByJobId, {
        standbyImageId: standby.id,
        cloudId: standby.cloudId,
        imageId: standby.imageId,
        wasKeptFresh,
        refreshJobsNoLongerKeepingFresh: stopped.map((j) => j.id),
      });
    });
    await this.expireDue([id], principal);
    return this.dataSource.getRepository(StandbyImageEntity).findOneByOrFail({ id });
  }

  /**
   * Standby images past their expiry that no live clone job boots from (of `ids` only, when
   * given) are deleted in their cloud. Each row is claimed (FOR UPDATE SKIP LOCKED: a clone being
   * created holds it FOR SHARE and is skipped until the next round, when its job is live and keeps
   * it) by setting deletedAt, so no two rounds delete it; an image delete that fails clears
   * deletedAt again, so the next round tries again. A cloud deregistered meanwhile is out of reach:
   * the row stays deleted and the audit entry says the image was not deleted. Each is audited as
   * `standbyImage.expire`, by `actor` (null: the broker's own reaper).
   */
  async expireDue(ids: string[] | null, actor: Principal | null): Promise<ExpiredStandby[]> {
    const claimed: StandbyImageEntity[] = await this.dataSource.transaction(async (tx) => {
      const rows: { id: string }[] = await tx.query(
        `SELECT s.id FROM standby_images s
         WHERE s.deleted_at IS NULL AND s.expires_at <= now() AND ($1::uuid[] IS NULL OR s.id = ANY($1::uuid[]))
           AND NOT EXISTS (SELECT 1 FROM clone_jobs j WHERE j.standby_image_id = s.id AND j.purpose = 'CLONE' AND j.state NOT IN ('DONE', 'FAILED', 'CANCELLED'))
         FOR UPDATE OF s SKIP LOCKED`,
        [ids],
      );
      if (rows.length === 0) return [];
      const claimedIds = rows.map((r) => r.id);
      await tx.query(`UPDATE standby_images SET deleted_at = now() WHERE id = ANY($1::uuid[])`, [claimedIds]);
      return tx.getRepository(StandbyImageEntity).findBy(claimedIds.map((id) => ({ id })));
    });
    const out: ExpiredStandby[] = [];
    for (const standby of claimed) {
      const log = { cloudId: standby.cloudId, jobId: standby.createdByJobId, standbyImageId: standby.id, imageId: standby.imageId, expiredAt: standby.expiresAt };
      const cloud = await this.dataSource.getRepository(CloudEntity).findOneBy({ id: standby.cloudId });
      let imageDeleted = false;
      if (cloud && !cloud.deregisteredAt) {
        try {
          await this.cloudApis.forConnection(this.clouds.connectionOf(cloud)).deleteImage(standby.imageId);
          imageDeleted = true;
        } catch (err) {
          this.logger.warn({ ...log, err }, 'could not delete an expired standby image; trying again next round');
          await this.dataSource.query(`UPDATE standby_images SET deleted_at = NULL WHERE id = $1`, [standby.id]);
          continue;
        }
        this.logger.info(log, 'expired standby image deleted');
      } else {
        this.logger.warn(log, 'expired standby image is in a deregistered cloud: marked deleted, the image is out of reach');
      }
      await this.dataSource.transaction((tx) =>
        this.audit.record(tx, actor, standby.tenantId, 'standbyImage.expire', 'CloneJob', standby.createdByJobId, {
          cloudId: standby.cloudId,
          imageId: standby.imageId,
          standbyImageId: standby.id,
          imageDeleted,
        }),
      );
      out.push({ standby, imageDeleted });
    }
    return out;
  }

  /**
   * The refresher's round: for every kept-fresh standby due for a successor (src/domain/standby.ts
   * refreshDue: less than a quarter of its lifetime left, or already gone) a STANDBY job prepares
   * one, acting as the scheduler principal of the standby's tenant. prepareStandby keeps it to one
   * prepare per VM type and cloud, so a round that finds the successor already under way only
   * names its job. The successor takes keepFresh over once ready; the old standby expires as usual.
   */
  async refreshKeptFresh(now = new Date()): Promise<StandbyRefresh[]> {
    const heads: { id: string; tenant_id: string; tenant_name: string; vm_type_id: string; cloud_id: string; created_at: Date; expires_at: Date; deleted_at: Date | null }[] =
      await this.dataSource.query(
        `SELECT DISTINCT ON (s.tenant_id, s.vm_type_id, s.cloud_id) s.id, s.tenant_id, t.name AS tenant_name, s.vm_type_id, s.cloud_id, s.created_at, s.expires_at, s.deleted_at
         FROM standby_images s JOIN tenants t ON t.id = s.tenant_id
         WHERE s.keep_fresh
         ORDER BY s.tenant_id, s.vm_type_id, s.cloud_id, s.created_at DESC`,
      );
    const out: StandbyRefresh[] = [];
    for (const head of heads) {
      if (!refreshDue({ createdAt: head.created_at, expiresAt: head.expires_at, deletedAt: head.deleted_at }, now)) continue;
      const base = { standbyImageId: head.id, tenantId: head.tenant_id, vmTypeId: head.vm_type_id, cloudId: head.cloud_id };
      const log = { ...base, expiresAt: head.expires_at };
      const failed = await this.recentFailedRefresh(head.tenant_id, head.vm_type_id, head.cloud_id);
      if (failed) {
        out.push({ ...base, jobId: null, skipped: `refresh job ${failed} failed less than ${REFRESH_RETRY_AFTER_FAILURE_MS / 1000} s ago` });
        continue;
      }
      try {
        const principal = autoscalerPrincipal(head.tenant_id, head.tenant_name);
        const job = await this.clone.prepareStandby(principal, head.vm_type_id, head.cloud_id, { keepFresh: true, replacing: head.id });
        this.logger.info({ ...log, jobId: job.id }, 'kept-fresh standby image due: successor being prepared');
        out.push({ ...base, jobId: job.id, skipped: null });
      } catch (err) {
        this.logger.warn({ ...log, err }, 'could not prepare the successor of a kept-fresh standby image');
        out.push({ ...base, jobId: null, skipped: err instanceof Error ? err.message : String(err) });
      }
    }
    return out;
  }

  /** A kept-fresh STANDBY job of the type into the cloud that ended FAILED within the retry delay, if any. */
  private async recentFailedRefresh(tenantId: string, vmTypeId: string, cloudId: string): Promise<string | null> {
    const [row]: { id: string }[] = await this.dataSource.query(
      `SELECT j.id FROM clone_jobs j JOIN vms v ON v.id = j.source_vm_id
       WHERE j.tenant_id = $1 AND v.vm_type_id = $2 AND j.target_cloud_id = $3 AND j.purpose = $4 AND j.keep_fresh
         AND j.state = 'FAILED' AND j.finished_at > now() - make_interval(secs => $5)
       ORDER BY j.finished_at DESC LIMIT 1`,
      [tenantId, vmTypeId, cloudId, CloneJobPurpose.STANDBY, REFRESH_RETRY_AFTER_FAILURE_MS / 1000],
    );
    return row?.id ?? null;
  }
}
