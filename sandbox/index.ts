/**
 * The OpenStack sandbox: OpenStack-API-compatible clouds (Keystone v3, Nova v2.1, Glance v2,
 * Neutron v2.0 subsets) for tests, benchmarks and demos. See sandbox/README.md.
 */
export { startSandbox, SandboxOptionsError, type Sandbox, type StartSandboxExtras } from './sandbox';
export { SandboxCloud } from './cloud/cloud';
export type { CloudUrls } from './cloud/cloud.context';
export type { CloudEventMap, CloudEvents } from './cloud/cloud.events';
export { connectSandboxControl, SandboxControlError } from './control/control.client';
export type {
  ApplicationCredentials,
  CloudInfo,
  PasswordCredentials,
  SandboxControl,
  SandboxImage,
  SandboxServer,
  SeedImageRequest,
} from './control/control.types';
export type {
  AddressPoolOptions,
  AddressPools,
  Bandwidth,
  CloudOptions,
  FlavorOptions,
  Latency,
  Quotas,
  SandboxOptions,
  SeedImageOptions,
  SettingsPatch,
  UserOptions,
  ApplicationCredentialOptions,
} from './config/cloud-options.schema';
export { DEFAULT_FLAVORS, DEFAULT_IMAGE, DEFAULT_LATENCY, DEFAULT_QUOTAS, type CloudSettings } from './config/cloud-config';
export type { FaultInfo, FaultSpec } from './behaviour/fault-injector';
export { OPERATIONS, type OperationName } from './behaviour/operation-names';
export { pseudoRandomBlocks, pseudoRandomBuffer } from './glance/image-generator';
export { serverDeltaBytes, SERVER_DELTA_BYTES } from './disk/server-disk.store';
