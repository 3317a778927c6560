/** Ports Nova asks Neutron for when it boots a server, and their release when it goes away. */
import { randomUUID } from 'node:crypto';
import type { CloudContext } from '../cloud/cloud.context';
import type { NetworkRecord, PortRecord } from '../cloud/cloud.state';
import { macFor } from '../config/address';
import { OpenStackError } from '../http/openstack-error';

/** No free address left: Nova only finds out on the compute host, so the server goes to ERROR. */
export class AddressPoolExhausted extends Error {}

export function createServerPort(cloud: CloudContext, network: NetworkRecord, serverId: string, projectId: string, fixedIp?: string): PortRecord {
  const subnetId = network.subnetIds[0];
  if (!subnetId) throw new OpenStackError(400, `Network ${network.id} has no subnet.`);
  const pool = network.external ? cloud.pools.floating : cloud.pools.fixed;
  const ip = pool.allocate(fixedIp);
  if (!ip) {
    if (fixedIp) throw new OpenStackError(400, `Fixed IP address ${fixedIp} is already in use on instance or is not in the subnet's allocation pool.`);
    throw new AddressPoolExhausted(`No more IP addresses available on network ${network.id}.`);
  }
  const now = new Date();
  const port: PortRecord = {
    id: randomUUID(),
    name: '',
    networkId: network.id,
    projectId,
    deviceId: serverId,
    deviceOwner: 'compute:nova',
    macAddress: macFor(cloud.state.nextMacSeed()),
    fixedIps: [{ subnetId, ipAddress: ip }],
    status: 'DOWN',
    createdAt: now,
    updatedAt: now,
  };
  cloud.state.ports.set(port.id, port);
  return port;
}

/** Deletes a server's ports; floating IPs on them stay allocated but become unassociated. */
export function releaseServerPorts(cloud: CloudContext, serverId: string): void {
  for (const port of cloud.state.portsOfServer(serverId)) {
    for (const fip of cloud.state.floatingIpsOfPort(port.id)) {
      fip.portId = null;
      fip.fixedIpAddress = null;
      fip.routerId = null;
      fip.status = 'DOWN';
      fip.shownOnServer = false;
      fip.updatedAt = new Date();
      fip.revision += 1;
      cloud.events.emit('floatingip.disassociated', { id: fip.id, address: fip.address });
    }
    for (const ip of port.fixedIps) cloud.state.usedAddresses.delete(ip.ipAddress);
    cloud.state.ports.delete(port.id);
  }
}
