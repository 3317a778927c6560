/** The CloudApi of one OpenStack cloud: one session (token, catalog) shared by its Nova, Glance and Neutron adapters. */
import type { Readable } from 'node:stream';
import type {
  CloudApi,
  CreateImageRequest,
  CreateServerRequest,
  Flavor,
  FloatingIp,
  Image,
  Limits,
  Network,
  Port,
  Server,
} from '../../ports/cloud-api.port';
import type { CloudConnection } from '../../ports/cloud-connector.port';
import type { CloudTransport } from './cloud-transport';
import { GlanceAdapter, type ImageFilter } from './glance.adapter';
import { type HttpPolicy, OpenStackHttpClient } from './http.client';
import { NeutronAdapter } from './neutron.adapter';
import { NovaAdapter } from './nova.adapter';
import { OpenStackSession } from './openstack.session';

export interface OpenStackCloudApiOptions {
  policy: HttpPolicy;
  transport: CloudTransport;
  renewBeforeMs: number;
}

export class OpenStackCloudApi implements CloudApi {
  private readonly nova: NovaAdapter;
  private readonly glance: GlanceAdapter;
  private readonly neutron: NeutronAdapter;
  private readonly session: OpenStackSession;

  constructor(
    readonly connection: CloudConnection,
    options: OpenStackCloudApiOptions,
  ) {
    const session = new OpenStackSession(connection, options);
    this.session = session;
    const http = new OpenStackHttpClient(connection, options.policy, options.transport.dispatcher);
    this.glance = new GlanceAdapter(http, session);
    this.neutron = new NeutronAdapter(http, session);
    this.nova = new NovaAdapter({ http, session, findSnapshot: (serverId, name, metadata) => this.glance.findSnapshot(serverId, name, metadata) });
  }

  projectId(): Promise<string> {
    return this.session.projectId();
  }

  /** The compute microversion negotiated with this cloud (for logs and tests). */
  computeMicroversion(): Promise<string> {
    return this.nova.microversion();
  }

  listServers(filter?: { name?: string }): Promise<Server[]> {
    return this.nova.listServers(filter);
  }
  getServer(id: string): Promise<Server | null> {
    return this.nova.getServer(id);
  }
  createServer(req: CreateServerRequest): Promise<Server> {
    return this.nova.createServer(req);
  }
  deleteServer(id: string): Promise<void> {
    return this.nova.deleteServer(id);
  }
  createServerImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string> {
    return this.nova.createServerImage(serverId, name, metadata);
  }
  getConsoleOutput(serverId: string, lines?: number): Promise<string> {
    return this.nova.getConsoleOutput(serverId, lines);
  }
  listFlavors(): Promise<Flavor[]> {
    return this.nova.listFlavors();
  }
  getLimits(): Promise<Limits> {
    return this.nova.getLimits();
  }
  listAvailabilityZones(): Promise<string[]> {
    return this.nova.listAvailabilityZones();
  }

  listImages(filter?: ImageFilter): Promise<Image[]> {
    return this.glance.listImages(filter);
  }
  getImage(id: string): Promise<Image | null> {
    return this.glance.getImage(id);
  }
  createImage(req: CreateImageRequest): Promise<Image> {
    return this.glance.createImage(req);
  }
  deleteImage(id: string): Promise<void> {
    return this.glance.deleteImage(id);
  }
  downloadImage(id: string, signal?: AbortSignal): Promise<{ stream: Readable; size: number | null; md5: string | null }> {
    return this.glance.downloadImage(id, signal);
  }
  uploadImage(id: string, data: Readable, size: number | null, signal?: AbortSignal): Promise<void> {
    return this.glance.uploadImage(id, data, size, signal);
  }
  imageDataAccess(id: string): Promise<{ url: string; token: string }> {
    return this.glance.imageDataAccess(id);
  }

  listNetworks(): Promise<Network[]> {
    return this.neutron.listNetworks();
  }
  listPorts(deviceId: string): Promise<Port[]> {
    return this.neutron.listPorts(deviceId);
  }
  listFloatingIps(filter?: { portId?: string; description?: string }): Promise<FloatingIp[]> {
    return this.neutron.listFloatingIps(filter);
  }
  createFloatingIp(floatingNetworkId: string, portId: string, description?: string): Promise<FloatingIp> {
    return this.neutron.createFloatingIp(floatingNetworkId, portId, description);
  }
  deleteFloatingIp(id: string): Promise<void> {
    return this.neutron.deleteFloatingIp(id);
  }
}
