/**
 * The reaper, a task of the leader scheduler: in every registered cloud it finds the objects a
 * clone job tagged (`intercloud_job=<id>`: server metadata, image properties, floating IP
 * descriptions) and deletes those whose job has ended a while ago and that the job does not own
 * as its result (the clone server, the image it boots from, its floating IP). What a crash
 * between a create and its checkpoint, or an undo that gave up, left behind is so cleaned up.
 * Every deletion is logged, counted in /metrics and recorded in the tenant's audit stream.
 * It also expires standby images (prepareStandby) past their expiresAt that no live clone job
 * boots from: deleted in their cloud, their row marked deleted (StandbyImageService.expireDue).
 */
import { Logger } from 'pino';
import { DataSource, IsNull } from 'typeorm';
import { Metrics } from '../api/metrics';
import { CloneJobState } from '../domain/clone-phase';
import { CloudEntity } from '../domain/entities';
import { CloudApi, CloudApiFactory } from '../ports/cloud-api.port';
import { AuditService } from '../services/audit.service';
import { CloudService } from '../services/cloud.service';
import { StandbyImageService } from '../services/standby-image.service';
import { CloneArtefacts } from '../pipeline/clone-step';
import { PeriodicTask } from './leader-scheduler';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FIP_TAG = /^intercloud_job=(.+)$/;

type Kind = 'server' | 'image' | 'floating_ip';

interface Tagged {
  kind: Kind;
  id: string;
  jobId: string;
}

interface EndedJob {
  id: string;
  tenant_id: string;
  state: CloneJobState;
  target_cloud_id: string;
  source_cloud_id: string;
  artefacts: CloneArtefacts;
}

export interface CloneReaperOptions {
  intervalMs: number;
  /** A job must have ended this long ago: its own undo (or a resume of it) may still be deleting. */
  graceMs: number;
}

export class CloneReaper implements PeriodicTask {
  readonly name = 'clone-reaper';
  readonly intervalMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clouds: CloudService,
    private readonly cloudApis: CloudApiFactory,
    private readonly audit: AuditService,
    private readonly standbys: StandbyImageService,
    private readonly metrics: Pick<Metrics, 'reapedObjects'>,
    private readonly logger: Logger,
    private readonly options: CloneReaperOptions,
  ) {
    this.intervalMs = options.intervalMs;
  }

  async run(): Promise<void> {
    // A job that ended without saying so (its broker died) must not keep a deregistered cloud's credentials.
    const wiped = await this.clouds.wipeReleasedCredentials();
    if (wiped.length > 0) this.logger.info({ cloudIds: wiped }, 'wiped the credentials of deregistered clouds no job needs any more');
    await this.expireStandbys();
    const clouds = await this.dataSource.getRepository(CloudEntity).find({ where: { deregisteredAt: IsNull() } });
    for (const cloud of clouds) {
      try {
        await this.reapCloud(cloud);
      } catch (err) {
        this.logger.warn({ err, cloudId: cloud.id }, 'reaper could not look through cloud');
      }
    }
  }

  /**
   * Standby images past their expiry that no live clone job boots from are deleted in their
   * cloud and audited (StandbyImageService.expireDue: a delete that fails is tried again next
   * round). Returns how many it expired.
   */
  async expireStandbys(): Promise<number> {
    const expired = await this.standbys.expireDue(null, null);
    for (const e of expired) if (e.imageDeleted) this.metrics.reapedObjects.inc({ kind: 'standby_image' });
    return expired.length;
  }

  /** Returns how many objects it deleted. */
  async reapCloud(cloud: CloudEntity): Promise<number> {
    const api = this.cloudApis.forConnection(this.clouds.connectionOf(cloud));
    const tagged = await this.taggedObjects(api);
    if (tagged.length === 0) return 0;
    const jobs = await this.endedJobs([...new Set(tagged.map((t) => t.jobId))]);
    let deleted = 0;
    for (const object of tagged) {
      const job = jobs.get(object.jobId);
      if (!job || ownedAsResult(job, cloud.id, object)) continue;
      await this.remove(api, object);
      deleted += 1;
      this.metrics.reapedObjects.inc({ kind: object.kind });
      this.logger.info({ cloudId: cloud.id, jobId: job.id, kind: object.kind, objectId: object.id, jobState: job.state }, 'reaper deleted an object left by a finished clone job');
      await this.dataSource.transaction((tx) =>
        this.audit.record(tx, null, job.tenant_id, 'cloneJob.reap', 'CloneJob', job.id, { cloudId: cloud.id, kind: object.kind, objectId: object.id }),
      );
    }
    return deleted;
  }

  private async taggedObjects(api: CloudApi): Promise<Tagged[]> {
    const [projectId, servers, images, fips] = await Promise.all([api.projectId(), api.listServers(), api.listImages(), api.listFloatingIps()]);
    const out: Tagged[] = [];
    for (const s of servers) if (UUID.test(s.metadata.intercloud_job ?? '') && s.status !== 'DELETED') out.push({ kind: 'server', id: s.id, jobId: s.metadata.intercloud_job });
    // Only the project's own images: an image another project made public or shared is not ours to delete.
    for (const i of images) {
      if (i.owner === projectId && UUID.test(i.properties.intercloud_job ?? '') && i.status !== 'deleted') out.push({ kind: 'image', id: i.id, jobId: i.properties.intercloud_job });
    }
    for (const f of fips) {
      const jobId = FIP_TAG.exec(f.description)?.[1];
      if (jobId && UUID.test(jobId)) out.push({ kind: 'floating_ip', id: f.id, jobId });
    }
    return out;
  }

  /** The jobs among `ids` that ended longer than the grace period ago; unknown ids are not ours to judge. */
  private async endedJobs(ids: string[]): Promise<Map<string, EndedJob>> {
    const rows: EndedJob[] = await this.dataSource.query(
      `SELECT id, tenant_id, state, target_cloud_id, source_cloud_id, artefacts FROM clone_jobs
       WHERE id = ANY($1::uuid[]) AND state IN ('DONE', 'FAILED', 'CANCELLED') AND finished_at < now() - make_interval(secs => $2)`,
      [ids, this.options.graceMs / 1000],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  private async remove(api: CloudApi, object: Tagged): Promise<void> {
    if (object.kind === 'server') await api.deleteServer(object.id);
    else if (object.kind === 'image') await api.deleteImage(object.id);
    else await api.deleteFloatingIp(object.id);
  }
}

/** A DONE job keeps, in its target cloud, the clone server, the image it boots from and its floating IP. */
function ownedAsResult(job: EndedJob, cloudId: string, object: Tagged): boolean {
  if (job.state !== CloneJobState.DONE || cloudId !== job.target_cloud_id) return false;
  const a = job.artefacts;
  const intraCloud = job.source_cloud_id === job.target_cloud_id;
  if (object.kind === 'server') return object.id === a.serverId;
  if (object.kind === 'image') return object.id === (intraCloud ? a.snapshotImageId : a.targetImageId);
  return object.id === a.floatingIpId;
}
