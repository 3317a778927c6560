/** A server as Nova shows it (`/servers/detail`, show, update), field set by microversion and role. */
import type { Request } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import type { ServerRecord } from '../cloud/cloud.state';
import { atLeast, getAuth } from '../http/request-context';
import { findFlavor } from './flavors.routes';
import { novaLinks, novaTime, novaUsageTime } from './nova-format';

export const SANDBOX_HOST = 'sandbox-compute';

interface AddressEntry {
  version: 4;
  addr: string;
  'OS-EXT-IPS:type': 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr': string;
}

/** `addresses`: per network name, fixed IPs then the floating IPs Nova's cache already knows. */
export function serverAddresses(cloud: CloudContext, server: ServerRecord): Record<string, AddressEntry[]> {
  const result: Record<string, AddressEntry[]> = {};
  for (const portId of server.portIds) {
    const port = cloud.state.ports.get(portId);
    const network = port && cloud.state.networks.get(port.networkId);
    if (!port || !network) continue;
    const entries = (result[network.name] ??= []);
    for (const ip of port.fixedIps) {
      entries.push({ version: 4, addr: ip.ipAddress, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.macAddress });
    }
    for (const fip of cloud.state.floatingIpsOfPort(port.id)) {
      if (fip.shownOnServer) {
        entries.push({ version: 4, addr: fip.address, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': port.macAddress });
      }
    }
  }
  return result;
}

function flavorView(cloud: CloudContext, req: Request, flavorId: string): Record<string, unknown> {
  const flavor = findFlavor(cloud, flavorId);
  if (!atLeast(req, 47)) return { id: flavorId, links: [novaLinks(cloud, 'flavors', flavorId)[1]] };
  return {
    vcpus: flavor?.vcpus ?? 0,
    ram: flavor?.ramMb ?? 0,
    disk: flavor?.diskGb ?? 0,
    ephemeral: 0,
    swap: 0,
    original_name: flavor?.name ?? flavorId,
    extra_specs: { ...flavor?.extraSpecs },
  };
}

export function serverView(cloud: CloudContext, req: Request, server: ServerRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: server.id,
    name: server.name,
    status: server.status,
    tenant_id: server.projectId,
    user_id: server.userId,
    metadata: { ...server.metadata },
    hostId: server.hostId,
    image: { id: server.imageId, links: [novaLinks(cloud, 'images', server.imageId)[1]] },
    flavor: flavorView(cloud, req, server.flavorId),
    created: novaTime(server.createdAt),
    updated: novaTime(server.updatedAt),
    addresses: serverAddresses(cloud, server),
    accessIPv4: '',
    accessIPv6: '',
    links: novaLinks(cloud, 'servers', server.id),
    'OS-DCF:diskConfig': 'MANUAL',
    progress: 0,
    'OS-EXT-AZ:availability_zone': server.status === 'BUILD' && server.taskState === 'scheduling' ? '' : server.availabilityZone,
    config_drive: '',
    key_name: server.keyName,
    'OS-SRV-USG:launched_at': server.launchedAt ? novaUsageTime(server.launchedAt) : null,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': server.taskState,
    'OS-EXT-STS:vm_state': server.vmState,
    'OS-EXT-STS:power_state': server.powerState,
    'os-extended-volumes:volumes_attached': [],
  };
  if (server.portIds.length > 0) view.security_groups = [{ name: 'default' }];
  if (getAuth(req).isAdmin) {
    view['OS-EXT-SRV-ATTR:host'] = SANDBOX_HOST;
    view['OS-EXT-SRV-ATTR:hypervisor_hostname'] = SANDBOX_HOST;
    view['OS-EXT-SRV-ATTR:instance_name'] = server.instanceName;
    if (atLeast(req, 3)) {
      view['OS-EXT-SRV-ATTR:reservation_id'] = server.reservationId;
      view['OS-EXT-SRV-ATTR:launch_index'] = 0;
      view['OS-EXT-SRV-ATTR:hostname'] = hostnameOf(server.name);
      view['OS-EXT-SRV-ATTR:kernel_id'] = '';
      view['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      view['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      view['OS-EXT-SRV-ATTR:user_data'] = server.userData;
    }
    if (atLeast(req, 16)) view.host_status = 'UP';
  }
  if (atLeast(req, 9)) view.locked = false;
  if (atLeast(req, 19)) view.description = server.description;
  if (atLeast(req, 26)) view.tags = [...server.tags];
  if (atLeast(req, 63)) view.trusted_image_certificates = null;
  if (atLeast(req, 73)) view.locked_reason = null;
  if (server.fault && server.status === 'ERROR') {
    view.fault = { code: server.fault.code, created: novaTime(server.fault.created), message: server.fault.message };
  }
  return view;
}

/** Nova sanitizes the display name into a hostname. */
export function hostnameOf(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'server';
}
