/**
 * Floating IPs: create / list / show / update (associate, disassociate) / delete. An association
 * turns ACTIVE and appears in the server's `addresses` only after the configured latency, as
 * Nova's network info cache lags Neutron in a real cloud.
 */
import { randomUUID } from 'node:crypto';
import type { Request, Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import type { FloatingIpRecord } from '../cloud/cloud.state';
import { OpenStackError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { getAuth } from '../http/request-context';
import { neutronCollection, project } from './neutron-list';
import { floatingIpView } from './neutron.views';

interface FloatingIpBody {
  floating_network_id?: unknown;
  port_id?: unknown;
  fixed_ip_address?: unknown;
  floating_ip_address?: unknown;
  description?: unknown;
}

function body(req: Request): FloatingIpBody {
  const value = (req.body as { floatingip?: unknown } | undefined)?.floatingip;
  if (typeof value !== 'object' || value === null) throw new OpenStackError(400, "Resource body required: 'floatingip'", 'HTTPBadRequest');
  return value as FloatingIpBody;
}

function findFloatingIp(cloud: CloudContext, req: Request, id: string): FloatingIpRecord {
  const fip = cloud.state.floatingIps.get(id);
  const auth = getAuth(req);
  if (!fip || (fip.projectId !== auth.projectId && !auth.isAdmin)) throw new OpenStackError(404, `Floating IP ${id} could not be found`, 'FloatingIPNotFound');
  return fip;
}

/** Points the floating IP at a port (or nowhere), with Neutron's checks, then wires it up after the latency. */
function associate(cloud: CloudContext, req: Request, fip: FloatingIpRecord, portId: string | null, fixedIp?: string): void {
  const now = new Date();
  fip.revision += 1;
  fip.updatedAt = now;
  if (portId === null) {
    if (fip.portId) cloud.events.emit('floatingip.disassociated', { id: fip.id, address: fip.address });
    Object.assign(fip, { portId: null, fixedIpAddress: null, routerId: null, status: 'DOWN', shownOnServer: false });
    return;
  }
  const port = cloud.state.ports.get(portId);
  const auth = getAuth(req);
  if (!port || (port.projectId !== auth.projectId && !auth.isAdmin)) throw new OpenStackError(404, `Port ${portId} could not be found.`, 'PortNotFound');
  const ip = fixedIp ? port.fixedIps.find((i) => i.ipAddress === fixedIp) : port.fixedIps[0];
  if (!ip) throw new OpenStackError(400, `Bad floatingip request: Port ${portId} does not have fixed ip ${fixedIp ?? ''}.`, 'BadRequest');
  const taken = [...cloud.state.floatingIps.values()].find((f) => f !== fip && f.portId === portId && f.fixedIpAddress === ip.ipAddress);
  if (taken) {
    throw new OpenStackError(
      409,
      `Cannot associate floating IP ${fip.address} (${fip.id}) with port ${portId} using fixed IP ${ip.ipAddress}, as that fixed IP already has a floating IP on external network ${taken.floatingNetworkId}.`,
      'FloatingIPPortAlreadyAssociated',
    );
  }
  const router = [...cloud.state.routers.values()].find((r) => r.externalNetworkId === fip.floatingNetworkId && r.interfaceSubnetIds.includes(ip.subnetId));
  if (!router) {
    throw new OpenStackError(404, `External network ${fip.floatingNetworkId} is not reachable from subnet ${ip.subnetId}.  Therefore, cannot associate Port ${portId} with a Floating IP.`, 'ExternalGatewayForFloatingIPNotFound');
  }
  Object.assign(fip, { portId, fixedIpAddress: ip.ipAddress, routerId: router.id, status: 'DOWN', shownOnServer: false });
  const revision = fip.revision;
  cloud.tasks.run(`floating ip ${fip.address} -> ${portId}`, async () => {
    await cloud.tasks.delay(cloud.settings.latency.floatingIpMs);
    if (fip.revision !== revision || !cloud.state.floatingIps.has(fip.id)) return; // changed again meanwhile
    Object.assign(fip, { status: 'ACTIVE', shownOnServer: true, updatedAt: new Date() });
    const server = cloud.state.ports.get(portId)?.deviceId ?? null;
    cloud.events.emit('floatingip.associated', { id: fip.id, address: fip.address, portId, serverId: server, fixedIpAddress: fip.fixedIpAddress });
  });
}

export function mountFloatingIps(router: Router, cloud: CloudContext): void {
  const visible = (req: Request): FloatingIpRecord[] => {
    const auth = getAuth(req);
    return [...cloud.state.floatingIps.values()].filter((f) => auth.isAdmin || f.projectId === auth.projectId);
  };

  router.get('/v2.0/floatingips', operation(cloud, 'neutron.floatingip.list'), (req, res) => {
    res.json(neutronCollection(req, 'floatingips', cloud.urls.network, visible(req).map((f) => floatingIpView(cloud, f))));
  });

  router.get('/v2.0/floatingips/:id', operation(cloud, 'neutron.floatingip.show'), (req, res) => {
    res.json({ floatingip: project(req, floatingIpView(cloud, findFloatingIp(cloud, req, req.params.id as string))) });
  });

  router.post('/v2.0/floatingips', operation(cloud, 'neutron.floatingip.create'), (req, res) => {
    const input = body(req);
    const auth = getAuth(req);
    if (typeof input.floating_network_id !== 'string') throw new OpenStackError(400, "Failed to parse request. Required attribute 'floating_network_id' not specified", 'HTTPBadRequest');
    const network = cloud.state.networks.get(input.floating_network_id);
    if (!network) throw new OpenStackError(404, `Network ${input.floating_network_id} could not be found.`, 'NetworkNotFound');
    if (!network.external) throw new OpenStackError(400, `Bad floatingip request: Network ${network.id} is not a valid external network.`, 'BadRequest');
    const used = [...cloud.state.floatingIps.values()].filter((f) => f.projectId === auth.projectId).length;
    if (used >= cloud.settings.quotas.floatingIps) throw new OpenStackError(409, "Quota exceeded for resources: ['floatingip'].", 'OverQuota');
    const wanted = typeof input.floating_ip_address === 'string' ? input.floating_ip_address : undefined;
    const address = cloud.pools.floating.allocate(wanted);
    if (!address) {
      throw wanted
        ? new OpenStackError(409, `IP address ${wanted} already allocated in subnet ${network.subnetIds[0]}`, 'IpAddressAlreadyAllocated')
        : new OpenStackError(409, `No more IP addresses available on network ${network.id}.`, 'IpAddressGenerationFailure');
    }
    const now = new Date();
    const fip: FloatingIpRecord = {
      id: randomUUID(),
      projectId: auth.projectId,
      address,
      floatingNetworkId: network.id,
      portId: null,
      fixedIpAddress: null,
      routerId: null,
      status: 'DOWN',
      description: typeof input.description === 'string' ? input.description : '',
      shownOnServer: false,
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
    try {
      if (typeof input.port_id === 'string') associate(cloud, req, fip, input.port_id, typeof input.fixed_ip_address === 'string' ? input.fixed_ip_address : undefined);
    } catch (err) {
      cloud.pools.floating.release(address);
      throw err;
    }
    cloud.state.floatingIps.set(fip.id, fip);
    res.status(201).json({ floatingip: floatingIpView(cloud, fip) });
  });

  router.put('/v2.0/floatingips/:id', operation(cloud, 'neutron.floatingip.update'), (req, res) => {
    const fip = findFloatingIp(cloud, req, req.params.id as string);
    const input = body(req);
    if (typeof input.description === 'string') fip.description = input.description;
    if (input.port_id !== undefined) {
      if (input.port_id !== null && typeof input.port_id !== 'string') throw new OpenStackError(400, `Invalid input for port_id.`, 'HTTPBadRequest');
      associate(cloud, req, fip, input.port_id, typeof input.fixed_ip_address === 'string' ? input.fixed_ip_address : undefined);
    }
    res.json({ floatingip: floatingIpView(cloud, fip) });
  });

  router.delete('/v2.0/floatingips/:id', operation(cloud, 'neutron.floatingip.delete'), (req, res) => {
    const fip = findFloatingIp(cloud, req, req.params.id as string);
    if (fip.portId) cloud.events.emit('floatingip.disassociated', { id: fip.id, address: fip.address });
    cloud.state.floatingIps.delete(fip.id);
    cloud.pools.floating.release(fip.address);
    res.status(204).end();
  });
}
