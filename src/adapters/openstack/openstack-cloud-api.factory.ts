/**
 * Builds OpenStackCloudApi instances, one per cloud id and connection: the same connection gets
 * the same instance (and so its cached token); changed credentials or endpoints get a new one.
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { CloudApiFactory } from '../../ports/cloud-api.port';
import type { CloudConnection } from '../../ports/cloud-connector.port';
import { createOpenStackAgent, DEFAULT_HTTP_POLICY, type HttpPolicy } from './http.client';
import { OpenStackCloudApi } from './openstack-cloud-api';

export interface OpenStackCloudApiFactoryOptions {
  policy?: Partial<HttpPolicy>;
  /** Renew a token when less than this is left (default 5 minutes). */
  renewBeforeMs?: number;
  /** Connection pool (default: a keep-alive Agent owned and closed by this factory). */
  dispatcher?: Dispatcher;
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
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly policy: HttpPolicy;
  private readonly renewBeforeMs: number;

  constructor(options: OpenStackCloudApiFactoryOptions = {}) {
    this.dispatcher = options.dispatcher ?? createOpenStackAgent();
    this.ownsDispatcher = options.dispatcher === undefined;
    this.policy = { ...DEFAULT_HTTP_POLICY, ...options.policy };
    this.renewBeforeMs = options.renewBeforeMs ?? 5 * 60_000;
  }

  forConnection(connection: CloudConnection): OpenStackCloudApi {
    const hash = connectionHash(connection);
    // A registered cloud has one live instance: new credentials replace the old one (and its token).
    const key = connection.cloudId ?? `unregistered:${hash}`;
    const cached = this.instances.get(key);
    if (cached?.hash === hash) return cached.api;
    const api = new OpenStackCloudApi(connection, { policy: this.policy, dispatcher: this.dispatcher, renewBeforeMs: this.renewBeforeMs });
    this.instances.set(key, { hash, api });
    return api;
  }

  /** Forgets every instance and closes the connection pool if this factory made it. */
  async close(): Promise<void> {
    this.instances.clear();
    if (this.ownsDispatcher) await this.dispatcher.close();
  }
}
