/**
 * A transfer agent (`INTERCLOUD_ROLE=agent`, `npm run agent`): the broker's own transfer code as
 * a small HTTP server beside a cloud, with no database and no long-term credentials. Every call
 * carries a job token the broker signed (job-token.ts) naming the job, the tenant, the cloud,
 * the role, and the exact URLs the agent may call for it; anything else is refused.
 *
 * - target side: `POST /v1/target/missing` (at most MAX_BATCH_HASHES names), `POST /v1/target/chunks`
 *   (a framed batch, chunk-codec.ts packBatch: every chunk verified before any is stored),
 *   `POST /v1/target/commit` (rebuild from the tenant's store, upload to Glance),
 *   `POST /v1/target/index` (cut an image already in the target Glance into the tenant's store);
 *   `POST /v1/target/convert` (rebuild into a spool file, qemu-img convert, upload the result;
 *   NDJSON stages while it works, target-conversion.ts);
 * - source side: `POST /v1/source/send` (read the source Glance, send what the target agent
 *   lacks), answering NDJSON progress lines while it works.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { RemoteChunkTarget, SendRequest } from './agent.client';
import { BatchFormatError, CHUNK_HASH, ChunkCodecPool, ChunkIntegrityError, MAX_BATCH_BODY_BYTES, MAX_BATCH_HASHES, unpackBatch } from './chunk-codec';
import { ChunkStore } from './chunk-store';
import { CommitRequest, GlanceImageAccess, LocalChunkTarget, ManifestEntry, TransferStats, manifestProblem, sendImage } from './chunk-transfer';
import { AgentRole, JobTokenClaims, JobTokenError, tokenAllows, verifyJobToken } from './job-token';
import { PermanentStepError } from '../domain/clone-phase';
import { isConvertibleDiskFormat } from '../domain/disk-formats';
import { ConversionSettings, DEFAULT_CONVERSION_SETTINGS } from './disk-conversion';
import { convertOnTarget } from './target-conversion';

export interface AgentOptions {
  port: number;
  host: string;
  /** The key the broker signs job tokens with. */
  secret: string;
  cacheDir: string;
  cacheBytes: number;
  logger: Logger;
  /** Where and how the target side converts disk formats (default: DEFAULT_CONVERSION_SETTINGS with the spool beside the cache, defaultAgentSpoolDir). */
  conversion?: ConversionSettings;
}

export interface RunningAgent {
  url: string;
  store: ChunkStore;
  stop(): Promise<void>;
}

/** Agent counters, labelled per job (and side), for the agent's /metrics. */
function agentMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'intercloud_agent_' });
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['job', 'role'] as const, registers: [registry] });
  return {
    registry,
    linkBytes: counter('intercloud_agent_link_bytes_total', 'Chunk frame bytes this agent sent (source) or received (target) over the intercloud link'),
    imageBytes: counter('intercloud_agent_image_bytes_total', 'Image bytes this agent read (source) or uploaded to Glance (target)'),
    zeroBytes: counter('intercloud_agent_zero_bytes_total', 'Image bytes in all-zero chunks, sent as markers'),
    dedupBytes: counter('intercloud_agent_dedup_bytes_total', 'Image bytes of chunks the target already held'),
    refused: new Counter({ name: 'intercloud_agent_refused_total', help: 'Requests refused, by reason', labelNames: ['reason'] as const, registers: [registry] }),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const store = await ChunkStore.open(o.cacheDir, o.cacheBytes);
  const conversion = o.conversion ?? { ...DEFAULT_CONVERSION_SETTINGS, spoolDir: defaultAgentSpoolDir(o.cacheDir) };
  // Spool folders an earlier run of this agent left (killed mid-conversion): no job of this process uses them.
  await removeStaleSpools(conversion.spoolDir);
  /** Jobs converting now: a retry must not remove the spool of an attempt still running. */
  const converting = new Set<string>();
  const pool = new ChunkCodecPool();
  const metrics = agentMetrics();
  const app = express();
  app.disable('x-powered-by');

  const auth = (role: AgentRole) => (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer (\S+)$/.exec(header);
    try {
      if (!m) throw new JobTokenError('a job token (Authorization: Bearer) is required');
      res_locals(req).claims = verifyJobToken(o.secret, m[1], role);
      next();
    } catch (err) {
      metrics.refused.inc({ reason: 'token' });
      next(new HttpError(401, (err as Error).message));
    }
  };
  const claimsOf = (req: Request): JobTokenClaims => res_locals(req).claims!;
  const scopeOf = (c: JobTokenClaims) => ({ tenantId: c.tenantId, cloudId: c.cloudId });
  const allow = (c: JobTokenClaims, url: unknown, field: string): string => {
    if (typeof url !== 'string' || !tokenAllows(c, url)) {
      metrics.refused.inc({ reason: 'scope' });
      throw new HttpError(403, `${field} is not an address this job's token allows`);
    }
    return url;
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', storeBytes: store.size });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.post('/v1/target/missing', auth('target'), express.json({ limit: '1mb' }), async (req, res) => {
    const hashes = (req.body as { hashes?: unknown }).hashes;
    if (!Array.isArray(hashes) || hashes.length > MAX_BATCH_HASHES || !hashes.every((h) => typeof h === 'string' && CHUNK_HASH.test(h))) {
      throw new HttpError(400, `hashes must be at most ${MAX_BATCH_HASHES} sha256 hex names`);
    }
    res.json({ missing: await store.missing(scopeOf(claimsOf(req)), hashes as string[]) });
  });

  app.post('/v1/target/chunks', auth('target'), express.raw({ type: 'application/octet-stream', limit: MAX_BATCH_BODY_BYTES }), async (req, res) => {
    const c = claimsOf(req);
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new HttpError(400, 'the body must be a batch of chunk frames (application/octet-stream)');
    const body = req.body;
    try {
      await new LocalChunkTarget(store, scopeOf(c), pool).putMany(unpackBatch(body));
    } catch (err) {
      if (err instanceof BatchFormatError) {
        metrics.refused.inc({ reason: 'format' });
        throw new HttpError(400, err.message);
      }
      if (err instanceof ChunkIntegrityError) {
        metrics.refused.inc({ reason: 'integrity' });
        throw new HttpError(422, err.message);
      }
      throw err;
    }
    metrics.linkBytes.inc({ job: c.jobId, role: 'target' }, body.length);
    res.status(204).end();
  });

  // A manifest entry is {"hash":<64 hex or null>,"size":n}, ~90 bytes per chunk of ~64 KiB: 32 MiB covers ~23 GiB of non-zero image.
  app.post('/v1/target/commit', auth('target'), express.json({ limit: '32mb' }), async (req, res) => {
    const c = claimsOf(req);
    const body = req.body as Partial<CommitRequest> & { glance?: Partial<GlanceImageAccess> };
    if (typeof body.size !== 'number' || !Number.isSafeInteger(body.size) || body.size < 0) throw new HttpError(400, 'size must be a byte count');
    const problem = manifestProblem(body.size, body.manifest);
    if (problem) throw new HttpError(400, problem);
    const glance = { url: allow(c, body.glance?.url, 'glance.url'), token: String(body.glance?.token ?? '') };
    const log = o.logger.child({ jobId: c.jobId, role: 'target' });
    const result = await new LocalChunkTarget(store, scopeOf(c), pool).commit({ size: body.size, manifest: body.manifest as ManifestEntry[] }, glance);
    if (!result.ok) {
      log.info({ missing: result.missing.length }, 'commit asked for chunks the store lacks');
      res.status(409).json(result);
      return;
    }
    metrics.imageBytes.inc({ job: c.jobId, role: 'target' }, body.size);
    log.info({ bytes: body.size }, 'image rebuilt from the chunk store and uploaded');
    res.json(result);
  });

  // An image already in this cloud's Glance (named by the broker in the job token), cut and stored in the tenant's store.
  app.post('/v1/target/index', auth('target'), express.json({ limit: '64kb' }), async (req, res) => {
    const c = claimsOf(req);
    const body = req.body as { glance?: Partial<GlanceImageAccess> & { size?: unknown } };
    const url = allow(c, body.glance?.url, 'glance.url');
    const size = body.glance?.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new HttpError(400, 'glance.size must be a byte count');
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const result = await new LocalChunkTarget(store, scopeOf(c), pool, abort.signal).index({ url, token: String(body.glance?.token ?? ''), size });
    o.logger.child({ jobId: c.jobId, role: 'target' }).info({ ...result }, 'indexed an image already in the target Glance');
    res.json(result);
  });

  // The same manifest as a commit, plus the formats: converted here, the stages answered as NDJSON
  // lines (and a line every KEEPALIVE_MS, so a long qemu-img run does not look like a dead peer).
  app.post('/v1/target/convert', auth('target'), express.json({ limit: '32mb' }), async (req, res) => {
    const c = claimsOf(req);
    const body = req.body as Partial<CommitRequest> & { glance?: Partial<GlanceImageAccess>; from?: unknown; to?: unknown; expectSha512?: unknown };
    if (typeof body.size !== 'number' || !Number.isSafeInteger(body.size) || body.size < 0) throw new HttpError(400, 'size must be a byte count');
    const problem = manifestProblem(body.size, body.manifest);
    if (problem) throw new HttpError(400, problem);
    const { from, to } = body;
    if (!isConvertibleDiskFormat(from) || !isConvertibleDiskFormat(to) || from === to) throw new HttpError(400, 'from and to must be two different formats of qcow2, raw, vmdk');
    const expectSha512 = body.expectSha512 ?? null;
    if (expectSha512 !== null && (typeof expectSha512 !== 'string' || !/^[0-9a-f]{128}$/.test(expectSha512))) throw new HttpError(400, 'expectSha512 must be a sha512 in hex, or null');
    const glance = { url: allow(c, body.glance?.url, 'glance.url'), token: String(body.glance?.token ?? '') };
    if (converting.has(c.jobId)) throw new HttpError(409, 'this job is already converting on this agent');
    converting.add(c.jobId);
    const log = o.logger.child({ jobId: c.jobId, role: 'target' });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.status(200).type('application/x-ndjson');
    const line = (msg: unknown) => {
      if (!res.writableEnded) res.write(`${JSON.stringify(msg)}\n`);
    };
    const keepalive = setInterval(() => line({ working: true }), KEEPALIVE_MS);
    try {
      const result = await convertOnTarget({
        store,
        scope: scopeOf(c),
        pool,
        settings: conversion,
        jobId: c.jobId,
        req: { size: body.size, manifest: body.manifest as ManifestEntry[], from, to, expectSha512 },
        glance,
        signal: abort.signal,
        onEvent: (event) => {
          log.info(event, 'conversion');
          line({ event });
        },
      });
      if (result.ok) {
        metrics.imageBytes.inc({ job: c.jobId, role: 'target' }, body.size);
        log.info({ bytes: body.size, uploadedBytes: result.uploadedBytes, from, to }, 'image rebuilt, converted and uploaded');
      } else {
        log.info({ missing: result.missing.length }, 'conversion asked for chunks the store lacks');
      }
      line({ done: result });
    } catch (err) {
      log.warn({ err }, 'conversion failed');
      // A permanent failure keeps its code (SPOOL_SPACE, CONVERSION_FAILED, CHECKSUM_MISMATCH...) for the broker to fail the job with.
      line(err instanceof PermanentStepError ? { error: err.message, code: err.code } : { error: (err as Error).message });
    } finally {
      clearInterval(keepalive);
      converting.delete(c.jobId);
      if (!res.writableEnded) res.end();
    }
  });

  app.post('/v1/source/send', auth('source'), express.json({ limit: '1mb' }), async (req, res) => {
    const c = claimsOf(req);
    const body = req.body as Partial<SendRequest>;
    const sourceUrl = allow(c, body.source?.url, 'source.url');
    const targetUrl = allow(c, body.target?.agentUrl, 'target.agentUrl');
    const size = body.source?.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new HttpError(400, 'source.size must be a byte count');
    const log = o.logger.child({ jobId: c.jobId, role: 'source' });
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.status(200).type('application/x-ndjson');
    let last: TransferStats | null = null;
    const counted = (s: TransferStats) => {
      const prev = last ?? { linkBytes: 0, processedBytes: 0, zeroBytes: 0, dedupBytes: 0 };
      metrics.linkBytes.inc({ job: c.jobId, role: 'source' }, s.linkBytes - prev.linkBytes);
      metrics.imageBytes.inc({ job: c.jobId, role: 'source' }, s.processedBytes - prev.processedBytes);
      metrics.zeroBytes.inc({ job: c.jobId, role: 'source' }, s.zeroBytes - prev.zeroBytes);
      metrics.dedupBytes.inc({ job: c.jobId, role: 'source' }, s.dedupBytes - prev.dedupBytes);
      last = s;
    };
    try {
      const done = await sendImage({
        source: { url: sourceUrl, token: String(body.source?.token ?? ''), size },
        target: new RemoteChunkTarget(targetUrl, String(body.target?.token ?? ''), abort.signal),
        pool,
        signal: abort.signal,
        onProgress: (s) => {
          counted(s);
          res.write(`${JSON.stringify({ progress: s })}\n`);
        },
      });
      log.info({ ...done.stats }, 'chunks sent');
      res.end(`${JSON.stringify({ done })}\n`);
    } catch (err) {
      log.warn({ err }, 'send failed');
      if (!res.writableEnded) res.end(`${JSON.stringify({ error: (err as Error).message })}\n`);
    }
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ChunkIntegrityError) {
      // Met while rebuilding an image (commit): the chunk was removed from the store, so the next attempt has it sent again.
      metrics.refused.inc({ reason: 'store-integrity' });
      o.logger.warn({ err }, 'a stored chunk no longer matched its name; removed');
      res.status(503).json({ error: `a chunk in the agent's store no longer matched its sha256 and was removed: ${err.message}` });
      return;
    }
    const status = err instanceof HttpError ? err.status : (err as { status?: number }).status ?? 500;
    if (status >= 500) o.logger.error({ err }, 'agent request failed');
    res.status(status).json({ error: status >= 500 && !(err instanceof HttpError) ? 'internal error' : (err as Error).message });
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    store,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
}

/** How often a long request (a conversion) writes a line, well under undici's 300 s body timeout. */
const KEEPALIVE_MS = 20_000;

/** `<cacheDir>-spool`: as much this agent's own as its cache, so a restart may clear what it holds. */
export function defaultAgentSpoolDir(cacheDir: string): string {
  return `${path.resolve(cacheDir)}-spool`;
}

async function removeStaleSpools(spoolDir: string): Promise<void> {
  const entries = await fs.readdir(spoolDir).catch(() => [] as string[]);
  for (const name of entries) if (/^job-[A-Za-z0-9-]{1,64}$/.test(name)) await fs.rm(path.join(spoolDir, name), { recursive: true, force: true });
}

function res_locals(req: Request): { claims?: JobTokenClaims } {
  return ((req as unknown as { agentLocals?: { claims?: JobTokenClaims } }).agentLocals ??= {});
}
