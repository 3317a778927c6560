/**
 * One cloud's HTTP surface on one port: each OpenStack service under its path prefix (as
 * devstack does behind Apache), plus the `/_sandbox` control API.
 */
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { SandboxControl } from '../control/control.types';
import { controlRouter } from '../control/control.routes';
import { glanceRouter } from '../glance/glance.routes';
import { keystoneRouter } from '../keystone/keystone.routes';
import { neutronRouter } from '../neutron/neutron.routes';
import { novaRouter } from '../nova/nova.routes';
import type { CloudContext } from './cloud.context';

export const PATHS = { identity: '/identity', compute: '/compute', image: '/image', network: '/network', control: '/_sandbox' } as const;

export function buildCloudApp(cloud: CloudContext, control: SandboxControl): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    const id = `req-${randomUUID()}`;
    res.setHeader('x-openstack-request-id', id);
    if (req.path.startsWith(PATHS.compute)) res.setHeader('x-compute-request-id', id);
    next();
  });
  app.use(PATHS.identity, keystoneRouter(cloud));
  app.use(PATHS.compute, novaRouter(cloud));
  app.use(PATHS.image, glanceRouter(cloud));
  app.use(PATHS.network, neutronRouter(cloud));
  app.use(PATHS.control, controlRouter(control));
  app.get('/', (_req, res) => {
    res.json({ sandbox: cloud.config.name, region: cloud.config.region, authUrl: cloud.urls.identity, control: cloud.urls.control });
  });
  app.use((_req, res) => void res.status(404).json({ error: { code: 404, message: 'The resource could not be found.', title: 'Not Found' } }));
  return app;
}
