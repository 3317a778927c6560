/** Nova v2.1 subset: version discovery, microversions, servers, actions, metadata, flavors, limits, AZs. */
import express, { type Request, type Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { requireToken } from '../http/auth.middleware';
import { OpenStackError, serviceErrorHandler } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { atLeast, getAuth } from '../http/request-context';
import { mountFlavors } from './flavors.routes';
import { microversion } from './microversion.middleware';
import { computeUsage } from './quota';
import { mountQuotaSets } from './quota-sets.routes';
import { mountServerActions } from './server-actions.routes';
import { mountServerMetadata } from './server-metadata.routes';
import { mountServers } from './servers.routes';

function versionDoc(cloud: CloudContext): Record<string, unknown> {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: cloud.config.maxComputeMicroversion,
    min_version: '2.1',
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${cloud.urls.compute}/` },
      { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  };
}

function limitsView(cloud: CloudContext, req: Request): unknown {
  const quotas = cloud.settings.quotas;
  const used = computeUsage(cloud, getAuth(req).projectId);
  const absolute: Record<string, number> = {
    maxTotalInstances: quotas.instances,
    totalInstancesUsed: used.instances,
    maxTotalCores: quotas.cores,
    totalCoresUsed: used.cores,
    maxTotalRAMSize: quotas.ramMb,
    totalRAMUsed: used.ramMb,
    maxServerMeta: 128,
    maxImageMeta: 128,
    maxTotalKeypairs: 100,
    maxServerGroups: 10,
    maxServerGroupMembers: 10,
    totalServerGroupsUsed: 0,
  };
  if (!atLeast(req, 57)) Object.assign(absolute, { maxPersonality: 5, maxPersonalitySize: 10240 });
  if (!atLeast(req, 36)) {
    Object.assign(absolute, {
      maxTotalFloatingIps: quotas.floatingIps,
      totalFloatingIpsUsed: [...cloud.state.floatingIps.values()].filter((f) => f.projectId === getAuth(req).projectId).length,
      maxSecurityGroups: 10,
      totalSecurityGroupsUsed: 1,
      maxSecurityGroupRules: 20,
    });
  }
  return { limits: { rate: [], absolute } };
}

export function novaRouter(cloud: CloudContext): Router {
  const router = express.Router();
  router.get('/', operation(cloud, 'nova.discovery'), (_req, res) => {
    const v2 = { id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z', links: [{ rel: 'self', href: `${cloud.urls.compute.replace(/v2\.1$/, 'v2')}/` }] };
    res.json({ versions: [v2, { ...versionDoc(cloud), 'media-types': undefined }] });
  });

  const v21 = express.Router();
  router.use('/v2.1', v21);
  v21.use(microversion(cloud.config.maxComputeMicroversion));
  v21.get('/', operation(cloud, 'nova.discovery'), (_req, res) => void res.json({ version: versionDoc(cloud) }));
  v21.use(requireToken(cloud));
  v21.use(express.json({ limit: '1mb' }));

  v21.get('/limits', operation(cloud, 'nova.limits'), (req, res) => void res.json(limitsView(cloud, req)));
  v21.get(['/os-availability-zone', '/os-availability-zone/detail'], operation(cloud, 'nova.availabilityZone.list'), (_req, res) => {
    res.json({ availabilityZoneInfo: cloud.config.availabilityZones.map((zoneName) => ({ zoneName, zoneState: { available: true }, hosts: null })) });
  });
  mountQuotaSets(v21, cloud);
  mountFlavors(v21, cloud);
  mountServers(v21, cloud);
  mountServerActions(v21, cloud);
  mountServerMetadata(v21, cloud);

  v21.use((_req, _res, next) => next(new OpenStackError(404, 'The resource could not be found.')));
  v21.use(serviceErrorHandler('nova', cloud.log));
  router.use((_req, _res, next) => next(new OpenStackError(404, 'The resource could not be found.')));
  router.use(serviceErrorHandler('nova', cloud.log));
  return router;
}
