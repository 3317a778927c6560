/**
 * One running sandbox cloud: builds its context, listens on its port (HTTP, or HTTPS with the
 * `tls` option), creates its networks and seed images, and stops cleanly (connections closed,
 * background work awaited, data folder removed unless kept).
 */
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { BackgroundTasks } from '../behaviour/background-tasks';
import { CallCounter } from '../behaviour/call-counter';
import { FaultInjector } from '../behaviour/fault-injector';
import { LinkThrottle } from '../behaviour/link-throttle';
import type { CloudConfig } from '../config/cloud-config';
import { LocalControl } from '../control/control.local';
import type { CloudInfo, SandboxControl } from '../control/control.types';
import { ServerDiskStore } from '../disk/server-disk.store';
import { ImageFileStore } from '../glance/image-file.store';
import { seedImage } from '../glance/image.catalog';
import { IdentityDirectory } from '../keystone/identity.directory';
import { TokenStore } from '../keystone/token.store';
import { PRIVATE_NETWORK, PUBLIC_NETWORK, createDefaultNetworks, createPools } from '../neutron/network.setup';
import { PATHS, buildCloudApp } from './cloud.app';
import type { CloudContext, CloudUrls } from './cloud.context';
import { CloudEvents } from './cloud.events';
import { CloudState } from './cloud.state';

export interface StartCloudOptions {
  log: Logger;
  /** Keep `<dataDir>/<cloud>` after stop (default: removed, images can be GiBs). */
  keepData?: boolean;
}

function urlsFor(scheme: 'http' | 'https', host: string, port: number): CloudUrls {
  const base = `${scheme}://${host}:${port}`;
  return {
    base,
    identity: `${base}${PATHS.identity}/v3`,
    compute: `${base}${PATHS.compute}/v2.1`,
    image: `${base}${PATHS.image}`,
    network: `${base}${PATHS.network}`,
    control: `${base}${PATHS.control}`,
  };
}

export class SandboxCloud {
  readonly control: SandboxControl;
  readonly events: CloudEvents;
  private readonly context: CloudContext;
  private readonly server: http.Server | https.Server;
  private readonly scheme: 'http' | 'https';
  private stopped?: Promise<void>;

  private constructor(
    readonly config: CloudConfig,
    private readonly options: StartCloudOptions,
  ) {
    const state = new CloudState();
    const settings = structuredClone(config.settings);
    const log = options.log.child({ cloud: config.name });
    this.events = new CloudEvents();
    this.scheme = config.tls ? 'https' : 'http';
    this.context = {
      config,
      settings,
      state,
      identity: new IdentityDirectory(config),
      tokens: new TokenStore(settings),
      faults: new FaultInjector(),
      calls: new CallCounter(),
      tasks: new BackgroundTasks(log),
      throttles: {
        upload: new LinkThrottle(() => settings.bandwidth.uploadBytesPerSecond),
        download: new LinkThrottle(() => settings.bandwidth.downloadBytesPerSecond),
      },
      pools: createPools(settings.addressPools, state),
      imageFiles: new ImageFileStore(config.dataDir),
      disks: new ServerDiskStore(config.dataDir),
      events: this.events,
      log,
      urls: urlsFor(this.scheme, config.host, config.port),
    };
    this.control = new LocalControl(this.context, () => this.info());
    const app = buildCloudApp(this.context, this.control);
    this.server = config.tls
      ? https.createServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }, app)
      : http.createServer(app);
    // Python clients reuse idle connections; a short server keep-alive races them into ECONNRESET.
    this.server.keepAliveTimeout = 75_000;
    this.server.headersTimeout = 76_000;
    // Throttled multi-GiB uploads legitimately take longer than Node's default 5 minutes.
    this.server.requestTimeout = 0;
  }

  static async start(config: CloudConfig, options: StartCloudOptions): Promise<SandboxCloud> {
    const cloud = new SandboxCloud(config, options);
    await cloud.init();
    return cloud;
  }

  private async init(): Promise<void> {
    const ctx = this.context;
    await fs.rm(this.config.dataDir, { recursive: true, force: true });
    await Promise.all([ctx.imageFiles.init(), ctx.disks.init()]);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    ctx.urls = urlsFor(this.scheme, this.config.host, (this.server.address() as AddressInfo).port);
    const owner = ctx.identity.projects[0];
    if (!owner) throw new Error(`cloud ${this.config.name} has no project`);
    try {
      createDefaultNetworks(ctx, owner.id);
      for (const image of this.config.images) await seedImage(ctx, owner.id, image);
    } catch (err) {
      await this.stop();
      throw err;
    }
    ctx.log.info({ authUrl: ctx.urls.identity }, 'sandbox cloud started');
  }

  get name(): string {
    return this.config.name;
  }
  get region(): string {
    return this.config.region;
  }
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? this.config.port;
  }
  get authUrl(): string {
    return this.context.urls.identity;
  }
  get controlUrl(): string {
    return this.context.urls.control;
  }
  get urls(): CloudUrls {
    return { ...this.context.urls };
  }
  get credentials(): CloudInfo['credentials'] {
    return this.info().credentials;
  }

  info(): CloudInfo {
    const ctx = this.context;
    const user = this.config.users[0]!;
    const cred = this.config.applicationCredentials[0]!;
    const project = ctx.identity.findProject({ name: user.defaultProject ?? user.projects[0]?.name ?? '' }) ?? ctx.identity.projects[0]!;
    const network = (name: string): { id: string; name: string } => {
      const found = [...ctx.state.networks.values()].find((n) => n.name === name);
      return { id: found?.id ?? '', name };
    };
    return {
      name: this.config.name,
      region: this.config.region,
      authUrl: ctx.urls.identity,
      controlUrl: ctx.urls.control,
      endpoints: { identity: ctx.urls.identity, compute: ctx.urls.compute, image: ctx.urls.image, network: ctx.urls.network },
      credentials: {
        password: { username: user.name, password: user.password, projectName: project.name, userDomainName: user.domain, projectDomainName: project.domain.name },
        applicationCredential: { applicationCredentialId: cred.id, applicationCredentialSecret: cred.secret, applicationCredentialName: cred.name },
      },
      networks: { private: network(PRIVATE_NETWORK), public: network(PUBLIC_NETWORK) },
      maxComputeMicroversion: this.config.maxComputeMicroversion,
      settings: structuredClone(ctx.settings),
    };
  }

  /** OS_* variables for the `openstack` CLI (password auth by default). */
  cliEnv(auth: 'password' | 'application_credential' = 'password'): Record<string, string> {
    const { password, applicationCredential } = this.credentials;
    const common = { OS_AUTH_URL: this.authUrl, OS_REGION_NAME: this.region, OS_IDENTITY_API_VERSION: '3', OS_INTERFACE: 'public' };
    if (auth === 'application_credential') {
      return {
        ...common,
        OS_AUTH_TYPE: 'v3applicationcredential',
        OS_APPLICATION_CREDENTIAL_ID: applicationCredential.applicationCredentialId,
        OS_APPLICATION_CREDENTIAL_SECRET: applicationCredential.applicationCredentialSecret,
      };
    }
    return {
      ...common,
      OS_AUTH_TYPE: 'password',
      OS_USERNAME: password.username,
      OS_PASSWORD: password.password,
      OS_PROJECT_NAME: password.projectName,
      OS_USER_DOMAIN_NAME: password.userDomainName,
      OS_PROJECT_DOMAIN_NAME: password.projectDomainName,
    };
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.context.faults.clear();
    await this.context.tasks.stop();
    this.server.closeAllConnections();
    await closed;
    await this.context.imageFiles.close();
    if (!this.options.keepData) await fs.rm(this.config.dataDir, { recursive: true, force: true });
    this.context.log.info('sandbox cloud stopped');
  }
}
