/** Neutron v2.0 subset: discovery, extensions, networks, subnets, ports, routers, security groups, floating IPs. */
import express, { type Request, type Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { requireToken } from '../http/auth.middleware';
import { OpenStackError, serviceErrorHandler } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { getAuth } from '../http/request-context';
import { mountFloatingIps } from './floating-ips.routes';
import { neutronCollection, project } from './neutron-list';
import { mountQuotas } from './quotas.routes';
import { networkView, portView, routerView, securityGroupView, subnetView } from './neutron.views';

const EXTENSIONS = [
  'router', 'external-net', 'ext-gw-mode', 'fip-port-details', 'binding', 'port-security', 'security-group', 'quotas',
  'standard-attr-description', 'standard-attr-timestamp', 'standard-attr-revisions', 'availability_zone',
  'network_availability_zone', 'router_availability_zone', 'extra_dhcp_opt', 'allowed-address-pairs', 'subnet_allocation',
];

export function neutronRouter(cloud: CloudContext): Router {
  const router = express.Router();
  // Older clients append ".json" to every path.
  router.use((req, _res, next) => {
    req.url = req.url.replace(/\.json(?=\?|$)/, '');
    next();
  });
  router.get('/', operation(cloud, 'neutron.discovery'), (_req, res) => {
    res.json({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${cloud.urls.network}/v2.0/` }] }] });
  });
  router.use('/v2.0', requireToken(cloud));
  router.use(express.json({ limit: '1mb' }));
  router.get('/v2.0', operation(cloud, 'neutron.discovery'), (_req, res) => {
    const resources = ['subnet', 'network', 'port', 'router', 'floatingip', 'security_group'];
    res.json({ resources: resources.map((r) => ({ name: r, collection: `${r}s`, links: [{ rel: 'self', href: `${cloud.urls.network}/v2.0/${r}s` }] })) });
  });
  router.get('/v2.0/extensions', operation(cloud, 'neutron.discovery'), (_req, res) => {
    res.json({ extensions: EXTENSIONS.map((alias) => ({ alias, name: alias, description: alias, links: [], updated: '2013-01-01T00:00:00-00:00' })) });
  });

  const visibleNetworks = (req: Request) => {
    const auth = getAuth(req);
    return [...cloud.state.networks.values()].filter((n) => auth.isAdmin || n.shared || n.external || n.projectId === auth.projectId);
  };
  router.get('/v2.0/networks', operation(cloud, 'neutron.network.list'), (req, res) => {
    res.json(neutronCollection(req, 'networks', cloud.urls.network, visibleNetworks(req).map(networkView)));
  });
  router.get('/v2.0/networks/:id', operation(cloud, 'neutron.network.show'), (req, res) => {
    const network = visibleNetworks(req).find((n) => n.id === req.params.id);
    if (!network) throw new OpenStackError(404, `Network ${req.params.id as string} could not be found.`, 'NetworkNotFound');
    res.json({ network: project(req, networkView(network)) });
  });

  const visibleSubnets = (req: Request) => {
    const networks = new Set(visibleNetworks(req).map((n) => n.id));
    return [...cloud.state.subnets.values()].filter((s) => networks.has(s.networkId));
  };
  router.get('/v2.0/subnets', operation(cloud, 'neutron.subnet.list'), (req, res) => {
    res.json(neutronCollection(req, 'subnets', cloud.urls.network, visibleSubnets(req).map(subnetView)));
  });
  router.get('/v2.0/subnets/:id', operation(cloud, 'neutron.subnet.show'), (req, res) => {
    const subnet = visibleSubnets(req).find((s) => s.id === req.params.id);
    if (!subnet) throw new OpenStackError(404, `Subnet ${req.params.id as string} could not be found.`, 'SubnetNotFound');
    res.json({ subnet: project(req, subnetView(subnet)) });
  });

  const visiblePorts = (req: Request) => {
    const auth = getAuth(req);
    return [...cloud.state.ports.values()].filter((p) => auth.isAdmin || p.projectId === auth.projectId);
  };
  router.get('/v2.0/ports', operation(cloud, 'neutron.port.list'), (req, res) => {
    const admin = getAuth(req).isAdmin;
    res.json(neutronCollection(req, 'ports', cloud.urls.network, visiblePorts(req).map((p) => portView(p, admin))));
  });
  router.get('/v2.0/ports/:id', operation(cloud, 'neutron.port.show'), (req, res) => {
    const port = visiblePorts(req).find((p) => p.id === req.params.id);
    if (!port) throw new OpenStackError(404, `Port ${req.params.id as string} could not be found.`, 'PortNotFound');
    res.json({ port: project(req, portView(port, getAuth(req).isAdmin)) });
  });

  router.get('/v2.0/routers', operation(cloud, 'neutron.router.list'), (req, res) => {
    const auth = getAuth(req);
    const routers = [...cloud.state.routers.values()].filter((r) => auth.isAdmin || r.projectId === auth.projectId);
    res.json(neutronCollection(req, 'routers', cloud.urls.network, routers.map((r) => routerView(cloud, r))));
  });
  router.get('/v2.0/security-groups', operation(cloud, 'neutron.securityGroup.list'), (req, res) => {
    const auth = getAuth(req);
    res.json(neutronCollection(req, 'security_groups', cloud.urls.network, [securityGroupView(auth.projectId, cloud.state.networks.values().next().value?.createdAt ?? new Date())]));
  });
  mountFloatingIps(router, cloud);
  mountQuotas(router, cloud);

  router.use((req, _res, next) => next(new OpenStackError(404, `The resource could not be found.`, 'HTTPNotFound')));
  router.use(serviceErrorHandler('neutron', cloud.log));
  return router;
}
