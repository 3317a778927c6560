/** Servers: list (with filters and marker paging), detail, show, create, update, delete. */
import type { Request, Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import type { ServerRecord } from '../cloud/cloud.state';
import { OpenStackError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { atLeast, getAuth, queryParam } from '../http/request-context';
import { novaLinks } from './nova-format';
import { createServer } from './server-create';
import { startDelete } from './server.lifecycle';
import { serverAddresses, serverView } from './server.view';

/** Nova's status filter maps to states; the sandbox's statuses map one to one. */
const STATUSES = new Set(['ACTIVE', 'BUILD', 'ERROR', 'SHUTOFF', 'REBOOT', 'DELETED']);

export function findServer(cloud: CloudContext, req: Request, id: string): ServerRecord {
  const server = cloud.state.servers.get(id);
  const auth = getAuth(req);
  if (!server || (server.projectId !== auth.projectId && !auth.isAdmin)) throw new OpenStackError(404, `Instance ${id} could not be found.`);
  return server;
}

function pythonRegex(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    throw new OpenStackError(400, `Invalid regular expression: ${pattern}`);
  }
}

function filterServers(cloud: CloudContext, req: Request): { servers: ServerRecord[]; more: boolean } {
  const auth = getAuth(req);
  const allTenants = auth.isAdmin && ['1', 'true', 'True', ''].includes(queryParam(req, 'all_tenants') ?? 'no');
  let servers = [...cloud.state.servers.values()].filter((s) => allTenants || s.projectId === auth.projectId);
  const project = queryParam(req, 'project_id') ?? queryParam(req, 'tenant_id');
  if (project && allTenants) servers = servers.filter((s) => s.projectId === project);
  const name = queryParam(req, 'name');
  if (name) servers = servers.filter((s) => pythonRegex(name).test(s.name));
  const status = queryParam(req, 'status');
  if (status) {
    if (!STATUSES.has(status.toUpperCase())) return { servers: [], more: false };
    servers = servers.filter((s) => s.status === status.toUpperCase());
  }
  const image = queryParam(req, 'image');
  if (image) servers = servers.filter((s) => s.imageId === image.split('/').pop());
  const flavor = queryParam(req, 'flavor');
  if (flavor) servers = servers.filter((s) => s.flavorId === flavor.split('/').pop());
  const ip = queryParam(req, 'ip');
  if (ip) {
    const re = pythonRegex(ip);
    servers = servers.filter((s) => Object.values(serverAddresses(cloud, s)).some((list) => list.some((a) => re.test(a.addr))));
  }
  const tags = queryParam(req, 'tags');
  if (tags && atLeast(req, 26)) servers = servers.filter((s) => tags.split(',').every((t) => s.tags.includes(t)));
  const since = queryParam(req, 'changes-since');
  if (since) servers = servers.filter((s) => s.updatedAt.getTime() >= Date.parse(since));
  servers.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : 1));

  const marker = queryParam(req, 'marker');
  if (marker) {
    const at = servers.findIndex((s) => s.id === marker);
    if (at < 0) throw new OpenStackError(400, `marker [${marker}] not found`);
    servers = servers.slice(at + 1);
  }
  const limitRaw = queryParam(req, 'limit');
  if (limitRaw === undefined) return { servers, more: false };
  const limit = Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 0) throw new OpenStackError(400, `Invalid input for query parameters limit.`);
  return { servers: servers.slice(0, limit), more: servers.length > limit };
}

export function mountServers(router: Router, cloud: CloudContext): void {
  const page = (req: Request, detail: boolean): Record<string, unknown> => {
    const { servers, more } = filterServers(cloud, req);
    const body: Record<string, unknown> = {
      servers: servers.map((s) => (detail ? serverView(cloud, req, s) : { id: s.id, name: s.name, links: novaLinks(cloud, 'servers', s.id) })),
    };
    if (more && servers.length > 0) {
      const params = new URLSearchParams(req.query as Record<string, string>);
      params.set('marker', servers[servers.length - 1]!.id);
      body.servers_links = [{ rel: 'next', href: `${cloud.urls.compute}/servers${detail ? '/detail' : ''}?${params}` }];
    }
    return body;
  };
  router.get('/servers', operation(cloud, 'nova.server.list'), (req, res) => void res.json(page(req, false)));
  router.get('/servers/detail', operation(cloud, 'nova.server.list'), (req, res) => void res.json(page(req, true)));

  router.post('/servers', operation(cloud, 'nova.server.create'), (req, res) => {
    const { server, adminPass } = createServer(cloud, req);
    res.setHeader('Location', novaLinks(cloud, 'servers', server.id)[0]!.href);
    res.status(202).json({
      server: {
        id: server.id,
        links: novaLinks(cloud, 'servers', server.id),
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: [{ name: 'default' }],
        adminPass,
      },
    });
  });

  router.get('/servers/:id', operation(cloud, 'nova.server.show'), (req, res) => {
    res.json({ server: serverView(cloud, req, findServer(cloud, req, req.params.id as string)) });
  });

  router.put('/servers/:id', operation(cloud, 'nova.server.update'), (req, res) => {
    const server = findServer(cloud, req, req.params.id as string);
    const body = (req.body as { server?: { name?: unknown; description?: unknown } } | undefined)?.server;
    if (!body || typeof body !== 'object') throw new OpenStackError(400, "Invalid input for field/attribute server. 'server' is a required property");
    if (body.name !== undefined) {
      if (typeof body.name !== 'string' || body.name.trim() === '' || body.name.length > 255) throw new OpenStackError(400, 'Invalid input for field/attribute name.');
      server.name = body.name;
    }
    if (body.description !== undefined && atLeast(req, 19)) server.description = body.description === null ? null : String(body.description);
    server.updatedAt = new Date();
    res.json({ server: serverView(cloud, req, server) });
  });

  router.delete('/servers/:id', operation(cloud, 'nova.server.delete'), (req, res) => {
    startDelete(cloud, findServer(cloud, req, req.params.id as string));
    res.status(204).end();
  });
}
