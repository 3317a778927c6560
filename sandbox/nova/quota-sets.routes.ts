/** `os-quota-sets`: the project's compute quotas (and usage with /detail), read-only. */
import type { Request, Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { atLeast, getAuth } from '../http/request-context';
import { computeUsage } from './quota';

function quotaSet(cloud: CloudContext, req: Request, projectId: string, detail: boolean): Record<string, unknown> {
  const q = cloud.settings.quotas;
  const used = computeUsage(cloud, projectId);
  const entries: Record<string, [number, number]> = {
    instances: [q.instances, used.instances],
    cores: [q.cores, used.cores],
    ram: [q.ramMb, used.ramMb],
    key_pairs: [100, 0],
    metadata_items: [128, 0],
    server_groups: [10, 0],
    server_group_members: [10, 0],
  };
  if (!atLeast(req, 57)) Object.assign(entries, { injected_files: [5, 0], injected_file_content_bytes: [10240, 0], injected_file_path_bytes: [255, 0] });
  if (!atLeast(req, 36)) Object.assign(entries, { floating_ips: [q.floatingIps, 0], fixed_ips: [-1, 0], security_groups: [10, 1], security_group_rules: [20, 0] });
  const view: Record<string, unknown> = { id: projectId };
  for (const [key, [limit, inUse]] of Object.entries(entries)) view[key] = detail ? { limit, in_use: inUse, reserved: 0 } : limit;
  return view;
}

export function mountQuotaSets(router: Router, cloud: CloudContext): void {
  const target = (req: Request): string => {
    const auth = getAuth(req);
    const id = req.params.project as string;
    if (id !== auth.projectId && !auth.isAdmin) throw new OpenStackError(403, `Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.`);
    return id;
  };
  router.get('/os-quota-sets/:project', operation(cloud, 'nova.quota.show'), (req, res) => {
    res.json({ quota_set: quotaSet(cloud, req, target(req), false) });
  });
  router.get('/os-quota-sets/:project/detail', operation(cloud, 'nova.quota.show'), (req, res) => {
    res.json({ quota_set: quotaSet(cloud, req, target(req), true) });
  });
  router.get('/os-quota-sets/:project/defaults', operation(cloud, 'nova.quota.show'), (req, res) => {
    res.json({ quota_set: quotaSet(cloud, req, req.params.project as string, false) });
  });
}
