/**
 * Registering, changing, verifying, listing and deregistering clouds. Credentials go in sealed
 * and never come out, and are sealed together with the Keystone URL they were given for: they
 * are only ever sent there (a new URL needs new credentials).
 */
import { DataSource, EntityManager, In, IsNull } from 'typeorm';
import { z } from 'zod';
import { CloudEntity, VmEntity } from '../domain/entities';
import { CloudHealth, CredentialKind } from '../domain/enums';
import { BadUserInputError, ConflictError, DomainError, ErrorCode, ForbiddenError, NotFoundError, UpstreamUnavailableError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { CloudConnection, CloudConnector, CloudCredentials, CloudVerification } from '../ports/cloud-connector.port';
import { CloudApiFactory } from '../ports/cloud-api.port';
import { EventBus } from '../ports/event-bus.port';
import { SecretBox } from '../ports/secret-box.port';
import { checkBootSettings } from './cloud-boot-settings';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { cancelGuestJobs, countUnfinishedJobs } from './cloud-guest-jobs';
import { labelsRule, nameRule, parseInput, uuidRule } from './validation';
import { EndpointPolicy, STRICT_ENDPOINT_POLICY, describeRefusal, ipLiteralOf, judgeAddress, judgeEndpointUrl } from '../domain/endpoint-policy';

export const DISK_FORMATS = ['raw', 'qcow2', 'vmdk', 'vdi', 'vhd', 'vhdx', 'iso', 'ploop'] as const;

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

const credentialsRule = z
  .object({
    applicationCredentialId: text(255).optional().nullable(),
    applicationCredentialSecret: z.string().min(1, 'must not be empty').max(1024).optional().nullable(),
    username: text(255).optional().nullable(),
    password: z.string().min(1, 'must not be empty').max(1024).optional().nullable(),
    projectName: text(255).optional().nullable(),
    userDomainName: text(255).optional().nullable(),
    projectDomainName: text(255).optional().nullable(),
  })
  .strict();

const authUrlRule = z
  .string()
  .trim()
  .max(512, 'must be at most 512 characters')
  .url('must be an absolute http(s) URL of the Keystone v3 endpoint')
  .refine((u) => /^https?:\/\//.test(u), 'must use http or https')
  .refine((u) => !/^https?:\/\/[^/?#]*@/.test(u), 'must not contain user info (user:password@): give credentials in input.credentials')
  .transform((u) => u.replace(/\/+$/, ''));

const defaultsRule = z
  .object({
    network: text(255).nullable().optional(),
    floatingNetwork: text(255).nullable().optional(),
    flavor: text(255).nullable().optional(),
    availabilityZone: text(255).nullable().optional(),
  })
  .strict();

/** Checked further against the endpoint policy (CloudService.agentUrl); '' or null: none. */
const transferAgentUrlRule = z.string().trim().max(512, 'must be at most 512 characters').nullable();

const common = {
  authUrl: authUrlRule,
  transferAgentUrl: transferAgentUrlRule,
  region: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, . _ -'),
  labels: labelsRule,
  bandwidthMbps: z.number().int('must be a whole number').min(1, 'must be at least 1').max(10_000_000, 'must be at most 10000000'),
  costPerHour: z.number().min(0, 'must not be negative').max(1_000_000, 'must be at most 1000000'),
  diskFormats: z.array(z.enum(DISK_FORMATS)).min(1, 'must list at least one disk format'),
  defaults: defaultsRule,
  shared: z.boolean(),
};

/** Flavors or networks (names or ids) the owner lets guests ask for. */
const guestNamesRule = z.array(text(255)).max(50, 'must list at most 50 names');

const registerRule = z.object({
  name: nameRule,
  ...common,
  credentials: credentialsRule,
  labels: common.labels.default([]),
  diskFormats: common.diskFormats.default(['qcow2', 'raw']),
  defaults: defaultsRule.default({}),
  shared: z.boolean().default(false),
  guestFlavors: guestNamesRule.default([]),
  guestNetworks: guestNamesRule.default([]),
  transferAgentUrl: transferAgentUrlRule.optional(),
});

const updateRule = z.object({
  name: nameRule.optional(),
  authUrl: common.authUrl.optional(),
  region: common.region.optional(),
  credentials: credentialsRule.optional(),
  labels: common.labels.optional(),
  bandwidthMbps: common.bandwidthMbps.optional(),
  costPerHour: common.costPerHour.optional(),
  diskFormats: common.diskFormats.optional(),
  defaults: defaultsRule.optional(),
  shared: z.boolean().optional(),
  guestFlavors: guestNamesRule.optional(),
  guestNetworks: guestNamesRule.optional(),
  transferAgentUrl: transferAgentUrlRule.optional(),
});

type CredentialsInput = z.output<typeof credentialsRule>;

/** What is sealed: the credentials and the Keystone URL they may be sent to. */
interface SealedCredentials {
  v: 2;
  authUrl: string;
  credentials: CloudCredentials;
}

/** Why updateCloud refuses a new destination without new credentials (extensions.rule). */
export const NEW_DESTINATION_RULE =
  'must be given again when authUrl or region changes: stored credentials are only ever sent to the Keystone URL they were registered with';

/** Exactly one credential form must be complete; the error names the first missing field. */
export function toCredentials(input: CredentialsInput, field: string): CloudCredentials {
  const app = ['applicationCredentialId', 'applicationCredentialSecret'] as const;
  const pwd = ['username', 'password', 'projectName', 'userDomainName', 'projectDomainName'] as const;
  const hasApp = app.some((k) => input[k] != null);
  const hasPwd = pwd.some((k) => input[k] != null);
  if (hasApp && hasPwd) {
    throw new BadUserInputError(field, 'give either an application credential or a password credential, not both');
  }
  if (!hasApp && !hasPwd) {
    throw new BadUserInputError(field, 'give an application credential (id and secret) or a password credential (username, password, projectName, userDomainName, projectDomainName)');
  }
  const keys = hasApp ? app : pwd;
  for (const k of keys) {
    if (input[k] == null) throw new BadUserInputError(`${field}.${k}`, `is required for ${hasApp ? 'an application' : 'a password'} credential`);
  }
  if (hasApp) {
    return { kind: 'APPLICATION_CREDENTIAL', applicationCredentialId: input.applicationCredentialId!, applicationCredentialSecret: input.applicationCredentialSecret! };
  }
  return {
    kind: 'PASSWORD',
    username: input.username!,
    password: input.password!,
    projectName: input.projectName!,
    userDomainName: input.userDomainName!,
    projectDomainName: input.projectDomainName!,
  };
}

export class CloudService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly secrets: SecretBox,
    private readonly connector: CloudConnector,
    private readonly audit: AuditService,
    private readonly cloudApis: CloudApiFactory,
    private readonly bus: EventBus,
    /** What a cloud's transfer agent URL must satisfy (the broker's CLOUD_ENDPOINT_* policy). */
    private readonly endpointPolicy: EndpointPolicy = STRICT_ENDPOINT_POLICY,
  ) {}

  /** The tenant's own clouds and the clouds other tenants share with the federation. */
  async list(principal: Principal): Promise<CloudEntity[]> {
    requirePermission(principal, Permission.READ);
    return this.dataSource
      .getRepository(CloudEntity)
      .createQueryBuilder('c')
      .where('c.deregistered_at IS NULL')
      .andWhere('(c.tenant_id = :tenantId OR c.shared)', { tenantId: principal.tenantId })
      .orderBy('c.created_at', 'ASC')
      .getMany();
  }

  /** A cloud the caller may see (own or shared), or NOT_FOUND. */
  async get(principal: Principal, id: string): Promise<CloudEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, 'id');
    const cloud = await this.dataSource.getRepository(CloudEntity).findOne({ where: { id, deregisteredAt: IsNull() } });
    if (!cloud || (cloud.tenantId !== principal.tenantId && !cloud.shared)) throw new NotFoundError('Cloud', id);
    return cloud;
  }

  /**
   * Of these cloud ids, the clouds the caller may see (the same rule as `get`), in one query: for
   * per-request batching of the fields that point at clouds. Ids come from stored rows.
   */
  async getMany(principal: Principal, ids: readonly string[]): Promise<Map<string, CloudEntity>> {
    requirePermission(principal, Permission.READ);
    if (ids.length === 0) return new Map();
    const clouds = await this.dataSource.getRepository(CloudEntity).find({ where: { id: In([...new Set(ids)]), deregisteredAt: IsNull() } });
    return new Map(clouds.filter((c) => c.tenantId === principal.tenantId || c.shared).map((c) => [c.id, c]));
  }

  async register(principal: Principal, rawInput: unknown): Promise<CloudEntity> {
    requirePermission(principal, Permission.MANAGE_CLOUDS);
    const input = parseInput(registerRule, rawInput, 'input');
    const credentials = toCredentials(input.credentials, 'input.credentials');
    const transferAgentUrl = this.agentUrl(input.transferAgentUrl ?? null);
    await this.assertNameFree(this.dataSource.manager, principal.tenantId, input.name, null);
    // Keystone first: a cloud that does not accept its credentials is never stored.
    const connection: CloudConnection = { cloudId: null, name: input.name, authUrl: input.authUrl, region: input.region, credentials, pinnedCatalog: null };
    const verified = await this.connector.verify(connection);
    const defaults = normaliseDefaults(input.defaults);
    await checkBootSettings(this.cloudApis.forConnection({ ...connection, pinnedCatalog: verified.catalog }), { defaults, guestFlavors: input.guestFlavors, guestNetworks: input.guestNetworks }, input.name);
    return this.dataSource.transaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, null);
      const cloud = await tx.save(
        tx.create(CloudEntity, {
          tenantId: principal.tenantId,
          name: input.name,
          authUrl: input.authUrl,
          region: input.region,
          credentialKind: credentials.kind === 'PASSWORD' ? CredentialKind.PASSWORD : CredentialKind.APPLICATION_CREDENTIAL,
          credentialsCiphertext: this.seal(input.authUrl, credentials),
          labels: input.labels,
          bandwidthMbps: input.bandwidthMbps,
          costPerHour: input.costPerHour,
          diskFormats: input.diskFormats,
          defaults,
          shared: input.shared,
          guestFlavors: input.guestFlavors,
          guestNetworks: input.guestNetworks,
          transferAgentUrl,
          catalog: verified.catalog,
          health: CloudHealth.HEALTHY,
          healthLatencyMs: verified.latencyMs,
          healthCheckedAt: new Date(),
          healthMessage: null,
        }),
      );
      await this.audit.record(tx, principal, principal.tenantId, 'cloud.register', 'Cloud', cloud.id, { name: cloud.name, authUrl: cloud.authUrl });
      return cloud;
    });
  }

  async update(principal: Principal, id: string, rawInput: unknown): Promise<CloudEntity> {
    requirePermission(principal, Permission.MANAGE_CLOUDS);
    const cloud = await this.getOwned(principal, id);
    const input = parseInput(updateRule, rawInput, 'input');
    if (input.name !== undefined) await this.assertNameFree(this.dataSource.manager, principal.tenantId, input.name, cloud.id);
    const authUrl = input.authUrl ?? cloud.authUrl;
    const region = input.region ?? cloud.region;
    const transferAgentUrl = input.transferAgentUrl !== undefined ? this.agentUrl(input.transferAgentUrl) : cloud.transferAgentUrl;
    // Checked before anything is decrypted or sent: the stored secret never leaves for a new destination.
    if ((authUrl !== cloud.authUrl || region !== cloud.region) && input.credentials === undefined) {
      throw new BadUserInputError('input.credentials', NEW_DESTINATION_RULE);
    }
    let credentials: CloudCredentials | null = null;
    let verified: CloudVerification | null = null;
    if (input.credentials !== undefined) {
      credentials = toCredentials(input.credentials, 'input.credentials');
      verified = await this.connector.verify({ cloudId: cloud.id, name: input.name ?? cloud.name, authUrl, region, credentials, pinnedCatalog: null });
    }
    const settings = {
      defaults: input.defaults !== undefined ? normaliseDefaults(input.defaults) : cloud.defaults,
      guestFlavors: input.guestFlavors ?? cloud.guestFlavors,
      guestNetworks: input.guestNetworks ?? cloud.guestNetworks,
    };
    // What is set now is checked against the cloud as it will be reached from now on.
    if (verified || input.defaults !== undefined || input.guestFlavors !== undefined || input.guestNetworks !== undefined) {
      const connection = credentials && verified ? { cloudId: cloud.id, name: cloud.name, authUrl, region, credentials, pinnedCatalog: verified.catalog } : this.connectionOf(cloud);
      await checkBootSettings(this.cloudApis.forConnection(connection), settings, cloud.name);
    }
    const stopsSharing = input.shared === false && cloud.shared;
    return this.dataSource.transaction(async (tx) => {
      if (input.name !== undefined) cloud.name = input.name;
      cloud.authUrl = authUrl;
      cloud.region = region;
      if (credentials && verified) {
        cloud.credentialKind = credentials.kind === 'PASSWORD' ? CredentialKind.PASSWORD : CredentialKind.APPLICATION_CREDENTIAL;
        cloud.credentialsCiphertext = this.seal(authUrl, credentials);
        this.pin(cloud, verified);
      }
      if (input.labels !== undefined) cloud.labels = input.labels;
      if (input.bandwidthMbps !== undefined) cloud.bandwidthMbps = input.bandwidthMbps;
      if (input.costPerHour !== undefined) cloud.costPerHour = input.costPerHour;
      if (input.diskFormats !== undefined) cloud.diskFormats = input.diskFormats;
      cloud.defaults = settings.defaults;
      cloud.guestFlavors = [...settings.guestFlavors];
      cloud.guestNetworks = [...settings.guestNetworks];
      if (input.shared !== undefined) cloud.shared = input.shared;
      cloud.transferAgentUrl = transferAgentUrl;
      const saved = await tx.save(cloud);
      // Guests' VMs in a cloud no longer shared with them are no longer theirs to manage, and
      // their clones under way (or queued) into or out of it are cancelled and undone.
      if (stopsSharing) {
        await this.retireVms(tx, cloud, 'the cloud is no longer shared', { guestsOnly: true });
        await cancelGuestJobs(tx, this.bus, this.audit, cloud, 'the cloud is no longer shared');
      }
      const changed = Object.keys(input).filter((k) => k !== 'credentials');
      await this.audit.record(tx, principal, principal.tenantId, 'cloud.update', 'Cloud', cloud.id, {
        changed,
        credentialsChanged: input.credentials !== undefined,
      });
      return saved;
    });
  }

  /**
   * Re-authenticates with the stored credentials (at the URL they were registered for), checks the
   * Keystone URL and the catalog against the endpoint policy again and pins the catalog Keystone
   * lists now: how an owner accepts a catalog that changed. Nothing changes when it fails.
   */
  async verify(principal: Principal, id: string): Promise<CloudEntity> {
    requirePermission(principal, Permission.MANAGE_CLOUDS);
    const cloud = await this.getOwned(principal, id);
    const connection = this.connectionOf(cloud);
    const verified = await this.connector.verify({ ...connection, pinnedCatalog: null });
    return this.dataSource.transaction(async (tx) => {
      const before = cloud.catalog;
      this.pin(cloud, verified);
      // Credentials sealed before they were bound to their URL are bound to the one they have just been verified at.
      cloud.credentialsCiphertext = this.seal(cloud.authUrl, connection.credentials);
      const saved = await tx.save(cloud);
      await this.audit.record(tx, principal, principal.tenantId, 'cloud.verify', 'Cloud', cloud.id, {
        catalogChanged: JSON.stringify(before) !== JSON.stringify(verified.catalog),
      });
      return saved;
    });
  }

  /**
   * The owner can always deregister: guests' clone jobs that use the cloud are cancelled and undo
   * what they made. The owner's own jobs in progress refuse it (CONFLICT): they are the owner's to
   * cancel or let finish, and deregistering under them would strand what they made. Every VM the
   * broker knew there (the owner's and guests') is retired. The credentials are wiped now, or, while
   * cancelled guests' jobs still need them to undo, as soon as the last of those ends.
   */
  async deregister(principal: Principal, id: string): Promise<boolean> {
    requirePermission(principal, Permission.MANAGE_CLOUDS);
    const owned = await this.getOwned(principal, id);
    return this.dataSource.transaction(async (tx) => {
      // Read again under a row lock: serialises with another deregister or update of the same cloud.
      const cloud = await tx.findOne(CloudEntity, { where: { id: owned.id, deregisteredAt: IsNull() }, lock: { mode: 'pessimistic_write' } });
      if (!cloud) throw new NotFoundError('Cloud', id);
      const own = await countUnfinishedJobs(tx, cloud.id, { tenantId: cloud.tenantId, guests: false });
      if (own > 0) {
        throw new ConflictError(`cloud ${cloud.name} is used by ${own} of your clone job(s) in progress; cancel them or let them end first`, { jobs: own });
      }
      const cancelled = await cancelGuestJobs(tx, this.bus, this.audit, cloud, 'the cloud was deregistered by its owner');
      const undoing = await countUnfinishedJobs(tx, cloud.id, { tenantId: cloud.tenantId, guests: true });
      cloud.deregisteredAt = new Date();
      if (undoing === 0) cloud.credentialsCiphertext = Buffer.alloc(0);
      cloud.shared = false;
      await tx.save(cloud);
      await this.retireVms(tx, cloud, 'the cloud was deregistered', { guestsOnly: false });
      await this.audit.record(tx, principal, principal.tenantId, 'cloud.deregister', 'Cloud', cloud.id, { name: cloud.name, guestJobsCancelled: cancelled });
      return true;
    });
  }

  /**
   * Wipes the credentials that deregistered clouds kept only for guests' jobs to undo, once no
   * unfinished job uses them. Called when a clone job ends, and by the leader's reaper for a job
   * that ended without saying so (a crash). Returns the clouds wiped.
   */
  async wipeReleasedCredentials(): Promise<string[]> {
    const [rows] = (await this.dataSource.query(
      `UPDATE clouds c SET credentials_ciphertext = '\\x'::bytea, updated_at = now()
       WHERE c.deregistered_at IS NOT NULL AND octet_length(c.credentials_ciphertext) > 0
         AND NOT EXISTS (SELECT 1 FROM clone_jobs j WHERE (j.target_cloud_id = c.id OR j.source_cloud_id = c.id) AND j.state NOT IN ('DONE', 'FAILED', 'CANCELLED'))
       RETURNING c.id`,
    )) as [{ id: string }[], number];
    return rows.map((r) => r.id);
  }

  /** Marks the cloud's live VMs retired (with an audit entry in each VM's tenant); the servers themselves are left alone. */
  private async retireVms(tx: EntityManager, cloud: CloudEntity, why: string, o: { guestsOnly: boolean }): Promise<void> {
    const [rows] = (await tx.query(
      `UPDATE vms SET retired_at = now(), state = 'RETIRED', updated_at = now()
       WHERE cloud_id = $1 AND retired_at IS NULL AND ($2::boolean = false OR tenant_id <> $3)
       RETURNING id, tenant_id`,
      [cloud.id, o.guestsOnly, cloud.tenantId],
    )) as [{ id: string; tenant_id: string }[], number];
    for (const vm of rows) await this.audit.record(tx, null, vm.tenant_id, 'vm.retire', 'Vm', vm.id, { cloudId: cloud.id, reason: why });
  }

  /**
   * Decrypted connection settings, for adapters only: never return these through the API. Every
   * path that sends credentials (sessions, the health probe, the clone runner) gets them here, so
   * this is where they are held to the URL they were sealed for.
   */
  connectionOf(cloud: CloudEntity): CloudConnection {
    return {
      cloudId: cloud.id,
      name: cloud.name,
      authUrl: cloud.authUrl,
      region: cloud.region,
      credentials: this.credentialsOf(cloud),
      pinnedCatalog: cloud.catalog,
    };
  }

  /**
   * A transfer agent URL as stored: the endpoint policy's rules for URLs (https unless the
   * operator allows http, no user info) and, for an IP literal, for addresses; null for none.
   */
  private agentUrl(raw: string | null): string | null {
    if (raw === null || raw === '') return null;
    const verdict = judgeEndpointUrl(this.endpointPolicy, raw);
    if (!verdict.ok) throw new BadUserInputError('input.transferAgentUrl', `transferAgentUrl ${verdict.why}`);
    const ip = ipLiteralOf(verdict.url.hostname);
    if (ip) {
      const address = judgeAddress(this.endpointPolicy, ip);
      if (!address.allowed) throw new BadUserInputError('input.transferAgentUrl', `transferAgentUrl ${describeRefusal(address)}`);
    }
    return verdict.url.toString().replace(/\/+$/, '');
  }

  private seal(authUrl: string, credentials: CloudCredentials): Buffer {
    const sealed: SealedCredentials = { v: 2, authUrl, credentials };
    return this.secrets.seal(JSON.stringify(sealed));
  }

  private credentialsOf(cloud: CloudEntity): CloudCredentials {
    let opened: SealedCredentials | CloudCredentials;
    try {
      opened = JSON.parse(this.secrets.open(cloud.credentialsCiphertext).toString('utf8')) as SealedCredentials | CloudCredentials;
    } catch {
      // Wiped (deregistered), corrupted, or sealed with another INTERCLOUD_SECRET_KEY: say which cloud, never what.
      throw new DomainError(
        ErrorCode.INTERNAL,
        `the stored credentials of cloud ${cloud.name} (${cloud.id}) cannot be opened: wiped, or sealed with a different INTERCLOUD_SECRET_KEY`,
        { cloudId: cloud.id },
      );
    }
    // Rows sealed before the URL was sealed with them hold bare credentials; update() keeps their URL fixed.
    if (!('v' in opened)) return opened;
    if (opened.authUrl !== cloud.authUrl) {
      throw new UpstreamUnavailableError(
        `cloud ${cloud.name} (${cloud.id}): its stored credentials were given for another Keystone URL and are not sent to ${cloud.authUrl}; update the cloud with its credentials`,
        { cloudId: cloud.id, cloudName: cloud.name, service: 'keystone', retryable: false },
      );
    }
    return opened.credentials;
  }

  /** The verified catalog becomes the pinned one, and the cloud is healthy as of now. */
  private pin(cloud: CloudEntity, verified: CloudVerification): void {
    cloud.catalog = verified.catalog;
    cloud.health = CloudHealth.HEALTHY;
    cloud.healthLatencyMs = verified.latencyMs;
    cloud.healthCheckedAt = new Date();
    cloud.healthMessage = null;
  }

  private async getOwned(principal: Principal, id: string): Promise<CloudEntity> {
    parseInput(uuidRule, id, 'id');
    const cloud = await this.dataSource.getRepository(CloudEntity).findOne({ where: { id, tenantId: principal.tenantId, deregisteredAt: IsNull() } });
    if (!cloud) {
      const shared = await this.dataSource.getRepository(CloudEntity).findOne({ where: { id, shared: true, deregisteredAt: IsNull() } });
      // A shared cloud is visible to the caller, so saying "not found" would be a lie.
      if (shared) throw new ForbiddenError(`cloud ${shared.name} is shared with you by another tenant; only its owner may change it`);
      throw new NotFoundError('Cloud', id);
    }
    return cloud;
  }

  private async assertNameFree(tx: EntityManager, tenantId: string, name: string, exceptId: string | null): Promise<void> {
    const existing = await tx.findOne(CloudEntity, { where: { tenantId, name, deregisteredAt: IsNull() } });
    if (existing && existing.id !== exceptId) {
      throw new ConflictError(`a cloud named "${name}" is already registered`, { field: 'input.name' });
    }
  }
}

function normaliseDefaults(d: z.output<typeof defaultsRule>): CloudEntity['defaults'] {
  return {
    network: d.network ?? null,
    floatingNetwork: d.floatingNetwork ?? null,
    flavor: d.flavor ?? null,
    availabilityZone: d.availabilityZone ?? null,
  };
}
