/** Neutron `quotas/{project}` (and `/details` with usage), read-only. */
import type { Request, Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { getAuth } from '../http/request-context';

function quotas(cloud: CloudContext, projectId: string): Record<string, [number, number]> {
  const state = cloud.state;
  const count = <T extends { projectId: string }>(items: Iterable<T>): number => [...items].filter((i) => i.projectId === projectId).length;
  return {
    floatingip: [cloud.settings.quotas.floatingIps, count(state.floatingIps.values())],
    network: [100, count(state.networks.values())],
    subnet: [100, count(state.subnets.values())],
    port: [500, count(state.ports.values())],
    router: [10, count(state.routers.values())],
    security_group: [10, 1],
    security_group_rule: [100, 0],
    rbac_policy: [10, 0],
    subnetpool: [-1, 0],
  };
}

export function mountQuotas(router: Router, cloud: CloudContext): void {
  const target = (req: Request): string => {
    const auth = getAuth(req);
    const id = (req.params.project as string).replace(/\.json$/, '');
    if (id !== auth.projectId && !auth.isAdmin) throw new OpenStackError(403, `rule:get_quota is disallowed by policy`, 'PolicyNotAuthorized');
    return id;
  };
  router.get('/v2.0/quotas/:project', operation(cloud, 'neutron.quota.show'), (req, res) => {
    res.json({ quota: Object.fromEntries(Object.entries(quotas(cloud, target(req))).map(([k, [limit]]) => [k, limit])) });
  });
  router.get('/v2.0/quotas/:project/details', operation(cloud, 'neutron.quota.show'), (req, res) => {
    res.json({ quota: Object.fromEntries(Object.entries(quotas(cloud, target(req))).map(([k, [limit, used]]) => [k, { limit, used, reserved: 0 }])) });
  });
}
