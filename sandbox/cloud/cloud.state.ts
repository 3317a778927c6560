/**
 * The in-memory records of one sandbox cloud (what Nova, Glance and Neutron would keep in their
 * databases). Views turn them into API JSON; routes and lifecycles change them.
 */

export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted' | 'deactivated';
export type Visibility = 'public' | 'private' | 'shared' | 'community';

export interface ImageRecord {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  protected: boolean;
  osHidden: boolean;
  owner: string;
  diskFormat: string | null;
  containerFormat: string | null;
  minDisk: number;
  minRam: number;
  size: number | null;
  virtualSize: number | null;
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  tags: string[];
  /** Free-form properties: Glance keeps them as strings at the top level of the image JSON. */
  properties: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export type ServerStatus = 'BUILD' | 'ACTIVE' | 'SHUTOFF' | 'REBOOT' | 'ERROR';

export interface ServerRecord {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  imageId: string;
  flavorId: string;
  status: ServerStatus;
  vmState: string;
  taskState: string | null;
  powerState: number;
  metadata: Record<string, string>;
  tags: string[];
  availabilityZone: string;
  keyName: string | null;
  description: string | null;
  userData: string | null;
  createdAt: Date;
  updatedAt: Date;
  launchedAt: Date | null;
  portIds: string[];
  fault: { code: number; message: string; created: Date } | null;
  hostId: string;
  instanceName: string;
  reservationId: string;
  consoleLog: string[];
  /** Set once the delete was accepted; the record disappears after the delete latency. */
  deleting: boolean;
  /** Why the build will fail at the spawning step (e.g. no address left), as a compute host would report it. */
  buildError?: string;
}

export interface NetworkRecord {
  id: string;
  name: string;
  projectId: string;
  external: boolean;
  shared: boolean;
  subnetIds: string[];
  createdAt: Date;
}

export interface SubnetRecord {
  id: string;
  name: string;
  networkId: string;
  projectId: string;
  cidr: string;
  gatewayIp: string;
  allocationPools: Array<{ start: string; end: string }>;
  createdAt: Date;
}

export interface PortRecord {
  id: string;
  name: string;
  networkId: string;
  projectId: string;
  deviceId: string;
  deviceOwner: string;
  macAddress: string;
  fixedIps: Array<{ subnetId: string; ipAddress: string }>;
  status: 'ACTIVE' | 'DOWN' | 'BUILD';
  createdAt: Date;
  updatedAt: Date;
}

export interface RouterRecord {
  id: string;
  name: string;
  projectId: string;
  externalNetworkId: string;
  externalIp: string;
  interfaceSubnetIds: string[];
  createdAt: Date;
}

export interface FloatingIpRecord {
  id: string;
  projectId: string;
  address: string;
  floatingNetworkId: string;
  portId: string | null;
  fixedIpAddress: string | null;
  routerId: string | null;
  status: 'ACTIVE' | 'DOWN' | 'ERROR';
  description: string;
  /** Whether Nova's network info cache already shows it (it lags the association). */
  shownOnServer: boolean;
  createdAt: Date;
  updatedAt: Date;
  revision: number;
}

export class CloudState {
  readonly images = new Map<string, ImageRecord>();
  readonly servers = new Map<string, ServerRecord>();
  readonly networks = new Map<string, NetworkRecord>();
  readonly subnets = new Map<string, SubnetRecord>();
  readonly ports = new Map<string, PortRecord>();
  readonly routers = new Map<string, RouterRecord>();
  readonly floatingIps = new Map<string, FloatingIpRecord>();
  /** Every address handed out by any pool of this cloud. */
  readonly usedAddresses = new Set<string>();
  private instanceCounter = 0;
  private macCounter = 0;

  nextInstanceName(): string {
    this.instanceCounter += 1;
    return `instance-${this.instanceCounter.toString(16).padStart(8, '0')}`;
  }

  nextMacSeed(): number {
    this.macCounter += 1;
    return this.macCounter;
  }

  portsOfServer(serverId: string): PortRecord[] {
    return [...this.ports.values()].filter((p) => p.deviceId === serverId);
  }

  floatingIpsOfPort(portId: string): FloatingIpRecord[] {
    return [...this.floatingIps.values()].filter((f) => f.portId === portId);
  }
}
