/** Neutron v2.0: networks, a server's ports, and floating IPs. */
import { UpstreamUnavailableError } from '../../domain/errors';
import type { FloatingIp, Network, Port } from '../../ports/cloud-api.port';
import { type CallSpec, nextMarker, type OpenStackHttpClient, withQuery } from './http.client';
import type { OpenStackSession } from './openstack.session';

interface NetworkJson {
  id: string;
  name: string;
  project_id?: string;
  tenant_id?: string;
  shared?: boolean;
  'router:external'?: boolean;
}

interface PortJson {
  id: string;
  device_id: string;
  network_id: string;
  fixed_ips?: Array<{ ip_address: string }>;
}

interface FloatingIpJson {
  id: string;
  floating_ip_address: string;
  port_id: string | null;
  floating_network_id: string;
  description?: string | null;
}

function toFloatingIp(f: FloatingIpJson): FloatingIp {
  return { id: f.id, address: f.floating_ip_address, portId: f.port_id ?? null, networkId: f.floating_network_id, description: f.description ?? '' };
}

export class NeutronAdapter {
  constructor(
    private readonly http: OpenStackHttpClient,
    private readonly session: OpenStackSession,
  ) {}

  /** The networks the project can use: its own, shared and external ones (an admin token would list every project's). */
  async listNetworks(): Promise<Network[]> {
    const projectId = await this.session.projectId();
    const networks = await this.list<NetworkJson>('networks', {});
    return networks
      .filter((n) => (n.project_id ?? n.tenant_id) === projectId || n.shared || n['router:external'])
      .map((n) => ({ id: n.id, name: n.name, external: n['router:external'] === true }));
  }

  async listPorts(deviceId: string): Promise<Port[]> {
    const ports = await this.list<PortJson>('ports', { device_id: deviceId });
    return ports
      .filter((p) => p.device_id === deviceId)
      .map((p) => ({ id: p.id, deviceId: p.device_id, networkId: p.network_id, fixedIps: (p.fixed_ips ?? []).map((ip) => ip.ip_address) }));
  }

  async listFloatingIps(filter: { portId?: string; description?: string } = {}): Promise<FloatingIp[]> {
    const projectId = await this.session.projectId();
    const fips = await this.list<FloatingIpJson>('floatingips', { project_id: projectId, port_id: filter.portId, description: filter.description });
    return fips
      .filter((f) => (filter.portId === undefined || f.port_id === filter.portId) && (filter.description === undefined || f.description === filter.description))
      .map(toFloatingIp);
  }

  async createFloatingIp(floatingNetworkId: string, portId: string, description?: string): Promise<FloatingIp> {
    const operation = 'POST /v2.0/floatingips';
    // A POST that allocates an address: after an ambiguous failure, the port's floating IP on that network
    // (a port's fixed IP holds at most one) is what the attempt made, if anything; only when there is none
    // is the request sent again.
    return this.http.create(
      await this.spec({ method: 'POST', operation, path: '/v2.0/floatingips', json: { floatingip: { floating_network_id: floatingNetworkId, port_id: portId, ...(description ? { description } : {}) } }, retry: 'create' }),
      (res) => {
        const fip = res.json<{ floatingip?: FloatingIpJson }>().floatingip;
        if (!fip) throw new UpstreamUnavailableError(`${this.http.where({ service: 'neutron', operation })}: the answer has no floatingip`);
        return toFloatingIp(fip);
      },
      async () => (await this.listFloatingIps({ portId })).find((f) => f.networkId === floatingNetworkId),
    );
  }

  async deleteFloatingIp(id: string): Promise<void> {
    await this.call({ method: 'DELETE', operation: 'DELETE /v2.0/floatingips/{id}', path: `/v2.0/floatingips/${encodeURIComponent(id)}`, retry: 'idempotent', accept: [404] });
  }

  private async list<T extends { id: string }>(collection: string, filters: Record<string, string | undefined>): Promise<T[]> {
    const out: T[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await this.call({ method: 'GET', operation: `GET /v2.0/${collection}`, path: withQuery(`/v2.0/${collection}`, { ...filters, marker }), retry: 'idempotent' });
      const body = res.json<Record<string, unknown>>();
      const items = (body[collection] ?? []) as T[];
      out.push(...items);
      const next = nextMarker(body[`${collection}_links`] as Array<{ rel?: string; href?: string }> | undefined);
      if (!next || next === marker || items.length === 0) break;
      marker = next;
    }
    return out;
  }

  private async spec(op: Omit<CallSpec, 'service' | 'url' | 'auth'> & { path: string }): Promise<CallSpec> {
    const { path, ...rest } = op;
    // Catalogs list Neutron without a version (http://host:9696); tolerate one that includes it.
    const root = (await this.session.endpoint('network')).replace(/\/v2\.0$/, '');
    return { ...rest, service: 'neutron', url: `${root}${path}`, auth: this.session };
  }

  private async call(op: Omit<CallSpec, 'service' | 'url' | 'auth'> & { path: string }) {
    return this.http.request(await this.spec(op));
  }
}
