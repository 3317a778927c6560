/**
 * Nova (compute v2.1): servers, snapshots (createImage), console output, flavors and limits, at
 * one negotiated microversion per cloud.
 */
import { BadUserInputError, ConflictError, ServerBusyError, UpstreamUnavailableError } from '../../domain/errors';
import type { CreateServerRequest, Flavor, Limits, Server, ServerAddress } from '../../ports/cloud-api.port';
import { type CallSpec, nextMarker, type OpenStackHttpClient, withQuery } from './http.client';
import type { OpenStackSession } from './openstack.session';

/**
 * 2.79 (Train): at or above 2.45 (createImage answers `{"image_id"}`), 2.37 (`networks` required and
 * "none"/"auto" accepted) and 2.47 (the server embeds its flavor); supported by the sandbox (its default
 * maximum) and by Nova Zed (2.93). A cloud whose maximum is lower gets its maximum.
 */
export const PREFERRED_COMPUTE_MICROVERSION = '2.79';

interface ServerJson {
  id: string;
  name: string;
  status: string;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-AZ:availability_zone'?: string | null;
  image?: { id?: string } | string | null;
  flavor?: { id?: string; original_name?: string } | null;
  addresses?: Record<string, Array<{ addr: string; version?: number; 'OS-EXT-IPS:type'?: string }>>;
  metadata?: Record<string, string>;
}

interface FlavorJson {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
}

type Links = Array<{ rel?: string; href?: string }>;

function minorOf(version: string): number {
  return Number(/^2\.(\d+)$/.exec(version.trim())?.[1] ?? 1);
}

/** Regex metacharacters escaped: Nova's `name` filter is a regular expression. */
function exactName(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/** The id in a Location header, e.g. Glance's `http://127.0.0.1:9292//images/<id>`. */
export function lastPathSegment(location: string): string | undefined {
  return new URL(location, 'http://relative.invalid').pathname.split('/').filter(Boolean).pop();
}

function toFlavor(f: FlavorJson): Flavor {
  return { id: String(f.id), name: f.name, vcpus: f.vcpus, ramMb: f.ram, diskGb: f.disk };
}

export interface NovaDeps {
  http: OpenStackHttpClient;
  session: OpenStackSession;
  /** Looks in Glance for a snapshot of the server an ambiguous createImage may have started. */
  findSnapshot(serverId: string, name: string, metadata: Record<string, string>): Promise<string | undefined>;
}

export class NovaAdapter {
  private version?: Promise<string>;
  /** Flavor ids by name, for servers shown at 2.47+ (which name their flavor rather than give its id). */
  private flavorIds?: { byName: Map<string, string>; loadedAt: number };
  private flavorLoad?: Promise<unknown>;

  constructor(private readonly deps: NovaDeps) {}

  async listServers(filter: { name?: string } = {}): Promise<Server[]> {
    const out: ServerJson[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const query = { name: filter.name !== undefined ? exactName(filter.name) : undefined, marker };
      const res = await this.call({ method: 'GET', operation: 'GET /servers/detail', path: withQuery('/servers/detail', query), retry: 'idempotent' });
      const body = res.json<{ servers: ServerJson[]; servers_links?: Links }>();
      out.push(...body.servers);
      const next = nextMarker(body.servers_links);
      if (!next || next === marker || body.servers.length === 0) break;
      marker = next;
    }
    const servers = filter.name === undefined ? out : out.filter((s) => s.name === filter.name);
    return Promise.all(servers.map((s) => this.toServer(s)));
  }

  async getServer(id: string): Promise<Server | null> {
    const res = await this.call({ method: 'GET', operation: 'GET /servers/{id}', path: `/servers/${encodeURIComponent(id)}`, retry: 'idempotent', accept: [404] });
    if (res.status === 404) return null;
    return this.toServer(res.json<{ server: ServerJson }>().server);
  }

  async createServer(req: CreateServerRequest): Promise<Server> {
    const minor = minorOf(await this.microversion());
    const server: Record<string, unknown> = { name: req.name, imageRef: req.imageId, flavorRef: req.flavorId, metadata: req.metadata };
    if (Array.isArray(req.networks)) server.networks = req.networks.map((uuid) => ({ uuid }));
    else if (minor >= 37) server.networks = req.networks;
    else if (req.networks === 'none') {
      throw new BadUserInputError('networks', 'must name networks: this cloud predates "none" (compute 2.37)');
    } // "auto" before 2.37: omitting networks is how such a cloud picks them
    if (req.availabilityZone) server.availability_zone = req.availabilityZone;
    // A POST that creates a server: after an ambiguous failure, look for a server with this name carrying all
    // of the request's metadata (the broker's idempotency tags) before booting again. Without metadata there is
    // no safe way to tell ours from another, so such a failure is final (see RetryMode 'create').
    const reconcile =
      Object.keys(req.metadata).length > 0
        ? async (): Promise<Server | undefined> =>
            (await this.listServers({ name: req.name })).find((s) => Object.entries(req.metadata).every(([k, v]) => s.metadata[k] === v))
        : undefined;
    return this.deps.http.create(
      await this.spec({ method: 'POST', operation: 'POST /servers', path: '/servers', json: { server }, retry: 'create' }),
      (res) => {
        const id = res.json<{ server?: { id?: string } }>().server?.id;
        if (!id) throw new UpstreamUnavailableError(`${this.deps.http.where({ service: 'nova', operation: 'POST /servers' })}: the answer names no server id`);
        // Nova answers 202 with little more than the id; the rest is what we asked for, still building.
        return {
          id,
          name: req.name,
          status: 'BUILD',
          taskState: 'scheduling',
          imageId: req.imageId,
          flavorId: req.flavorId,
          addresses: [],
          metadata: { ...req.metadata },
          availabilityZone: req.availabilityZone ?? null,
        };
      },
      reconcile,
    );
  }

  async deleteServer(id: string): Promise<void> {
    // 409 here is a server locked in a task that ends on its own; 404 means already gone.
    await this.call({ method: 'DELETE', operation: 'DELETE /servers/{id}', path: `/servers/${encodeURIComponent(id)}`, retry: 'idempotent', accept: [404], conflictIsBusy: true });
  }

  async createServerImage(serverId: string, name: string, metadata: Record<string, string>): Promise<string> {
    const operation = 'POST /servers/{id}/action (createImage)';
    // 409 means Nova made nothing: the server is busy with another task (another snapshot takes minutes) or in a
    // state that cannot be snapshotted. It is not retried here, where a few quick retries only spend the step's
    // budget: it becomes a ServerBusyError and the caller waits on the server's task state (snapshot.step.ts).
    // After an ambiguous failure, Glance is searched for a snapshot of this server with this name (Nova tags
    // snapshots with instance_uuid) before asking again.
    const spec = await this.spec({
      method: 'POST',
      operation,
      path: `/servers/${encodeURIComponent(serverId)}/action`,
      json: { createImage: { name, metadata } },
      retry: 'create',
    });
    try {
      return await this.deps.http.create(
        spec,
        (res) => {
          // 2.45+: {"image_id"}; before: only Location (real Glance's reads http://host:9292//images/<id>).
          const fromBody = res.text ? res.json<{ image_id?: string }>().image_id : undefined;
          const location = res.header('location');
          const id = fromBody ?? (location ? lastPathSegment(location) : undefined);
          if (!id) throw new UpstreamUnavailableError(`${this.deps.http.where({ service: 'nova', operation })}: neither body nor Location names the image`);
          return id;
        },
        () => this.deps.findSnapshot(serverId, name, metadata),
      );
    } catch (err) {
      if (err instanceof ConflictError) throw Object.assign(new ServerBusyError(err.message, err.details), { cause: err });
      throw err;
    }
  }

  async getConsoleOutput(serverId: string, lines?: number): Promise<string> {
    const res = await this.call({
      method: 'POST',
      operation: 'POST /servers/{id}/action (os-getConsoleOutput)',
      path: `/servers/${encodeURIComponent(serverId)}/action`,
      json: { 'os-getConsoleOutput': lines === undefined ? {} : { length: lines } },
      retry: 'idempotent', // a read, although it is a POST
    });
    return res.json<{ output?: string }>().output ?? '';
  }

  async listFlavors(): Promise<Flavor[]> {
    const out: FlavorJson[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await this.call({ method: 'GET', operation: 'GET /flavors/detail', path: withQuery('/flavors/detail', { marker }), retry: 'idempotent' });
      const body = res.json<{ flavors: FlavorJson[]; flavors_links?: Links }>();
      out.push(...body.flavors);
      const next = nextMarker(body.flavors_links);
      if (!next || next === marker || body.flavors.length === 0) break;
      marker = next;
    }
    const flavors = out.map(toFlavor);
    this.flavorIds = { byName: new Map(flavors.map((f) => [f.name, f.id])), loadedAt: Date.now() };
    return flavors;
  }

  /** Zones the project may boot in (Nova lists only available ones to non-admins; unavailable ones are dropped here too). */
  async listAvailabilityZones(): Promise<string[]> {
    const res = await this.call({ method: 'GET', operation: 'GET /os-availability-zone', path: '/os-availability-zone', retry: 'idempotent' });
    const zones = res.json<{ availabilityZoneInfo?: Array<{ zoneName?: string; zoneState?: { available?: boolean } }> }>().availabilityZoneInfo ?? [];
    return zones.filter((z) => typeof z.zoneName === 'string' && z.zoneState?.available !== false).map((z) => z.zoneName as string);
  }

  async getLimits(): Promise<Limits> {
    const res = await this.call({ method: 'GET', operation: 'GET /limits', path: '/limits', retry: 'idempotent' });
    const a = res.json<{ limits: { absolute: Record<string, number> } }>().limits.absolute;
    return {
      maxInstances: a.maxTotalInstances ?? -1,
      usedInstances: a.totalInstancesUsed ?? 0,
      maxCores: a.maxTotalCores ?? -1,
      usedCores: a.totalCoresUsed ?? 0,
      maxRamMb: a.maxTotalRAMSize ?? -1,
      usedRamMb: a.totalRAMUsed ?? 0,
    };
  }

  /** The microversion this cloud is spoken to at: the preferred one, or the cloud's maximum if lower. */
  microversion(): Promise<string> {
    this.version ??= this.negotiate().catch((err: unknown) => {
      this.version = undefined; // ask again next time
      throw err;
    });
    return this.version;
  }

  private async negotiate(): Promise<string> {
    const base = await this.base();
    const res = await this.deps.http.request({
      service: 'nova',
      method: 'GET',
      operation: 'GET / (version discovery)',
      url: `${base}/`,
      retry: 'idempotent',
      auth: this.deps.session,
    });
    const max = res.json<{ version?: { version?: string } }>().version?.version;
    if (!max) return '2.1'; // a cloud without microversions
    return minorOf(max) < minorOf(PREFERRED_COMPUTE_MICROVERSION) ? max : PREFERRED_COMPUTE_MICROVERSION;
  }

  /** The v2.1 root: catalogs list it with or without the version, sometimes with the project id after it. */
  private async base(): Promise<string> {
    const url = await this.deps.session.endpoint('compute');
    const match = /^(.*\/v2\.1)(\/[^/]+)?$/.exec(url);
    return match ? match[1]! : `${url}/v2.1`;
  }

  private async spec(op: Omit<CallSpec, 'service' | 'url' | 'auth' | 'headers'> & { path: string }): Promise<CallSpec> {
    const version = await this.microversion();
    const { path, ...rest } = op;
    return {
      ...rest,
      service: 'nova',
      url: `${await this.base()}${path}`,
      auth: this.deps.session,
      headers: { 'openstack-api-version': `compute ${version}`, 'x-openstack-nova-api-version': version },
    };
  }

  private async call(op: Omit<CallSpec, 'service' | 'url' | 'auth' | 'headers'> & { path: string }) {
    return this.deps.http.request(await this.spec(op));
  }

  private async toServer(s: ServerJson): Promise<Server> {
    const addresses: ServerAddress[] = [];
    for (const [network, entries] of Object.entries(s.addresses ?? {})) {
      for (const e of entries) addresses.push({ network, address: e.addr, kind: e['OS-EXT-IPS:type'] ?? 'fixed', version: e.version ?? 4 });
    }
    const image = typeof s.image === 'object' && s.image ? (s.image.id ?? null) : null; // "" when booted from a volume
    return {
      id: s.id,
      name: s.name,
      status: s.status,
      taskState: s['OS-EXT-STS:task_state'] ?? null,
      imageId: image,
      flavorId: s.flavor?.id ?? (s.flavor?.original_name ? await this.flavorIdByName(s.flavor.original_name) : null),
      addresses,
      metadata: { ...s.metadata },
      availabilityZone: s['OS-EXT-AZ:availability_zone'] || null,
    };
  }

  /** Flavor names are unique in Nova; the list is reloaded when a name is unknown (at most once a minute). */
  private async flavorIdByName(name: string): Promise<string | null> {
    const known = this.flavorIds?.byName.get(name);
    if (known) return known;
    if (!this.flavorIds || Date.now() - this.flavorIds.loadedAt > 60_000) {
      this.flavorLoad ??= this.listFlavors().finally(() => {
        this.flavorLoad = undefined;
      });
      await this.flavorLoad;
    }
    return this.flavorIds?.byName.get(name) ?? null;
  }
}
