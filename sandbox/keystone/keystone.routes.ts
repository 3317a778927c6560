/** Keystone v3 subset: version discovery, token issue / validate / revoke, catalog. */
import express, { type Request, type Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError, UnauthorizedError, serviceErrorHandler } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { authenticate } from './auth-request';
import { mountIdentityRead } from './identity-read.routes';
import { catalogView } from './catalog.view';
import type { TokenRecord } from './token.store';
import { tokenView } from './token.view';

function versionDoc(cloud: CloudContext): Record<string, unknown> {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${cloud.urls.identity}/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

export function keystoneRouter(cloud: CloudContext): Router {
  const router = express.Router();
  router.use(express.json({ limit: '1mb' }));

  router.get('/', operation(cloud, 'keystone.discovery'), (_req, res) => {
    res.status(300).json({ versions: { values: [versionDoc(cloud)] } });
  });
  router.get('/v3', operation(cloud, 'keystone.discovery'), (_req, res) => {
    res.json({ version: versionDoc(cloud) });
  });

  router.post('/v3/auth/tokens', operation(cloud, 'keystone.token'), (req, res) => {
    const who = authenticate(cloud, req.body);
    const token = cloud.tokens.issue(who);
    res.setHeader('X-Subject-Token', token.id);
    res.status(201).json(tokenView(cloud, token, req.query.nocatalog === undefined));
  });

  const caller = (req: Request): TokenRecord => {
    const token = req.get('x-auth-token');
    const record = token ? cloud.tokens.validate(token) : undefined;
    if (!record) throw new UnauthorizedError(cloud.urls.identity);
    return record;
  };
  const subject = (req: Request): TokenRecord => {
    const id = req.get('x-subject-token');
    if (!id) throw new OpenStackError(400, 'Expecting to find X-Subject-Token in request headers.');
    const record = cloud.tokens.validate(id);
    if (!record) throw new OpenStackError(404, `Could not find token: ${id}.`);
    return record;
  };

  router.get('/v3/auth/tokens', operation(cloud, 'keystone.token.validate'), (req, res) => {
    caller(req);
    const token = subject(req);
    res.setHeader('X-Subject-Token', token.id);
    res.json(tokenView(cloud, token, req.query.nocatalog === undefined));
  });
  router.head('/v3/auth/tokens', operation(cloud, 'keystone.token.validate'), (req, res) => {
    caller(req);
    res.setHeader('X-Subject-Token', subject(req).id);
    res.status(200).end();
  });
  router.delete('/v3/auth/tokens', operation(cloud, 'keystone.token.revoke'), (req, res) => {
    caller(req);
    cloud.tokens.revoke(subject(req).id);
    res.status(204).end();
  });

  router.get('/v3/auth/catalog', operation(cloud, 'keystone.token.validate'), (req, res) => {
    if (!caller(req).project) throw new OpenStackError(403, 'A project-scoped token is required to produce a service catalog.');
    res.json({ catalog: catalogView(cloud), links: { self: `${cloud.urls.identity}/auth/catalog`, previous: null, next: null } });
  });
  router.get('/v3/auth/projects', operation(cloud, 'keystone.token.validate'), (req, res) => {
    const user = caller(req).user;
    const projects = cloud.identity.projects.filter((p) => user.roles.has(p.id));
    res.json({
      projects: projects.map((p) => ({
        id: p.id,
        name: p.name,
        domain_id: p.domain.id,
        enabled: true,
        is_domain: false,
        parent_id: p.domain.id,
        description: '',
        tags: [],
        links: { self: `${cloud.urls.identity}/projects/${p.id}` },
      })),
      links: { self: `${cloud.urls.identity}/auth/projects`, previous: null, next: null },
    });
  });

  mountIdentityRead(router, cloud);

  router.use((_req, _res, next) => next(new OpenStackError(404, 'The resource could not be found.')));
  router.use(serviceErrorHandler('keystone', cloud.log));
  return router;
}
