/**
 * Configuration from the environment, parsed and validated once at start-up. A bad value
 * stops the broker with a message naming the variable and what it expects.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { EndpointPolicy, Network, parseNetworks } from './domain/endpoint-policy';
import { ConversionSettings, DEFAULT_CONVERSION_SETTINGS } from './transfer/disk-conversion';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Comma-separated CIDRs (`127.0.0.0/8,fd00::/8`); empty means none. */
const networks = z.string().transform((value, ctx): Network[] => {
  try {
    return parseNetworks(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `must be comma-separated CIDRs: ${(err as Error).message}` });
    return z.NEVER;
  }
});

/** A PEM bundle of CA certificates, read once here so a missing or broken file stops the start. */
const caFile = z.string().min(1).transform((file, ctx): string => {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    return z.NEVER;
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    ctx.addIssue({ code: 'custom', message: `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
    return z.NEVER;
  }
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      ctx.addIssue({ code: 'custom', message: `certificate ${i + 1} in ${file} is not a valid X.509 certificate` });
      return z.NEVER;
    }
  }
  return blocks.join('\n');
});

const schema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  INTERCLOUD_DATA_DIR: z.string().min(1).default('./data'),
  INTERCLOUD_SECRET_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)')
    .optional(),
  INTERCLOUD_ADMIN_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9_-]{32,256}$/, 'must be 32-256 characters of A-Z a-z 0-9 _ -')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRAPHQL_INTROSPECTION: bool.default(true),
  GRAPHQL_MAX_DEPTH: int(2, 50).default(10),
  GRAPHQL_MAX_COST: int(10, 1_000_000).default(5000),
  GRAPHQL_MAX_ALIASES: int(1, 1000).default(50),
  GRAPHQL_MAX_TOKENS: int(100, 100_000).default(2000),
  REQUEST_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'must be a size like 100kb or 1mb')
    .default('1mb'),
  RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(600),
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: int(1, 1_000_000).default(60),
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((e) => e.trim()).filter((e) => e !== ''))
    .refine((list) => list.every((e) => ipaddr.isValidCIDR(e) || ipaddr.isValid(e)), 'must be comma-separated addresses or CIDRs, e.g. 10.0.0.0/8,2001:db8::/32'),
  WS_MAX_CONNECTIONS_PER_ADDRESS: int(1, 100_000).default(20),
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1, 10_000).default(50),
  WS_MAX_BUFFERED_BYTES: int(64 * 1024, 1024 * 1024 * 1024).default(1024 * 1024),
  WS_TOKEN_CHECK_SECONDS: int(1, 3600).default(2),
  WS_SHARED_EXECUTION: z.enum(['on', 'off']).default('on'),
  WS_BATCHED_FRAMES: z.enum(['on', 'off']).default('on'),
  TOKEN_CACHE_SECONDS: int(0, 300).default(5),
  MATCHMAKING_CACHE_SECONDS: int(0, 3600).default(10),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  EVENT_FANOUT: z.enum(['shared', 'per-subscriber']).default('shared'),
  TRANSFER_HASH: z.enum(['worker', 'inline']).default('worker'),
  /** Where a disk format conversion spools the image (default: <tmp>/intercloud-spool). */
  TRANSFER_SPOOL_DIR: z
    .string()
    .refine((v) => path.isAbsolute(v), 'must be an absolute path')
    .optional(),
  /** Free space a conversion leaves untouched on the spool's filesystem. */
  TRANSFER_SPOOL_RESERVE_BYTES: int(0, Number.MAX_SAFE_INTEGER).default(DEFAULT_CONVERSION_SETTINGS.reserveBytes),
  TRANSFER_CONVERT_TIMEOUT_SECONDS: int(1, 86_400).default(DEFAULT_CONVERSION_SETTINGS.timeoutMs / 1000),
  TRANSFER_ENGINE: z.enum(['auto', 'relay', 'chunked']).default('auto'),
  AGENT_SHARED_SECRET: z.string().min(32, 'must be at least 32 characters (openssl rand -base64 32), the same on every transfer agent').optional(),
  AGENT_CACHE_DIR: z.string().min(1).optional(),
  AGENT_CACHE_BYTES: int(64 * 1024 * 1024, Number.MAX_SAFE_INTEGER).default(20 * 1024 ** 3),
  CLONE_CONCURRENCY: int(0, 64).default(2),
  CLONE_LEASE_SECONDS: int(1, 3600).default(30),
  CLONE_STEP_ATTEMPTS: int(1, 50).default(8),
  CLONE_SNAPSHOT_TIMEOUT_SECONDS: int(1, 86_400).default(1800), // DEFAULT_STEP_TIMEOUTS.snapshotMs
  SCALE_DOWN_CONCURRENCY: int(0, 64).default(4),
  CLONE_REAPER_INTERVAL_SECONDS: int(1, 86_400).default(300),
  CLONE_REAPER_GRACE_SECONDS: int(0, 86_400).default(60),
  STANDBY_IMAGE_TTL_SECONDS: int(1, 30 * 86_400).default(3600),
  STANDBY_REFRESH_INTERVAL_SECONDS: int(1, 86_400).default(30),
  CLOUD_HEALTH_INTERVAL_SECONDS: int(1, 86_400).default(60),
  MONITORING_POLL_SECONDS: int(1, 3600).default(15),
  SCHEDULER_TICK_SECONDS: int(1, 3600).default(5),
  SIP_SSH_READY_TIMEOUT_SECONDS: int(5, 3600).default(300),
  SIP_COMMAND_TIMEOUT_SECONDS: int(1, 3600).default(120),
  SIP_REGISTER_TIMEOUT_SECONDS: int(1, 3600).default(60),
  CLOUD_REQUEST_TIMEOUT_SECONDS: int(1, 600).default(30),
  CLOUD_CREATE_GRACE_SECONDS: int(0, 600).default(15),
  RETENTION_INTERVAL_SECONDS: int(60, 86_400 * 7).default(3600),
  RETENTION_EVENTS_DAYS: int(0, 36_500).default(30),
  RETENTION_AUDIT_DAYS: int(0, 36_500).default(365),
  RETENTION_SAMPLES_DAYS: int(0, 36_500).default(30),
  CLOUD_ALLOW_INSECURE_HTTP: bool.default(false),
  CLOUD_ENDPOINT_ALLOW: networks.default([]),
  CLOUD_ENDPOINT_DENY: networks.default([]),
  CLOUD_CA_FILE: caFile.optional(),
});

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  secretKey: string | undefined;
  adminToken: string | undefined;
  logLevel: string;
  graphql: { introspection: boolean; maxDepth: number; maxCost: number; maxAliases: number; maxTokens: number };
  requestBodyLimit: string;
  rateLimitPerMinute: number;
  /** Requests without a valid token, per client address. */
  rateLimitAnonymousPerMinute: number;
  /** Networks of load balancers whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  websocket: { maxConnectionsPerAddress: number; maxSubscriptionsPerConnection: number; maxBufferedBytes: number; tokenCheckIntervalMs: number; sharedExecution: boolean; batchedFrames: boolean };
  /** How long a replica trusts a verified API token without reading it again; revocations are pushed, so this only bounds a missed announcement. */
  tokenCacheMs: number;
  /** How old a cloud's Nova limits, flavors and networks may be when matchmake answers from its cache. */
  matchmakingCacheMs: number;
  shutdownGraceMs: number;
  /** `per-subscriber` is the old delivery, kept as the baseline of `npm run bench:events`. */
  eventFanout: 'shared' | 'per-subscriber';
  /** `inline` hashes on the event loop (the old way), kept as the baseline of `npm run bench:clone`. */
  transferHash: 'worker' | 'inline';
  /** Disk format conversions in TRANSFER: spool folder, free-space reserve, qemu-img timeout. */
  conversion: ConversionSettings;
  /**
   * TRANSFER's data path: `relay` streams every byte through this process (the baseline of
   * `npm run bench:transfer`); `chunked` sends zero-skipped, compressed, deduplicated chunks
   * through the clouds' transfer agents (this process plays a side that has none); `auto` is
   * chunked when either cloud names an agent. `secret` signs the agents' job tokens; `cacheDir`
   * and `cacheBytes` bound this process's own chunk store (when it plays the target side).
   */
  transfer: { engine: 'auto' | 'relay' | 'chunked'; secret: string | null; cacheDir: string; cacheBytes: number };
  /** Clone jobs this broker runs at once (0: this replica only serves the API). */
  /** snapshotMs: how long SNAPSHOT may wait for a source server busy with another task, and then for its snapshot. */
  clone: { concurrency: number; leaseMs: number; stepAttempts: number; snapshotMs: number; reaperIntervalMs: number; reaperGraceMs: number };
  /**
   * How long a standby image (prepareStandby) may be booted from; past it the leader's reaper
   * deletes it. How often the leader looks for kept-fresh standbys due for a successor.
   */
  standby: { ttlMs: number; refreshIntervalMs: number };
  /** Scale-down jobs this broker runs at once (0: none here); they share the clone jobs' lease and attempts. */
  scaleDown: { concurrency: number };
  /** How often the leader replica probes every registered cloud's Keystone. */
  cloudHealth: { intervalMs: number };
  /** How often the leader replica reads every registered Nagios. */
  monitoring: { pollIntervalMs: number };
  /** How often the leader replica's autoscaler evaluates every VM type with an active threshold. */
  scheduler: { tickMs: number };
  /** The SIP service path's steps (CONFIGURE, MONITORING, LOAD_BALANCER and their scale-down counterparts). */
  sip: { sshReadyMs: number; commandMs: number; registerMs: number };
  /** HTTP to clouds: the deadline of one attempt, and how long an unanswered create is looked for before it is sent again. */
  cloudHttp: { timeoutMs: number; createGraceMs: number };
  /** How long events, audit entries and samples are kept (days; 0: forever), pruned by the leader every interval. */
  retention: { intervalMs: number; eventsDays: number; auditDays: number; samplesDays: number };
  /** Which cloud endpoints the broker talks to, and the CA certificates it trusts beyond Node's roots (PEM). */
  cloudEndpoints: { policy: EndpointPolicy; ca: string | null };
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    dataDir: path.resolve(c.INTERCLOUD_DATA_DIR),
    secretKey: c.INTERCLOUD_SECRET_KEY,
    adminToken: c.INTERCLOUD_ADMIN_TOKEN,
    logLevel: c.LOG_LEVEL,
    graphql: {
      introspection: c.GRAPHQL_INTROSPECTION,
      maxDepth: c.GRAPHQL_MAX_DEPTH,
      maxCost: c.GRAPHQL_MAX_COST,
      maxAliases: c.GRAPHQL_MAX_ALIASES,
      maxTokens: c.GRAPHQL_MAX_TOKENS,
    },
    requestBodyLimit: c.REQUEST_BODY_LIMIT,
    rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
    rateLimitAnonymousPerMinute: c.RATE_LIMIT_ANONYMOUS_PER_MINUTE,
    trustedProxies: c.TRUSTED_PROXIES,
    websocket: {
      maxConnectionsPerAddress: c.WS_MAX_CONNECTIONS_PER_ADDRESS,
      maxSubscriptionsPerConnection: c.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxBufferedBytes: c.WS_MAX_BUFFERED_BYTES,
      tokenCheckIntervalMs: c.WS_TOKEN_CHECK_SECONDS * 1000,
      sharedExecution: c.WS_SHARED_EXECUTION === 'on',
      batchedFrames: c.WS_BATCHED_FRAMES === 'on',
    },
    tokenCacheMs: c.TOKEN_CACHE_SECONDS * 1000,
    matchmakingCacheMs: c.MATCHMAKING_CACHE_SECONDS * 1000,
    shutdownGraceMs: c.SHUTDOWN_GRACE_MS,
    eventFanout: c.EVENT_FANOUT,
    transferHash: c.TRANSFER_HASH,
    conversion: {
      spoolDir: c.TRANSFER_SPOOL_DIR ?? DEFAULT_CONVERSION_SETTINGS.spoolDir,
      reserveBytes: c.TRANSFER_SPOOL_RESERVE_BYTES,
      timeoutMs: c.TRANSFER_CONVERT_TIMEOUT_SECONDS * 1000,
    },
    transfer: {
      engine: c.TRANSFER_ENGINE,
      secret: c.AGENT_SHARED_SECRET ?? null,
      cacheDir: path.resolve(c.AGENT_CACHE_DIR ?? path.join(c.INTERCLOUD_DATA_DIR, 'chunks')),
      cacheBytes: c.AGENT_CACHE_BYTES,
    },
    clone: {
      concurrency: c.CLONE_CONCURRENCY,
      leaseMs: c.CLONE_LEASE_SECONDS * 1000,
      stepAttempts: c.CLONE_STEP_ATTEMPTS,
      snapshotMs: c.CLONE_SNAPSHOT_TIMEOUT_SECONDS * 1000,
      reaperIntervalMs: c.CLONE_REAPER_INTERVAL_SECONDS * 1000,
      reaperGraceMs: c.CLONE_REAPER_GRACE_SECONDS * 1000,
    },
    standby: { ttlMs: c.STANDBY_IMAGE_TTL_SECONDS * 1000, refreshIntervalMs: c.STANDBY_REFRESH_INTERVAL_SECONDS * 1000 },
    scaleDown: { concurrency: c.SCALE_DOWN_CONCURRENCY },
    cloudHealth: { intervalMs: c.CLOUD_HEALTH_INTERVAL_SECONDS * 1000 },
    monitoring: { pollIntervalMs: c.MONITORING_POLL_SECONDS * 1000 },
    scheduler: { tickMs: c.SCHEDULER_TICK_SECONDS * 1000 },
    sip: { sshReadyMs: c.SIP_SSH_READY_TIMEOUT_SECONDS * 1000, commandMs: c.SIP_COMMAND_TIMEOUT_SECONDS * 1000, registerMs: c.SIP_REGISTER_TIMEOUT_SECONDS * 1000 },
    cloudHttp: { timeoutMs: c.CLOUD_REQUEST_TIMEOUT_SECONDS * 1000, createGraceMs: c.CLOUD_CREATE_GRACE_SECONDS * 1000 },
    retention: {
      intervalMs: c.RETENTION_INTERVAL_SECONDS * 1000,
      eventsDays: c.RETENTION_EVENTS_DAYS,
      auditDays: c.RETENTION_AUDIT_DAYS,
      samplesDays: c.RETENTION_SAMPLES_DAYS,
    },
    cloudEndpoints: {
      policy: { allowInsecureHttp: c.CLOUD_ALLOW_INSECURE_HTTP, allow: c.CLOUD_ENDPOINT_ALLOW, deny: c.CLOUD_ENDPOINT_DENY },
      ca: c.CLOUD_CA_FILE ?? null,
    },
  };
}
