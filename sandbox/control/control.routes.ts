/**
 * The `/_sandbox` HTTP API: the same operations as SandboxControl, as JSON, so a test or
 * benchmark in another process can steer a running cloud. Unauthenticated: it listens on
 * loopback only, like the cloud itself.
 */
import express, { type ErrorRequestHandler, type Router } from 'express';
import { ZodError } from 'zod';
import { OPERATIONS } from '../behaviour/operation-names';
import { describeZodError } from '../config/cloud-options.schema';
import { OpenStackError } from '../http/openstack-error';
import type { SandboxControl } from './control.types';

export function controlRouter(control: SandboxControl): Router {
  const router = express.Router();
  router.use(express.json({ limit: '1mb' }));

  router.get('/', async (_req, res) => void res.json(await control.info()));
  router.get('/operations', (_req, res) => void res.json({ operations: OPERATIONS }));
  router.get('/settings', async (_req, res) => void res.json(await control.settings()));
  router.patch('/settings', async (req, res) => void res.json(await control.updateSettings(req.body as object)));

  router.get('/faults', async (_req, res) => void res.json({ faults: await control.listFaults() }));
  router.post('/faults', async (req, res) => void res.status(201).json(await control.injectFault(req.body as never)));
  router.delete('/faults', async (_req, res) => {
    await control.clearFaults();
    res.status(204).end();
  });
  router.delete('/faults/:id', async (req, res) => {
    await control.clearFaults(req.params.id);
    res.status(204).end();
  });

  router.get('/calls', async (_req, res) => void res.json({ calls: await control.calls() }));
  router.delete('/calls', async (_req, res) => {
    await control.resetCalls();
    res.status(204).end();
  });

  router.get('/images', async (_req, res) => void res.json({ images: await control.listImages() }));
  router.post('/images', async (req, res) => void res.status(201).json(await control.seedImage(req.body as never)));
  router.get('/servers', async (_req, res) => void res.json({ servers: await control.listServers() }));
  router.post('/tokens/revoke', async (_req, res) => void res.json({ revoked: await control.revokeTokens() }));

  router.use((_req, res) => void res.status(404).json({ error: { message: 'no such sandbox control route' } }));
  const errors: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    if (err instanceof ZodError) return void res.status(400).json({ error: { message: describeZodError(err) } });
    if (err instanceof OpenStackError) return void res.status(err.status).json({ error: { message: err.message } });
    const status = (err as { status?: number }).status;
    res.status(status && status >= 400 && status < 500 ? status : 500).json({ error: { message: (err as Error).message } });
  };
  router.use(errors);
  return router;
}
