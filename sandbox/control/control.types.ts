/**
 * The control surface of one sandbox cloud, the same in-process (`cloud.control`) and across
 * processes (`connectSandboxControl(controlUrl)` over the `/_sandbox` HTTP API).
 */
import type { FaultInfo, FaultSpec } from '../behaviour/fault-injector';
import type { OperationName } from '../behaviour/operation-names';
import type { CloudSettings } from '../config/cloud-config';
import type { AddressPools, Bandwidth, CatalogOverridesPatch, Latency, Quotas, SeedImageOptions, SettingsPatch } from '../config/cloud-options.schema';

/** Credentials in the shape of the broker's RegisterCloudInput.credentials. */
export interface PasswordCredentials {
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
}

export interface ApplicationCredentials {
  applicationCredentialId: string;
  applicationCredentialSecret: string;
  applicationCredentialName: string;
}

export interface CloudInfo {
  name: string;
  region: string;
  /** Keystone v3 URL to configure clients with (…/identity/v3). */
  authUrl: string;
  controlUrl: string;
  endpoints: { identity: string; compute: string; image: string; network: string };
  credentials: { password: PasswordCredentials; applicationCredential: ApplicationCredentials };
  /** Names and ids of the default networks, for boot and floating IP requests. */
  networks: { private: { id: string; name: string }; public: { id: string; name: string } };
  maxComputeMicroversion: string;
  settings: CloudSettings;
}

export interface SandboxImage {
  id: string;
  name: string | null;
  status: string;
  owner: string;
  visibility: string;
  size: number | null;
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  diskFormat: string | null;
  containerFormat: string | null;
  properties: Record<string, string>;
  tags: string[];
  /** Where the bytes are on disk (null until uploaded). */
  filePath: string | null;
}

export interface SandboxServer {
  id: string;
  name: string;
  status: string;
  taskState: string | null;
  projectId: string;
  imageId: string;
  flavorId: string;
  metadata: Record<string, string>;
  fixedAddresses: string[];
  floatingAddresses: string[];
  deleting: boolean;
}

export interface SeedImageRequest extends SeedImageOptions {
  /** Owner project name (default: the first project, "admin"). */
  project?: string;
}

export interface SandboxControl {
  info(): Promise<CloudInfo>;
  settings(): Promise<CloudSettings>;
  updateSettings(patch: SettingsPatch): Promise<CloudSettings>;
  setLatency(latency: Partial<Latency>): Promise<CloudSettings>;
  setBandwidth(bandwidth: Partial<Bandwidth>): Promise<CloudSettings>;
  setQuotas(quotas: Partial<Quotas>): Promise<CloudSettings>;
  setTokenLifetime(seconds: number): Promise<CloudSettings>;
  setAddressPools(pools: Partial<AddressPools>): Promise<CloudSettings>;
  /** Catalog URLs to advertise instead of the cloud's own, per service type (null: back to its own). */
  setCatalogOverrides(overrides: CatalogOverridesPatch): Promise<CloudSettings>;
  injectFault(spec: FaultSpec): Promise<FaultInfo>;
  listFaults(): Promise<FaultInfo[]>;
  /** Disarms every fault (or the one with this id); clearing all also releases hanging calls. */
  clearFaults(id?: string): Promise<void>;
  calls(): Promise<Partial<Record<OperationName, number>>>;
  resetCalls(): Promise<void>;
  seedImage(request: SeedImageRequest): Promise<SandboxImage>;
  listImages(): Promise<SandboxImage[]>;
  listServers(): Promise<SandboxServer[]>;
  /** Invalidates every issued token: the next call of each client gets a 401. */
  revokeTokens(): Promise<number>;
}
