/**
 * One cloud's authenticated session: a cached Keystone token renewed shortly before it expires
 * (or at once when a service answers 401), and the public endpoints of the cloud's region: the
 * pinned catalog of a verified cloud (a token whose catalog differs from it is refused, not
 * obeyed), else the token's own.
 */
import { catalogDrift, describeDrift } from '../../domain/cloud-catalog';
import { BadUserInputError, UpstreamUnavailableError } from '../../domain/errors';
import type { CloudConnection } from '../../ports/cloud-connector.port';
import type { CloudTransport } from './cloud-transport';
import { describeCloud, type HttpPolicy, type TokenProvider } from './http.client';
import { issueToken, type KeystoneToken } from './keystone.client';

export type ServiceType = 'compute' | 'image' | 'network';

export interface SessionOptions {
  policy: HttpPolicy;
  transport: CloudTransport;
  /** Renew when less than this is left (capped at half the token's lifetime, for short-lived tokens). */
  renewBeforeMs: number;
}

interface CachedToken {
  token: KeystoneToken;
  renewAt: number;
}

export class OpenStackSession implements TokenProvider {
  private cached?: CachedToken;
  private pending?: Promise<CachedToken>;

  constructor(
    readonly connection: CloudConnection,
    private readonly options: SessionOptions,
  ) {}

  async token(): Promise<string> {
    return (await this.current()).token;
  }

  rejected(token: string): void {
    if (this.cached?.token.token === token) this.cached = undefined;
  }

  async projectId(): Promise<string> {
    return (await this.current()).projectId;
  }

  /** The public endpoint of a service type in the connection's region, without a trailing slash. */
  async endpoint(type: ServiceType): Promise<string> {
    const token = await this.current();
    const found = (this.connection.pinnedCatalog ?? token.catalog).find((e) => e.type === type);
    if (!found) {
      const refused = token.refused.find((r) => r.type === type);
      throw new UpstreamUnavailableError(
        `${describeCloud(this.connection)}: ${refused ? `the catalog's ${type} endpoint ${refused.why}` : `the catalog has no public ${type} endpoint in region ${this.connection.region}`}`,
        { cloudId: this.connection.cloudId, cloudName: this.connection.name, service: 'keystone', retryable: false },
      );
    }
    return found.url.replace(/\/+$/, '');
  }

  private async current(): Promise<KeystoneToken> {
    if (this.cached && Date.now() < this.cached.renewAt) return this.cached.token;
    // Concurrent callers share one authentication.
    this.pending ??= this.authenticate().finally(() => {
      this.pending = undefined;
    });
    this.cached = await this.pending;
    return this.cached.token;
  }

  private async authenticate(): Promise<CachedToken> {
    const { policy, transport, renewBeforeMs } = this.options;
    const issuedAt = Date.now();
    let token: KeystoneToken;
    try {
      token = await issueToken(this.connection, transport, policy);
    } catch (err) {
      // At registration a rejected credential is the user's input; here it is a cloud that stopped accepting
      // the stored one, which retrying will not fix.
      if (err instanceof BadUserInputError) {
        throw new UpstreamUnavailableError(err.message, {
          cloudId: this.connection.cloudId,
          cloudName: this.connection.name,
          service: 'keystone',
          operation: 'POST /auth/tokens',
          retryable: false,
        });
      }
      throw err;
    }
    const pinned = this.connection.pinnedCatalog;
    const drift = pinned ? catalogDrift(pinned, token.catalog) : [];
    if (drift.length > 0) {
      // A partner's Keystone must not be able to redirect the broker by issuing a new catalog.
      throw new UpstreamUnavailableError(`${describeCloud(this.connection)}: ${describeDrift(drift)}`, {
        cloudId: this.connection.cloudId,
        cloudName: this.connection.name,
        service: 'keystone',
        operation: 'POST /auth/tokens',
        retryable: false,
        catalogDrift: drift,
      });
    }
    // The lifetime by Keystone's own clock, counted from when we asked: a skewed clock here changes nothing.
    const lifetime = token.expiresAt.getTime() - (token.issuedAt?.getTime() ?? issuedAt);
    const margin = Math.min(renewBeforeMs, Math.max(0, lifetime) / 2);
    return { token, renewAt: issuedAt + lifetime - margin };
  }
}
