/**
 * Everything one cloud's route handlers and lifecycles share. Built once in cloud.ts; passed
 * explicitly so every module shows what it depends on.
 */
import type { Logger } from 'pino';
import type { AddressPool } from '../behaviour/address-pool';
import type { BackgroundTasks } from '../behaviour/background-tasks';
import type { CallCounter } from '../behaviour/call-counter';
import type { FaultInjector } from '../behaviour/fault-injector';
import type { LinkThrottle } from '../behaviour/link-throttle';
import type { CloudConfig, CloudSettings } from '../config/cloud-config';
import type { ServerDiskStore } from '../disk/server-disk.store';
import type { ImageFileStore } from '../glance/image-file.store';
import type { IdentityDirectory } from '../keystone/identity.directory';
import type { TokenStore } from '../keystone/token.store';
import type { CloudEvents } from './cloud.events';
import type { CloudState } from './cloud.state';

export interface CloudUrls {
  /** http://host:port */
  base: string;
  /** Keystone v3 root, the auth URL clients are configured with. */
  identity: string;
  compute: string;
  image: string;
  network: string;
  control: string;
}

export interface CloudContext {
  readonly config: CloudConfig;
  /** Live settings: read at each use, so control calls take effect immediately. */
  readonly settings: CloudSettings;
  readonly state: CloudState;
  readonly identity: IdentityDirectory;
  readonly tokens: TokenStore;
  readonly faults: FaultInjector;
  readonly calls: CallCounter;
  readonly tasks: BackgroundTasks;
  readonly throttles: { upload: LinkThrottle; download: LinkThrottle };
  readonly pools: { fixed: AddressPool; floating: AddressPool };
  readonly imageFiles: ImageFileStore;
  readonly disks: ServerDiskStore;
  readonly events: CloudEvents;
  readonly log: Logger;
  urls: CloudUrls;
}
