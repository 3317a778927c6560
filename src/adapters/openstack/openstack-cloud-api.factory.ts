/**
 * Builds OpenStackCloudApi instances, one per cloud id and connection: the same connection gets
 * the same instance (and so its cached token); changed credentials or endpoints get a new one.
 */
import { createHash } from 'node:crypto';
import { STRICT_ENDPOINT_POLICY } from '../../domain/endpoint-policy';
import type { CloudApiFactory } from '../../ports/cloud-api.port';
import type { CloudConnection } from '../../ports/cloud-connector.port';
import { CloudTransport, type CloudTransportOptions } from './cloud-transport';
import { DEFAULT_HTTP_POLICY, type HttpPolicy } from './http.client';
import { OpenStackCloudApi } from './openstack-cloud-api';

export interface OpenStackCloudApiFactoryOptions {
  policy?: Partial<HttpPolicy>;
  /** Renew a token when less than this is left (default 5 minutes). */
  renewBeforeMs?: number;
  /** Shared transport (connection pool and endpoint policy), closed by its owner. */
  transport?: CloudTransport;
  /** Without `transport`: the policy (and CA) of a transport this factory owns and closes. Default: strict (https only, no loopback, link-local, ...). */
  endpoints?: CloudTransportOptions;
}

/** Canonical JSON (sorted keys) of the connection, hashed: secrets are compared, never kept as map keys. */
export function connectionHash(connection: CloudConnection): string {
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)]))
      : value;
  return createHash('sha256').update(JSON.stringify(canonical(connection))).digest('hex');
}

export class OpenStackCloudApiFactory implements CloudApiFactory {
  private readonly instances = new Map<string, { hash: string; api: OpenStackCloudApi }>();
  private readonly transport: CloudTransport;
  private readonly ownsTransport: boolean;
  private readonly policy: HttpPolicy;
  private readonly renewBeforeMs: number;

  constructor(options: OpenStackCloudApiFactoryOptions = {}) {
    this.transport = options.transport ?? new CloudTransport(options.endpoints ?? { policy: STRICT_ENDPOINT_POLICY });
    this.ownsTransport = options.transport === undefined;
    this.policy = { ...DEFAULT_HTTP_POLICY, ...options.policy };
    this.renewBeforeMs = options.renewBeforeMs ?? 5 * 60_000;
  }

  forConnection(connection: CloudConnection): OpenStackCloudApi {
    const hash = connectionHash(connection);
    // A registered cloud has one live instance: new credentials replace the old one (and its token).
    const key = connection.cloudId ?? `unregistered:${hash}`;
    const cached = this.instances.get(key);
    if (cached?.hash === hash) return cached.api;
    const api = new OpenStackCloudApi(connection, { policy: this.policy, transport: this.transport, renewBeforeMs: this.renewBeforeMs });
    this.instances.set(key, { hash, api });
    return api;
  }

  /** Forgets every instance and closes the transport if this factory made it. */
  async close(): Promise<void> {
    this.instances.clear();
    if (this.ownsTransport) await this.transport.close();
  }
}
