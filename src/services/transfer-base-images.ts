/**
 * Which images already in a target cloud a chunked transfer can index as its base (issue 10,
 * dedup item): the tenant's own standby images of the VM type in that cloud (not deleted), and
 * the target images of its earlier DONE clones of that type into that cloud, newest first. Only
 * the tenant's own: the target side stores the base's chunks in that tenant's store, and another
 * tenant's image must never feed it (nor tell it what another tenant holds).
 */
import type { DataSource } from 'typeorm';

export interface BaseImageQuery {
  tenantId: string;
  vmTypeId: string;
  cloudId: string;
  /** The job asking: its own target image is never its base. */
  jobId: string;
}

/** Glance image ids in the target cloud, newest first, at most `limit`. */
export function transferBaseImages(dataSource: DataSource, limit = 3): (q: BaseImageQuery) => Promise<string[]> {
  return async (q) => {
    const rows = await dataSource.query<{ image_id: string }[]>(
      `SELECT image_id FROM (
         SELECT image_id, created_at AS at FROM standby_images
          WHERE tenant_id = $1 AND vm_type_id = $2 AND cloud_id = $3 AND deleted_at IS NULL
         UNION ALL
         SELECT artefacts->>'targetImageId', COALESCE(finished_at, updated_at) FROM clone_jobs
          WHERE tenant_id = $1 AND vm_type_id = $2 AND target_cloud_id = $3 AND state = 'DONE' AND id <> $4
            AND artefacts ? 'targetImageId'
       ) AS found WHERE image_id IS NOT NULL ORDER BY at DESC LIMIT $5`,
      [q.tenantId, q.vmTypeId, q.cloudId, q.jobId, limit],
    );
    return [...new Set(rows.map((r) => r.image_id))];
  };
}
