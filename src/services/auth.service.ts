/** Tenants, API tokens and resolving a bearer token to a Principal. */
import { DataSource, In, IsNull } from 'typeorm';
import { z } from 'zod';
import { AdvisoryLock } from '../ports/advisory-locks.port';
import { RevocationListener, TokenRevocations } from '../ports/token-revocations.port';
import { ApiTokenEntity, TenantEntity } from '../domain/entities';
import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { mayGrantRole, Permission, Role } from '../domain/roles';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { hashTokenSecret, newTokenSecret } from './token-secret';
import { TokenVerificationCache, VerifiedToken } from './token-verification.cache';
import { nameRule, parseInput, uuidRule } from './validation';

/** `lastUsedAt` is written at most this often per token, across every replica. */
const LAST_USED_RESOLUTION_MS = 60_000;

const createTenantInput = z.object({ name: nameRule });
const createTokenInput = z.object({ tenantId: uuidRule, role: z.nativeEnum(Role), name: nameRule });

export interface BootstrapResult {
  tenant: TenantEntity;
  /** Set only when a new token was generated: print it once. */
  generatedSecret: string | null;
}

export class AuthService {
  private readonly cache: TokenVerificationCache;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly revocations: TokenRevocations,
    /** How long a verified token is trusted without reading it again (0: read on every request). */
    tokenCacheMs: number,
  ) {
    this.cache = new TokenVerificationCache(revocations, tokenCacheMs);
  }

  /** Resolves `Bearer <secret>`; any failure is the same UNAUTHENTICATED error. */
  async authenticate(authorization: string | undefined | null): Promise<Principal> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new UnauthenticatedError();
    const secretHash = hashTokenSecret(match[1]);
    const token = await this.cache.verify(secretHash, () => this.loadToken(secretHash));
    if (!token) throw new UnauthenticatedError('the bearer token is not valid');
    await this.recordUse(token);
    // A copy: the cached principal is shared by every request of the token.
    return { ...token.principal };
  }

  /** Calls `listener` with the ids of tokens revoked on any replica (null: some may have been missed). */
  onTokensRevoked(listener: RevocationListener): () => void {
    return this.revocations.subscribe(listener);
  }

  private async loadToken(secretHash: string): Promise<VerifiedToken | null> {
    const token = await this.dataSource.getRepository(ApiTokenEntity).findOne({
      where: { secretHash, revokedAt: IsNull() },
      relations: { tenant: true },
    });
    if (!token || !token.tenant) return null;
    return {
      principal: { tokenId: token.id, tokenName: token.name, tenantId: token.tenantId, tenantName: token.tenant.name, role: token.role },
      lastUsedAt: token.lastUsedAt?.getTime() ?? null,
    };
  }

  /**
   * Records the use at most once a minute per token: this process remembers its last write (set
   * before writing, so a burst of requests writes once), and the condition in the UPDATE keeps
   * other replicas, which read the row anew, from writing again within the minute.
   */
  private async recordUse(token: VerifiedToken): Promise<void> {
    const now = Date.now();
    if (token.lastUsedAt !== null && now - token.lastUsedAt <= LAST_USED_RESOLUTION_MS) return;
    token.lastUsedAt = now;
    await this.dataSource
      .createQueryBuilder()
      .update(ApiTokenEntity)
      .set({ lastUsedAt: () => 'now()' })
      .where('id = :id', { id: token.principal.tokenId })
      .andWhere('(last_used_at IS NULL OR last_used_at < now() - make_interval(secs => :seconds))', { seconds: LAST_USED_RESOLUTION_MS / 1000 })
      .execute();
  }

  /**
   * Of these token ids, the ones that still authenticate (not revoked, not deleted with their
   * tenant): one query for every token a replica's WebSocket connections hold.
   */
  async activeTokenIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.dataSource.getRepository(ApiTokenEntity).find({ select: { id: true }, where: { id: In([...ids]), revokedAt: IsNull() } });
    return new Set(rows.map((r) => r.id));
  }

  async createTenant(principal: Principal, input: unknown): Promise<TenantEntity> {
    requirePermission(principal, Permission.MANAGE_TENANTS);
    const { name } = parseInput(createTenantInput, input, 'input');
    return this.dataSource.transaction(async (tx) => {
      if (await tx.findOne(TenantEntity, { where: { name } })) {
        throw new ConflictError(`a tenant named "${name}" already exists`, { field: 'input.name' });
      }
      const tenant = await tx.save(tx.create(TenantEntity, { name }));
      await this.audit.record(tx, principal, principal.tenantId, 'tenant.create', 'Tenant', tenant.id, { name });
      return tenant;
    });
  }

  async listTenants(principal: Principal): Promise<TenantEntity[]> {
    if (principal.role !== Role.ADMIN) {
      return this.dataSource.getRepository(TenantEntity).find({ where: { id: principal.tenantId } });
    }
    return this.dataSource.getRepository(TenantEntity).find({ order: { createdAt: 'ASC' } });
  }

  async tenant(principal: Principal, id: string): Promise<TenantEntity> {
    if (principal.role !== Role.ADMIN && id !== principal.tenantId) throw new NotFoundError('Tenant', id);
    const tenant = await this.dataSource.getRepository(TenantEntity).findOne({ where: { id } });
    if (!tenant) throw new NotFoundError('Tenant', id);
    return tenant;
  }

  /**
   * Admins create tokens for any tenant; operators for their own tenant and never with more
   * rights than their own. The secret is returned here and nowhere else, ever.
   */
  async createApiToken(principal: Principal, input: unknown): Promise<{ token: ApiTokenEntity; secret: string }> {
    const { tenantId, role, name } = parseInput(createTokenInput, input, 'input');
    if (principal.role === Role.ADMIN) {
      requirePermission(principal, Permission.MANAGE_TENANTS);
    } else {
      requirePermission(principal, Permission.MANAGE_OWN_TOKENS);
      if (tenantId !== principal.tenantId) throw new NotFoundError('Tenant', tenantId);
      if (!mayGrantRole(principal.role, role)) throw new ForbiddenError(`role ${principal.role} may not create ${role} tokens`);
    }
    return this.dataSource.transaction(async (tx) => {
      const tenant = await tx.findOne(TenantEntity, { where: { id: tenantId } });
      if (!tenant) throw new NotFoundError('Tenant', tenantId);
      const secret = newTokenSecret();
      const token = await tx.save(
        tx.create(ApiTokenEntity, { tenantId, role, name, secretHash: hashTokenSecret(secret), createdByTokenId: principal.tokenId }),
      );
      await this.audit.record(tx, principal, tenantId, 'apiToken.create', 'ApiToken', token.id, { name, role });
      return { token, secret };
    });
  }

  async listApiTokens(principal: Principal): Promise<ApiTokenEntity[]> {
    requirePermission(principal, Permission.READ);
    return this.dataSource.getRepository(ApiTokenEntity).find({ where: { tenantId: principal.tenantId }, order: { createdAt: 'ASC' } });
  }

  async revokeApiToken(principal: Principal, id: string): Promise<ApiTokenEntity> {
    parseInput(uuidRule, id, 'id');
    const revoked = await this.dataSource.transaction(async (tx) => {
      const token = await tx.findOne(ApiTokenEntity, { where: { id } });
      const visible = token && (principal.role === Role.ADMIN || token.tenantId === principal.tenantId);
      if (!token || !visible) throw new NotFoundError('ApiToken', id);
      if (principal.role !== Role.ADMIN) {
        requirePermission(principal, Permission.MANAGE_OWN_TOKENS);
        if (!mayGrantRole(principal.role, token.role)) throw new ForbiddenError(`role ${principal.role} may not revoke ${token.role} tokens`);
      }
      if (!token.revokedAt) {
        token.revokedAt = new Date();
        await tx.save(token);
        await this.audit.record(tx, principal, token.tenantId, 'apiToken.revoke', 'ApiToken', token.id, { name: token.name });
        await this.revocations.announce(tx, [token.id]);
      }
      return token;
    });
    // This replica hears its own announcement too, but maybe after the caller's next request.
    this.cache.forget([revoked.id]);
    return revoked;
  }

  /**
   * First start: make sure an admin token exists. With INTERCLOUD_ADMIN_TOKEN that token is
   * ensured; otherwise one is generated only if no admin token exists yet. Two brokers
   * starting together serialise on an advisory lock, so exactly one token is generated.
   */
  async bootstrapAdmin(configuredSecret: string | undefined): Promise<BootstrapResult> {
    return this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.ADMIN_BOOTSTRAP]);
      let tenant = await tx.findOne(TenantEntity, { where: { name: 'admin' } });
      if (!tenant) tenant = await tx.save(tx.create(TenantEntity, { name: 'admin' }));
      if (configuredSecret) {
        const secretHash = hashTokenSecret(configuredSecret);
        const existing = await tx.findOne(ApiTokenEntity, { where: { secretHash } });
        if (!existing) {
          const token = await tx.save(tx.create(ApiTokenEntity, { tenantId: tenant.id, role: Role.ADMIN, name: 'bootstrap (INTERCLOUD_ADMIN_TOKEN)', secretHash }));
          await this.audit.record(tx, null, tenant.id, 'apiToken.bootstrap', 'ApiToken', token.id, { source: 'environment' });
        }
        return { tenant, generatedSecret: null };
      }
      const anyAdmin = await tx.findOne(ApiTokenEntity, { where: { role: Role.ADMIN, revokedAt: IsNull() } });
      if (anyAdmin) return { tenant, generatedSecret: null };
      const secret = newTokenSecret();
      const token = await tx.save(tx.create(ApiTokenEntity, { tenantId: tenant.id, role: Role.ADMIN, name: 'bootstrap', secretHash: hashTokenSecret(secret) }));
      await this.audit.record(tx, null, tenant.id, 'apiToken.bootstrap', 'ApiToken', token.id, { source: 'generated' });
      return { tenant, generatedSecret: secret };
    });
  }
}
