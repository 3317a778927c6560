/**
 * Keystone's read-only identity API (projects, users, domains, roles, services, endpoints,
 * regions): what `openstack project list` or `endpoint list` and admin tooling read. Listing is
 * admin-only, as Keystone's default policy has it; a user may read itself and its projects.
 */
import type { Request, Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError, UnauthorizedError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { queryParam } from '../http/request-context';
import { catalogView } from './catalog.view';
import type { TokenRecord } from './token.store';

interface EndpointView {
  id: string;
  interface: string;
  region_id: string;
  region: string;
  url: string;
}

function forbidden(action: string): OpenStackError {
  return new OpenStackError(403, `You are not authorized to perform the requested action: identity:${action}.`);
}

export function mountIdentityRead(router: Router, cloud: CloudContext): void {
  const caller = (req: Request): TokenRecord => {
    const id = req.get('x-auth-token');
    const token = id ? cloud.tokens.validate(id) : undefined;
    if (!token) throw new UnauthorizedError(cloud.urls.identity);
    return token;
  };
  const admin = (req: Request, action: string): TokenRecord => {
    const token = caller(req);
    if (!token.roles.some((r) => r.name === 'admin')) throw forbidden(action);
    return token;
  };
  const collection = (_req: Request, name: string, items: object[]): unknown => ({
    [name]: items,
    links: { self: `${cloud.urls.identity}/${name}`, previous: null, next: null },
  });
  const byName = <T extends { name: string }>(req: Request, items: T[]): T[] => {
    const name = queryParam(req, 'name');
    return name === undefined ? items : items.filter((i) => i.name === name);
  };
  const self = (kind: string, id: string) => ({ self: `${cloud.urls.identity}/${kind}/${id}` });

  const projectView = (p: (typeof cloud.identity.projects)[number]) => ({
    id: p.id, name: p.name, domain_id: p.domain.id, parent_id: p.domain.id, enabled: true, is_domain: false, description: '', tags: [], options: {}, links: self('projects', p.id),
  });
  const userView = (u: (typeof cloud.identity.users)[number]) => ({
    id: u.id, name: u.name, domain_id: u.domain.id, default_project_id: u.defaultProjectId, enabled: true, password_expires_at: null, options: {}, links: self('users', u.id),
  });

  router.get('/v3/projects', operation(cloud, 'keystone.identity.read'), (req, res) => {
    admin(req, 'list_projects');
    res.json(collection(req, 'projects', byName(req, cloud.identity.projects).map(projectView)));
  });
  router.get('/v3/projects/:id', operation(cloud, 'keystone.identity.read'), (req, res) => {
    const token = caller(req);
    const project = cloud.identity.findProjectById(req.params.id as string);
    if (!project) throw new OpenStackError(404, `Could not find project: ${req.params.id as string}.`);
    if (!token.user.roles.has(project.id) && !token.roles.some((r) => r.name === 'admin')) throw forbidden('get_project');
    res.json({ project: projectView(project) });
  });
  router.get('/v3/users', operation(cloud, 'keystone.identity.read'), (req, res) => {
    admin(req, 'list_users');
    res.json(collection(req, 'users', byName(req, cloud.identity.users).map(userView)));
  });
  router.get('/v3/users/:id', operation(cloud, 'keystone.identity.read'), (req, res) => {
    const token = caller(req);
    const user = cloud.identity.findUserById(req.params.id as string);
    if (!user) throw new OpenStackError(404, `Could not find user: ${req.params.id as string}.`);
    if (user.id !== token.user.id && !token.roles.some((r) => r.name === 'admin')) throw forbidden('get_user');
    res.json({ user: userView(user) });
  });
  router.get('/v3/users/:id/projects', operation(cloud, 'keystone.identity.read'), (req, res) => {
    const token = caller(req);
    if (req.params.id !== token.user.id && !token.roles.some((r) => r.name === 'admin')) throw forbidden('list_user_projects');
    const user = cloud.identity.findUserById(req.params.id as string);
    res.json(collection(req, 'projects', cloud.identity.projects.filter((p) => user?.roles.has(p.id)).map(projectView)));
  });
  router.get('/v3/domains', operation(cloud, 'keystone.identity.read'), (req, res) => {
    admin(req, 'list_domains');
    res.json(collection(req, 'domains', byName(req, cloud.identity.domains).map((d) => ({ id: d.id, name: d.name, enabled: true, description: '', tags: [], options: {}, links: self('domains', d.id) }))));
  });
  router.get('/v3/roles', operation(cloud, 'keystone.identity.read'), (req, res) => {
    admin(req, 'list_roles');
    const roles = new Map(cloud.identity.users.flatMap((u) => [...u.roles.values()].flat()).map((r) => [r.id, r]));
    res.json(collection(req, 'roles', byName(req, [...roles.values()]).map((r) => ({ id: r.id, name: r.name, domain_id: null, description: null, options: {}, links: self('roles', r.id) }))));
  });
  router.get('/v3/regions', operation(cloud, 'keystone.identity.read'), (req, res) => {
    caller(req);
    const id = cloud.config.region;
    res.json(collection(req, 'regions', [{ id, description: '', parent_region_id: null, links: self('regions', id) }]));
  });
  router.get('/v3/services', operation(cloud, 'keystone.identity.read'), (req, res) => {
    admin(req, 'list_services');
    const services = (catalogView(cloud) as Array<{ id: string; type: string; name: string }>).map((s) => ({ id: s.id, type: s.type, name: s.name, enabled: true, description: '', links: self('services', s.id) }));
    res.json(collection(req, 'services', services.filter((s) => queryParam(req, 'type') === undefined || s.type === queryParam(req, 'type'))));
  });
  router.get('/v3/endpoints', operation(cloud, 'keystone.identity.read'), (req, res) => {
    admin(req, 'list_endpoints');
    const endpoints = (catalogView(cloud) as Array<{ id: string; endpoints: EndpointView[] }>).flatMap((s) =>
      s.endpoints.map((e) => ({ id: e.id, interface: e.interface, region_id: e.region_id, region: e.region, url: e.url, service_id: s.id, enabled: true, links: self('endpoints', e.id) })),
    );
    const wanted = (key: 'interface' | 'service_id' | 'region_id') => (e: Record<string, unknown>) => queryParam(req, key) === undefined || e[key] === queryParam(req, key);
    res.json(collection(req, 'endpoints', endpoints.filter(wanted('interface')).filter(wanted('service_id')).filter(wanted('region_id'))));
  });
}
