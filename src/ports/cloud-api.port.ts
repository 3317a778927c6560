/**
 * What the clone pipeline and the services need from an OpenStack cloud. One CloudApi per
 * registered cloud (its connection and cached token); the adapter owns timeouts, retries and
 * error naming (cloud, service, operation).
 */
import { Readable } from 'node:stream';
import { CloudConnection } from './cloud-connector.port';

export interface ServerAddress {
  network: string;
  address: string;
  /** `fixed` or `floating` (OS-EXT-IPS:type). */
  kind: string;
  version: number;
}

export interface Server {
  id: string;
  name: string;
  /** Nova status: BUILD, ACTIVE, ERROR, SHUTOFF, DELETED ... */
  status: string;
  /** OS-EXT-STS:task_state, e.g. image_uploading; null when idle. */
  taskState: string | null;
  imageId: string | null;
  flavorId: string | null;
  addresses: ServerAddress[];
  metadata: Record<string, string>;
  availabilityZone: string | null;
}

export interface CreateServerRequest {
  name: string;
  imageId: string;
  flavorId: string;
  /** Network ids to attach, or 'none' / 'auto' (Nova 2.37+). */
  networks: string[] | 'none' | 'auto';
  availabilityZone?: string | null;
  /** Tags the broker uses to find what a retried step already made (e.g. intercloud_job). */
  metadata: Record<string, string>;
}

export interface Image {
  id: string;
  name: string | null;
  /** queued, saving, active, killed, deleted, ... */
  status: string;
  size: number | null;
  diskFormat: string | null;
  containerFormat: string | null;
  checksum: string | null;
  hashAlgo: string | null;
  hashValue: string | null;
  /** The project that owns the image (public and shared images of other projects are listed too). */
  owner: string | null;
  /** Free-form properties (Glance's extra keys). */
  properties: Record<string, string>;
}

export interface CreateImageRequest {
  name: string;
  diskFormat: string;
  containerFormat: string;
  minDisk?: number;
  minRam?: number;
  /** Copied from the source image through an allow-list; plus the broker's tags. */
  properties: Record<string, string>;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
}

export interface Limits {
  maxInstances: number;
  usedInstances: number;
  maxCores: number;
  usedCores: number;
  maxRamMb: number;
  usedRamMb: number;
}

export interface Network {
  id: string;
  name: string;
  external: boolean;
}

export interface FloatingIp {
  id: string;
  address: string;
  portId: string | null;
  networkId: string;
  /** Neutron's free-text description: the broker writes its job tag here (`intercloud_job=<id>`). */
  description: string;
}

export interface Port {
  id: string;
  deviceId: string;
  networkId: string;
  fixedIps: string[];
}

export interface CloudApi {
  readonly connection: CloudConnection;

  /** The project the broker's token is scoped to. */
  projectId(): Promise<string>;

  // Nova
  listServers(filter?: { name?: string }): Promise<Server[]>;
  getServer(id: string): Promise<Server | null>;
  createServer(req: CreateServerRequest): Promise<Server>;
  deleteServer(id: string): Promise<void>;
  /** Nova createImage; returns the new image id (2.45+ body, or the Location header before). */
  createServerImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string>;
  getConsoleOutput(serverId: string, lines?: number): Promise<string>;
  listFlavors(): Promise<Flavor[]>;
  getLimits(): Promise<Limits>;
  /** Availability zones servers can be booted in. */
  listAvailabilityZones(): Promise<string[]>;

  // Glance
  listImages(filter?: { name?: string; status?: string; properties?: Record<string, string> }): Promise<Image[]>;
  getImage(id: string): Promise<Image | null>;
  createImage(req: CreateImageRequest): Promise<Image>;
  deleteImage(id: string): Promise<void>;
  /** The image's bytes as a stream with backpressure (never buffered whole). */
  downloadImage(id: string, signal?: AbortSignal): Promise<{ stream: Readable; size: number | null; md5: string | null }>;
  /** Streams `data` into a queued image; resolves when Glance accepted it (204). */
  uploadImage(id: string, data: Readable, size: number | null, signal?: AbortSignal): Promise<void>;
  /**
   * The image data URL and a current token for it, for a transfer agent that reads or writes the
   * bytes itself (the token is the session's short-lived Keystone token, never a credential).
   */
  imageDataAccess(id: string): Promise<{ url: string; token: string }>;

  // Neutron
  listNetworks(): Promise<Network[]>;
  listPorts(deviceId: string): Promise<Port[]>;
  listFloatingIps(filter?: { portId?: string; description?: string }): Promise<FloatingIp[]>;
  /** `description` carries the job's tag, so a retried or resumed step (and the reaper) can find it. */
  createFloatingIp(floatingNetworkId: string, portId: string, description?: string): Promise<FloatingIp>;
  deleteFloatingIp(id: string): Promise<void>;
}

/** Builds (and caches, per cloud) CloudApi instances from decrypted connections. */
export interface CloudApiFactory {
  forConnection(connection: CloudConnection): CloudApi;
}
