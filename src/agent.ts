/**
 * Agent mode (`INTERCLOUD_ROLE=agent`, `npm run agent`): a transfer agent beside one cloud. No
 * database and no cloud credentials; the only secret is the key shared with the broker, which
 * signs a short-lived token for each job. Its configuration is parsed here, apart from the
 * broker's, so an agent needs none of the broker's settings.
 */
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config';
import { createLogger } from './logger';
import { RunningAgent, defaultAgentSpoolDir, startAgent } from './transfer/agent.server';
import { DEFAULT_CONVERSION_SETTINGS } from './transfer/disk-conversion';

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4100),
  HOST: z.string().min(1).default('0.0.0.0'),
  AGENT_SHARED_SECRET: z.string().min(32, 'must be at least 32 characters (openssl rand -base64 32), the same as the broker'),
  AGENT_CACHE_DIR: z.string().min(1).default('./data/agent-chunks'),
  AGENT_CACHE_BYTES: z.coerce.number().int().min(64 * 1024 * 1024).default(20 * 1024 ** 3),
  /** Where a format conversion spools (a folder per job); default: beside the cache, `<AGENT_CACHE_DIR>-spool`. */
  AGENT_SPOOL_DIR: z.string().min(1).optional(),
  /** Free space a conversion leaves untouched on the spool's filesystem. */
  AGENT_SPOOL_RESERVE_BYTES: z.coerce.number().int().min(0).default(DEFAULT_CONVERSION_SETTINGS.reserveBytes),
  /** Upper bound of one qemu-img run. */
  AGENT_CONVERT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(DEFAULT_CONVERSION_SETTINGS.timeoutMs / 1000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export async function runAgent(env: NodeJS.ProcessEnv = process.env): Promise<RunningAgent> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`invalid agent configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  const c = parsed.data;
  const logger = createLogger(c.LOG_LEVEL);
  const conversion = {
    spoolDir: path.resolve(c.AGENT_SPOOL_DIR ?? defaultAgentSpoolDir(c.AGENT_CACHE_DIR)),
    reserveBytes: c.AGENT_SPOOL_RESERVE_BYTES,
    timeoutMs: c.AGENT_CONVERT_TIMEOUT_SECONDS * 1000,
  };
  const agent = await startAgent({ port: c.PORT, host: c.HOST, secret: c.AGENT_SHARED_SECRET, cacheDir: path.resolve(c.AGENT_CACHE_DIR), cacheBytes: c.AGENT_CACHE_BYTES, logger, conversion });
  logger.info({ url: agent.url, cacheDir: path.resolve(c.AGENT_CACHE_DIR), cacheBytes: c.AGENT_CACHE_BYTES, spoolDir: conversion.spoolDir }, 'intercloud transfer agent ready');
  console.log(`Intercloud transfer agent listening on ${agent.url}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    agent.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return agent;
}
