/** Compute quota usage per project and the 403 Nova answers when a boot would exceed it. */
import type { CloudContext } from '../cloud/cloud.context';
import type { FlavorOptions } from '../config/cloud-options.schema';
import { OpenStackError } from '../http/openstack-error';
import { findFlavor } from './flavors.routes';

export interface ComputeUsage {
  instances: number;
  cores: number;
  ramMb: number;
}

export function computeUsage(cloud: CloudContext, projectId: string): ComputeUsage {
  const usage: ComputeUsage = { instances: 0, cores: 0, ramMb: 0 };
  for (const server of cloud.state.servers.values()) {
    if (server.projectId !== projectId) continue;
    const flavor = findFlavor(cloud, server.flavorId);
    usage.instances += 1;
    usage.cores += flavor?.vcpus ?? 0;
    usage.ramMb += flavor?.ramMb ?? 0;
  }
  return usage;
}

export function assertQuota(cloud: CloudContext, projectId: string, flavor: FlavorOptions): void {
  const used = computeUsage(cloud, projectId);
  const quotas = cloud.settings.quotas;
  const checks: Array<[string, number, number, number]> = [
    ['instances', 1, used.instances, quotas.instances],
    ['cores', flavor.vcpus, used.cores, quotas.cores],
    ['ram', flavor.ramMb, used.ramMb, quotas.ramMb],
  ];
  for (const [resource, requested, inUse, limit] of checks) {
    if (inUse + requested > limit) {
      throw new OpenStackError(403, `Quota exceeded for ${resource}: Requested ${requested}, but already used ${inUse} of ${limit} ${resource}`);
    }
  }
}
