/**
 * Issued tokens with their scope and expiry. Tokens are opaque random strings shaped like
 * Fernet tokens; the lifetime is read from the live settings at issue time so tests can make
 * tokens expire quickly and watch a client renew them.
 */
import { randomBytes } from 'node:crypto';
import type { CloudSettings } from '../config/cloud-config';
import type { ApplicationCredential, Project, Role, User } from './identity.directory';

export interface TokenRecord {
  id: string;
  user: User;
  project: Project | null;
  roles: Role[];
  methods: string[];
  issuedAt: Date;
  expiresAt: Date;
  auditId: string;
  applicationCredential?: ApplicationCredential;
}

export class TokenStore {
  private readonly tokens = new Map<string, TokenRecord>();

  constructor(private readonly settings: CloudSettings) {}

  issue(init: Omit<TokenRecord, 'id' | 'issuedAt' | 'expiresAt' | 'auditId'>): TokenRecord {
    const issuedAt = new Date();
    const record: TokenRecord = {
      ...init,
      id: `gAAAAAB${randomBytes(132).toString('base64url')}`,
      issuedAt,
      expiresAt: new Date(issuedAt.getTime() + this.settings.tokenLifetimeSeconds * 1000),
      auditId: randomBytes(16).toString('base64url').slice(0, 22),
    };
    this.pruneExpired();
    this.tokens.set(record.id, record);
    return record;
  }

  /** The token if it exists and has not expired. */
  validate(id: string): TokenRecord | undefined {
    const record = this.tokens.get(id);
    if (!record) return undefined;
    if (record.expiresAt.getTime() <= Date.now()) {
      this.tokens.delete(id);
      return undefined;
    }
    return record;
  }

  revoke(id: string): boolean {
    return this.tokens.delete(id);
  }

  /** Invalidates every token at once (the control API's way to force clients to re-authenticate). */
  revokeAll(): number {
    const count = this.tokens.size;
    this.tokens.clear();
    return count;
  }

  private pruneExpired(): void {
    const now = Date.now();
    for (const [id, record] of this.tokens) if (record.expiresAt.getTime() <= now) this.tokens.delete(id);
  }
}
