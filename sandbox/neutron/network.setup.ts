/**
 * The networks every sandbox cloud starts with, as a devstack-like deployment has them:
 * a shared "private" tenant network, an external "public" network for floating IPs, and
 * "router1" joining them (Neutron refuses floating IPs for a subnet no router reaches).
 */
import { randomUUID } from 'node:crypto';
import { AddressPool } from '../behaviour/address-pool';
import type { CloudContext } from '../cloud/cloud.context';
import type { CloudState, SubnetRecord } from '../cloud/cloud.state';
import type { AddressPools } from '../config/cloud-options.schema';

export const PRIVATE_NETWORK = 'private';
export const PUBLIC_NETWORK = 'public';

export function createPools(pools: AddressPools, state: CloudState): { fixed: AddressPool; floating: AddressPool } {
  return { fixed: new AddressPool(pools.fixed, state.usedAddresses), floating: new AddressPool(pools.floating, state.usedAddresses) };
}

function subnetFor(pool: AddressPool, name: string, networkId: string, projectId: string): SubnetRecord {
  return {
    id: randomUUID(),
    name,
    networkId,
    projectId,
    cidr: pool.cidr,
    gatewayIp: pool.gateway,
    allocationPools: [{ start: pool.start, end: pool.end }],
    createdAt: new Date(),
  };
}

export function createDefaultNetworks(cloud: CloudContext, adminProjectId: string): void {
  const { state, pools } = cloud;
  const now = new Date();
  const privateNet = { id: randomUUID(), name: PRIVATE_NETWORK, projectId: adminProjectId, external: false, shared: true, subnetIds: [] as string[], createdAt: now };
  const publicNet = { id: randomUUID(), name: PUBLIC_NETWORK, projectId: adminProjectId, external: true, shared: false, subnetIds: [] as string[], createdAt: now };
  const privateSubnet = subnetFor(pools.fixed, 'private-subnet', privateNet.id, adminProjectId);
  const publicSubnet = subnetFor(pools.floating, 'public-subnet', publicNet.id, adminProjectId);
  privateNet.subnetIds.push(privateSubnet.id);
  publicNet.subnetIds.push(publicSubnet.id);
  for (const net of [privateNet, publicNet]) state.networks.set(net.id, net);
  for (const subnet of [privateSubnet, publicSubnet]) state.subnets.set(subnet.id, subnet);
  const externalIp = pools.floating.allocate();
  if (!externalIp) throw new Error('floating pool has no address for the router gateway');
  const router = {
    id: randomUUID(),
    name: 'router1',
    projectId: adminProjectId,
    externalNetworkId: publicNet.id,
    externalIp,
    interfaceSubnetIds: [privateSubnet.id],
    createdAt: now,
  };
  state.routers.set(router.id, router);
}

/** After a pool change: subnets show the new ranges; addresses already handed out stay. */
export function applyPools(cloud: CloudContext, pools: { fixed: AddressPool; floating: AddressPool }): void {
  for (const subnet of cloud.state.subnets.values()) {
    const network = cloud.state.networks.get(subnet.networkId);
    const pool = network?.external ? pools.floating : pools.fixed;
    subnet.cidr = pool.cidr;
    subnet.gatewayIp = pool.gateway;
    subnet.allocationPools = [{ start: pool.start, end: pool.end }];
  }
}
