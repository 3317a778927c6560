/**
 * One cloud's authenticated session: a cached Keystone token renewed shortly before it expires
 * (or at once when a service answers 401), and the public endpoints of the cloud's region from
 * the token's catalog.
 */
import type { Dispatcher } from 'undici';
import { BadUserInputError, UpstreamUnavailableError } from '../../domain/errors';
import type { CloudConnection } from '../../ports/cloud-connector.port';
import { describeCloud, type HttpPolicy, type TokenProvider } from './http.client';
import { issueToken, type KeystoneToken } from './keystone.client';

export type ServiceType = 'compute' | 'image' | 'network';

export interface SessionOptions {
  policy: HttpPolicy;
  dispatcher: Dispatcher;
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
    const { catalog } = await this.current();
    const found = catalog.find((e) => e.type === type);
    if (!found) {
      throw new UpstreamUnavailableError(
        `${describeCloud(this.connection)}: the catalog has no public ${type} endpoint in region ${this.connection.region}`,
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
    const { policy, dispatcher, renewBeforeMs } = this.options;
    const issuedAt = Date.now();
    let token: KeystoneToken;
    try {
      token = await issueToken(this.connection, { ...policy, dispatcher });
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
    // The lifetime by Keystone's own clock, counted from when we asked: a skewed clock here changes nothing.
    const lifetime = token.expiresAt.getTime() - (token.issuedAt?.getTime() ?? issuedAt);
    const margin = Math.min(renewBeforeMs, Math.max(0, lifetime) / 2);
    return { token, renewAt: issuedAt + lifetime - margin };
  }
}
