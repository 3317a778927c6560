/**
 * The composition root: database (embedded unless DATABASE_URL), migrations, secret key,
 * bootstrap admin token, event bus, services and the API server. Adapters are bound to
 * ports here and nowhere else.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { AesGcmSecretBox, loadOrCreateSecretKey } from './adapters/crypto/aes-gcm.secret-box';
import { KeystoneCloudConnector } from './adapters/openstack/keystone.client';
import { OpenStackCloudApiFactory } from './adapters/openstack/openstack-cloud-api.factory';
import { PgBossJobQueue } from './adapters/pg-boss/pg-boss.job-queue';
import { createDataSource } from './adapters/postgres/data-source';
import { EmbeddedDatabase, startEmbeddedPostgres } from './adapters/postgres/embedded-postgres';
import { migrate } from './adapters/postgres/migrate';
import { PostgresEventBus } from './adapters/postgres/postgres-event-bus';
import { createMetrics } from './api/metrics';
import { buildApiSchema } from './api/schema';
import { ApiServer, createApiServer } from './api/server';
import { Config } from './config';
import { CloneRunner } from './pipeline/clone-runner';
import { CLOUD_HEALTH_LOCK_ID, CloudHealthProber, DEFAULT_PROBE_OPTIONS } from './scheduler/cloud-health.prober';
import { LeaderLock } from './scheduler/leader-lock';
import { createServices, Services } from './services';

export interface Broker {
  url: string;
  port: number;
  /** The bootstrap admin secret when this start generated it (print it once), else null. */
  generatedAdminToken: string | null;
  services: Services;
  dataSource: DataSource;
  stop(): Promise<void>;
}

export async function startBroker(config: Config, logger: Logger): Promise<Broker> {
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => logger.error({ err }, 'error while stopping'));
  };
  try {
    await fs.mkdir(config.dataDir, { recursive: true });
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded: EmbeddedDatabase = await startEmbeddedPostgres(config.dataDir, logger);
      cleanups.push(() => embedded.stop());
      databaseUrl = embedded.url;
    }
    const dataSource = createDataSource(databaseUrl);
    await dataSource.initialize();
    cleanups.push(() => dataSource.destroy());
    const applied = await migrate(dataSource);
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');

    const secrets = new AesGcmSecretBox(await loadOrCreateSecretKey(config.secretKey, config.dataDir));
    const bus = new PostgresEventBus(dataSource, databaseUrl, logger);
    await bus.start();
    cleanups.push(() => bus.close());

    const cloudApis = new OpenStackCloudApiFactory();
    cleanups.push(() => cloudApis.close());
    const queue = new PgBossJobQueue(databaseUrl, logger, { concurrency: config.clone.concurrency });
    await queue.start();
    const services = createServices({ dataSource, bus, secrets, cloudConnector: new KeystoneCloudConnector(), cloudApis, queue });
    const { generatedSecret } = await services.auth.bootstrapAdmin(config.adminToken);

    const metrics = createMetrics();
    const api: ApiServer = await createApiServer({
      schema: await buildApiSchema(),
      services,
      logger,
      metrics,
      limits: { maxDepth: config.graphql.maxDepth, maxCost: config.graphql.maxCost, maxAliases: config.graphql.maxAliases, maxTokens: config.graphql.maxTokens },
      introspection: config.graphql.introspection,
      bodyLimit: config.requestBodyLimit,
      rateLimitPerMinute: config.rateLimitPerMinute,
      rateLimitAnonymousPerMinute: config.rateLimitAnonymousPerMinute,
      trustedProxies: config.trustedProxies,
      websocket: config.websocket,
      isReady: async () => {
        await dataSource.query('SELECT 1');
        return bus.isListening();
      },
    });
    const port = await api.listen(config.port, config.host);
    cleanups.push(() => withTimeout(api.close(), config.shutdownGraceMs, 'draining HTTP and WebSocket connections'));

    // Runs after the API is up; stopped first (cleanups run in reverse), so running clones
    // pause at a safe point and another replica resumes them.
    const runner = new CloneRunner(dataSource, bus, queue, cloudApis, services.clouds, logger, {
      owner: `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`,
      leaseMs: config.clone.leaseMs,
      stepAttempts: config.clone.stepAttempts,
      sweepIntervalMs: Math.max(1000, config.clone.leaseMs / 2),
    });
    if (config.clone.concurrency > 0) await runner.start();
    cleanups.push(() => runner.stop());

    // Also after the API and stopped before the database; only the replica holding the lock probes.
    const cloudHealthLock = new LeaderLock(databaseUrl, { lockId: CLOUD_HEALTH_LOCK_ID, name: 'cloud-health' }, logger);
    const prober = new CloudHealthProber(services.cloudHealth, cloudHealthLock, logger, metrics, { ...DEFAULT_PROBE_OPTIONS, intervalMs: config.cloudHealth.intervalMs });
    prober.start();
    cleanups.push(() => prober.stop());
    const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    return {
      url: `http://${host}:${port}/graphql`,
      port,
      generatedAdminToken: generatedSecret,
      services,
      dataSource,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function withTimeout(p: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  try {
    await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
