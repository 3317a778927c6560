/** Server metadata: whole-set get / merge (POST) / replace (PUT) and per-key get / set / delete. */
import type { Router } from 'express';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError } from '../http/openstack-error';
import { operation } from '../http/operation.middleware';
import { findServer } from './servers.routes';

function metadataBody(body: unknown, key: 'metadata' | 'meta'): Record<string, string> {
  const value = (body as Record<string, unknown> | undefined)?.[key];
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new OpenStackError(400, `Invalid input for field/attribute ${key}. Value: ${JSON.stringify(value ?? null)}.`);
  }
  return value as Record<string, string>;
}

export function mountServerMetadata(router: Router, cloud: CloudContext): void {
  const op = operation(cloud, 'nova.server.metadata');
  router.get('/servers/:id/metadata', op, (req, res) => {
    res.json({ metadata: { ...findServer(cloud, req, req.params.id as string).metadata } });
  });
  router.post('/servers/:id/metadata', op, (req, res) => {
    const server = findServer(cloud, req, req.params.id as string);
    server.metadata = { ...server.metadata, ...metadataBody(req.body, 'metadata') };
    server.updatedAt = new Date();
    res.json({ metadata: { ...server.metadata } });
  });
  router.put('/servers/:id/metadata', op, (req, res) => {
    const server = findServer(cloud, req, req.params.id as string);
    server.metadata = { ...metadataBody(req.body, 'metadata') };
    server.updatedAt = new Date();
    res.json({ metadata: { ...server.metadata } });
  });
  router.get('/servers/:id/metadata/:key', op, (req, res) => {
    const server = findServer(cloud, req, req.params.id as string);
    const key = req.params.key as string;
    if (!(key in server.metadata)) throw new OpenStackError(404, 'Metadata item was not found');
    res.json({ meta: { [key]: server.metadata[key] } });
  });
  router.put('/servers/:id/metadata/:key', op, (req, res) => {
    const server = findServer(cloud, req, req.params.id as string);
    const key = req.params.key as string;
    const meta = metadataBody(req.body, 'meta');
    if (Object.keys(meta).length !== 1 || !(key in meta)) throw new OpenStackError(400, 'Request body and URI mismatch');
    server.metadata[key] = meta[key]!;
    server.updatedAt = new Date();
    res.json({ meta: { [key]: meta[key] } });
  });
  router.delete('/servers/:id/metadata/:key', op, (req, res) => {
    const server = findServer(cloud, req, req.params.id as string);
    const key = req.params.key as string;
    if (!(key in server.metadata)) throw new OpenStackError(404, 'Metadata item was not found');
    delete server.metadata[key];
    server.updatedAt = new Date();
    res.status(204).end();
  });
}
