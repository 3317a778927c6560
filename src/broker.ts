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
import { CloudTransport } from './adapters/openstack/cloud-transport';
import { KeystoneCloudConnector } from './adapters/openstack/keystone.client';
import { OpenStackCloudApiFactory } from './adapters/openstack/openstack-cloud-api.factory';
import { PgBossJobQueue } from './adapters/pg-boss/pg-boss.job-queue';
import { SshRemoteShell } from './adapters/ssh/ssh.remote-shell';
import { GuardedTransport } from './adapters/net/guarded-transport';
import { NetReadinessProbe } from './adapters/net/readiness.probe';
import { NagiosConfigurator } from './adapters/nagios/nagios-config.configurator';
import { NagiosStatusSource } from './adapters/nagios/nagios-status.source';
import { SipLoadBalancerAdapter } from './adapters/sip-lb/sip-load-balancer.adapter';
import { createDataSource } from './adapters/postgres/data-source';
import { EmbeddedDatabase, startEmbeddedPostgres } from './adapters/postgres/embedded-postgres';
import { runMigrations, withSchemaLock } from './adapters/postgres/migrate';
import { DEFAULT_MAX_PENDING, PostgresEventBus } from './adapters/postgres/postgres-event-bus';
import { PostgresTokenRevocations } from './adapters/postgres/postgres-token-revocations';
import { createMetrics } from './api/metrics';
import { buildApiSchema } from './api/schema';
import { ApiServer, createApiServer } from './api/server';
import { Config } from './config';
import { CloneJobEntity, ScaleDownJobEntity } from './domain/entities';
import { CloneContextFactory } from './pipeline/clone-context.factory';
import { JobStore } from './pipeline/job.store';
import { CloneRunner, DEFAULT_BACKOFFS } from './pipeline/clone-runner';
import { DEFAULT_STEP_TIMEOUTS } from './pipeline/clone-step';
import { createCloneSteps } from './pipeline/steps';
import { ScaleDownRunner } from './pipeline/scale-down/scale-down-runner';
import { createScaleDownSteps } from './pipeline/scale-down/steps';
import { DEFAULT_SIP_TIMEOUTS, SipStepDeps } from './pipeline/sip/sip-step.deps';
import { AdvisoryLock } from './ports/advisory-locks.port';
import { MonitoringSource } from './ports/monitoring.port';
import { Autoscaler } from './scheduler/autoscaler';
import { CloneReaper } from './scheduler/clone-reaper';
import { CloudHealthProber } from './scheduler/cloud-health.prober';
import { LeaderLock } from './scheduler/leader-lock';
import { LeaderScheduler } from './scheduler/leader-scheduler';
import { MonitoringPoller } from './scheduler/monitoring.poller';
import { RetentionTask } from './scheduler/retention.task';
import { StandbyRefresher } from './scheduler/standby-refresher';
import { createServices, Services } from './services';
import { transferBaseImages } from './services/transfer-base-images';
import { LocalTransferSide } from './transfer/local-side';

export interface Broker {
  url: string;
  port: number;
  /** The bootstrap admin secret when this start generated it (print it once), else null. */
  generatedAdminToken: string | null;
  services: Services;
  dataSource: DataSource;
  stop(): Promise<void>;
}

/** Adapters a caller may bind instead of the built-in ones. */
export interface BrokerAdapters {
  /** Where the monitoring poller and the MONITORING step read Nagios (default: Nagios's statusjson.cgi over HTTP). */
  monitoringSource?: MonitoringSource;
}

export async function startBroker(config: Config, logger: Logger, adapters: BrokerAdapters = {}): Promise<Broker> {
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
    const queue = new PgBossJobQueue(databaseUrl, logger);
    // Every schema change of a start (ours, then pg-boss's schema and queue) under one lock:
    // brokers starting together on an empty database take turns instead of deadlocking.
    const applied = await withSchemaLock(dataSource, async () => {
      const names = await runMigrations(dataSource);
      await queue.start();
      return names;
    });
    if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');

    const secrets = new AesGcmSecretBox(await loadOrCreateSecretKey(config.secretKey, config.dataDir));
    const bus = new PostgresEventBus(dataSource, databaseUrl, logger, { maxPending: DEFAULT_MAX_PENDING, fanout: config.eventFanout });
    await bus.start();
    cleanups.push(() => bus.close());
    const tokenRevocations = new PostgresTokenRevocations(databaseUrl, logger);
    await tokenRevocations.start();
    cleanups.push(() => tokenRevocations.close());

    // One way out to every cloud endpoint, for registration, probes and clones alike: the endpoint policy holds everywhere.
    const transport = new CloudTransport(config.cloudEndpoints);
    cleanups.push(() => transport.close());
    const cloudApis = new OpenStackCloudApiFactory({ transport, policy: { timeoutMs: config.cloudHttp.timeoutMs, createGraceMs: config.cloudHttp.createGraceMs } });
    cleanups.push(() => cloudApis.close());
    cleanups.push(() => queue.stop());
    // The integrations a tenant binds (SSH to clones and Nagios servers, Nagios's CGI, the SIP
    // load balancers) go out under the same endpoint policy as the clouds, on a pool of their own.
    const integrations = new GuardedTransport({ policy: config.cloudEndpoints.policy, subject: 'integration endpoints', connections: 8, ca: config.cloudEndpoints.ca });
    cleanups.push(() => integrations.close());
    const remoteShell = new SshRemoteShell({ policy: config.cloudEndpoints.policy });
    const monitoringSource = adapters.monitoringSource ?? new NagiosStatusSource({ transport: integrations });
    const sipLoadBalancer = new SipLoadBalancerAdapter({ policy: config.cloudEndpoints.policy, transport: integrations });
    cleanups.push(() => sipLoadBalancer.close());
    const services = createServices({
      dataSource,
      bus,
      secrets,
      cloudConnector: new KeystoneCloudConnector(transport),
      cloudApis,
      queue,
      hostKeys: remoteShell,
      monitoringSource,
      logger,
      monitoringPollIntervalMs: config.monitoring.pollIntervalMs,
      tokenRevocations,
      tokenCacheMs: config.tokenCacheMs,
      endpointPolicy: config.cloudEndpoints.policy,
      matchmakingCacheMs: config.matchmakingCacheMs,
    });
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
    const sip: SipStepDeps = {
      remoteShell,
      monitoringSource,
      monitoringConfigurator: new NagiosConfigurator(),
      sipLoadBalancer,
      readiness: new NetReadinessProbe(config.cloudEndpoints.policy),
      bindings: services.sipBindings,
      endpointPolicy: config.cloudEndpoints.policy,
      dataSource,
      timeouts: { ...DEFAULT_SIP_TIMEOUTS, ...config.sip },
    };
    // This process's side of chunked transfers (a cloud without an agent); opened on first use.
    const localTransfer = new LocalTransferSide(config.transfer.cacheDir, config.transfer.cacheBytes);
    cleanups.push(() => localTransfer.close());
    const owner = `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
    const runner = new CloneRunner(
      {
        store: new JobStore(dataSource, CloneJobEntity, 'clone_jobs', owner, config.clone.leaseMs),
        bus,
        queue,
        contexts: new CloneContextFactory(dataSource, cloudApis, services.clouds),
        steps: createCloneSteps({
          timeouts: { ...DEFAULT_STEP_TIMEOUTS, snapshotMs: config.clone.snapshotMs },
          sip,
          transferHash: config.transferHash,
          conversion: config.conversion,
          transfer: {
            engine: config.transfer.engine,
            secret: config.transfer.secret,
            local: localTransfer,
            baseImages: transferBaseImages(dataSource),
            record: (job, agent, d) => {
              metrics.transferLinkBytes.inc({ job, agent }, d.linkBytes);
              metrics.transferImageBytes.inc({ job, agent }, d.processedBytes);
              metrics.transferZeroBytes.inc({ job, agent }, d.zeroBytes);
              metrics.transferDedupBytes.inc({ job, agent }, d.dedupBytes);
              metrics.transferSentRawBytes.inc({ job, agent }, d.sentRawBytes);
            },
          },
        }),
        logger,
        standbyTtlMs: config.standby.ttlMs,
      },
      { leaseMs: config.clone.leaseMs, stepAttempts: config.clone.stepAttempts, sweepIntervalMs: Math.max(1000, config.clone.leaseMs / 2), ...DEFAULT_BACKOFFS },
    );
    if (config.clone.concurrency > 0) await runner.start(config.clone.concurrency);
    cleanups.push(async () => runner.stop());
    const scaleDownRunner = new ScaleDownRunner(
      {
        dataSource,
        store: new JobStore(dataSource, ScaleDownJobEntity, 'scale_down_jobs', owner, config.clone.leaseMs),
        bus,
        queue,
        cloudApis,
        clouds: services.clouds,
        steps: createScaleDownSteps({ timeouts: { deleteMs: DEFAULT_STEP_TIMEOUTS.deleteMs }, sip }),
        logger,
      },
      { leaseMs: config.clone.leaseMs, stepAttempts: config.clone.stepAttempts, sweepIntervalMs: Math.max(1000, config.clone.leaseMs / 2), ...DEFAULT_BACKOFFS },
    );
    if (config.scaleDown.concurrency > 0) await scaleDownRunner.start(config.scaleDown.concurrency);
    cleanups.push(async () => scaleDownRunner.stop());

    // Also after the API and stopped before the database; only the replica holding the lock runs these.
    const scheduler = new LeaderScheduler(new LeaderLock(databaseUrl, { lockId: AdvisoryLock.SCHEDULER, name: 'scheduler' }, logger), logger, {
      setLeader: (leader) => metrics.schedulerLeader.set(leader ? 1 : 0),
      taskRun: (task, outcome) => metrics.periodicTaskRuns.inc({ task, outcome }),
    })
      .add(new CloudHealthProber(services.cloudHealth, logger, metrics, config.cloudHealth.intervalMs))
      .add(
        new CloneReaper(dataSource, services.clouds, cloudApis, services.audit, services.standbyImages, metrics, logger, {
          intervalMs: config.clone.reaperIntervalMs,
          graceMs: config.clone.reaperGraceMs,
        }),
      )
      .add(new RetentionTask(dataSource, metrics, logger, config.retention))
      .add(new StandbyRefresher(services.standbyImages, logger, config.standby.refreshIntervalMs));
    if (services.monitoringPoll) scheduler.add(new MonitoringPoller(services.monitoringPoll, logger, config.monitoring.pollIntervalMs));
    scheduler.add(new Autoscaler(services.autoscaler, logger, config.scheduler.tickMs));
    scheduler.start();
    cleanups.push(() => scheduler.stop());
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
