/**
 * A tenant's SSH keys: the private key (and its passphrase) goes in sealed and never comes out;
 * the public key and its fingerprint are derived and shown, so the tenant can authorise it on its
 * VMs and Nagios servers. A key a VM type or a monitoring server uses cannot be deleted.
 */
import { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { MonitoringServerEntity, SshKeyEntity } from '../domain/entities';
import { BadUserInputError, ConflictError, DomainError, ErrorCode, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { parsePrivateKey, ParsedPrivateKey, SshKeyError } from '../domain/ssh-keys';
import { SecretBox } from '../ports/secret-box.port';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { assertUnused, isForeignKeyViolation, vmTypesUsing } from './integration-usage';
import { posixUserRule } from './integration-rules';
import { nameRule, parseInput, uuidRule } from './validation';

const privateKeyRule = z.string().min(1, 'must not be empty').max(16_384, 'must be at most 16384 characters');
const passphraseRule = z.string().max(1024, 'must be at most 1024 characters').nullable().optional();

const createRule = z.object({ name: nameRule, username: posixUserRule, privateKey: privateKeyRule, passphrase: passphraseRule });

const updateRule = z
  .object({ name: nameRule.optional(), username: posixUserRule.optional(), privateKey: privateKeyRule.optional(), passphrase: passphraseRule })
  .superRefine((v, ctx) => {
    // The stored key was opened with its own passphrase; a new passphrase only makes sense with a new key.
    if (v.passphrase != null && v.privateKey === undefined) ctx.addIssue({ code: 'custom', path: ['passphrase'], message: 'may only be given together with privateKey' });
  });

/** What is sealed. */
interface SealedKey {
  v: 1;
  privateKey: string;
  passphrase: string | null;
}

/** What an adapter needs to log in with a key; never returned through the API. */
export interface SshLogin {
  username: string;
  privateKey: string;
  passphrase?: string;
}

export class SshKeyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly secrets: SecretBox,
    private readonly audit: AuditService,
  ) {}

  async list(principal: Principal): Promise<SshKeyEntity[]> {
    requirePermission(principal, Permission.READ);
    return this.dataSource.getRepository(SshKeyEntity).find({ where: { tenantId: principal.tenantId }, order: { name: 'ASC' } });
  }

  async get(principal: Principal, id: string, field = 'id'): Promise<SshKeyEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, field);
    const key = await this.dataSource.getRepository(SshKeyEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!key) throw new NotFoundError('SshKey', id);
    return key;
  }

  async create(principal: Principal, rawInput: unknown): Promise<SshKeyEntity> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const input = parseInput(createRule, rawInput, 'input');
    const parsed = parseKey(input.privateKey, input.passphrase);
    return this.dataSource.transaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, null);
      const key = await tx.save(
        tx.create(SshKeyEntity, {
          tenantId: principal.tenantId,
          name: input.name,
          username: input.username,
          ...this.keyColumns(parsed, input.privateKey, input.passphrase),
        }),
      );
      await this.audit.record(tx, principal, principal.tenantId, 'sshKey.create', 'SshKey', key.id, { name: key.name, username: key.username, fingerprint: key.fingerprint });
      return key;
    });
  }

  /** Omitted fields stay; a new privateKey replaces the key pair (with its passphrase, if it has one). */
  async update(principal: Principal, id: string, rawInput: unknown): Promise<SshKeyEntity> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const key = await this.get(principal, id);
    const input = parseInput(updateRule, rawInput, 'input');
    const parsed = input.privateKey !== undefined ? parseKey(input.privateKey, input.passphrase) : null;
    return this.dataSource.transaction(async (tx) => {
      if (input.name !== undefined) {
        await this.assertNameFree(tx, principal.tenantId, input.name, key.id);
        key.name = input.name;
      }
      if (input.username !== undefined) key.username = input.username;
      const before = key.fingerprint;
      if (parsed) Object.assign(key, this.keyColumns(parsed, input.privateKey!, input.passphrase));
      const saved = await tx.save(key);
      await this.audit.record(tx, principal, principal.tenantId, 'sshKey.update', 'SshKey', key.id, {
        changed: Object.keys(input).filter((k) => k !== 'privateKey' && k !== 'passphrase'),
        keyReplaced: parsed !== null,
        ...(parsed ? { previousFingerprint: before, fingerprint: saved.fingerprint } : {}),
      });
      return saved;
    });
  }

  /** Refused (CONFLICT, naming them) while VM types or monitoring servers use the key. */
  async delete(principal: Principal, id: string): Promise<boolean> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const key = await this.get(principal, id);
    try {
      return await this.dataSource.transaction(async (tx) => {
        const servers = await tx.find(MonitoringServerEntity, { where: { sshKeyId: key.id }, order: { name: 'ASC' }, select: { name: true } });
        assertUnused(`SSH key "${key.name}"`, { 'VM type': await vmTypesUsing(tx, 'ssh_key_id', key.id), 'monitoring server': servers.map((s) => s.name) });
        await tx.delete(SshKeyEntity, { id: key.id });
        await this.audit.record(tx, principal, principal.tenantId, 'sshKey.delete', 'SshKey', key.id, { name: key.name, fingerprint: key.fingerprint });
        return true;
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new ConflictError(`SSH key "${key.name}" was just bound to a VM type or monitoring server: unbind it there first`);
      throw err;
    }
  }

  /** The tenant's key by id, for binding checks: null when it is not one of theirs. */
  async findOwned(tx: EntityManager, tenantId: string, id: string): Promise<SshKeyEntity | null> {
    return tx.findOne(SshKeyEntity, { where: { id, tenantId } });
  }

  /**
   * The decrypted login, for adapters only (CONFIGURE, the MONITORING step's SSH): never return
   * it through the API.
   */
  loginOf(key: SshKeyEntity): SshLogin {
    let sealed: SealedKey;
    try {
      sealed = JSON.parse(this.secrets.open(key.privateKeyCiphertext).toString('utf8')) as SealedKey;
    } catch {
      throw new DomainError(ErrorCode.INTERNAL, `the stored private key of SSH key ${key.name} (${key.id}) cannot be opened: sealed with a different INTERCLOUD_SECRET_KEY`, {
        sshKeyId: key.id,
      });
    }
    return { username: key.username, privateKey: sealed.privateKey, ...(sealed.passphrase ? { passphrase: sealed.passphrase } : {}) };
  }

  private keyColumns(parsed: ParsedPrivateKey, privateKey: string, passphrase: string | null | undefined): Partial<SshKeyEntity> {
    // A passphrase the key does not need is not kept.
    const sealed: SealedKey = { v: 1, privateKey, passphrase: parsed.encrypted ? (passphrase ?? null) : null };
    return {
      algorithm: parsed.algorithm,
      publicKey: parsed.publicKey,
      fingerprint: parsed.fingerprint,
      privateKeyCiphertext: this.secrets.seal(JSON.stringify(sealed)),
    };
  }

  private async assertNameFree(tx: EntityManager, tenantId: string, name: string, exceptId: string | null): Promise<void> {
    const existing = await tx.findOne(SshKeyEntity, { where: { tenantId, name } });
    if (existing && existing.id !== exceptId) throw new ConflictError(`an SSH key named "${name}" already exists`, { field: 'input.name' });
  }
}

function parseKey(privateKey: string, passphrase: string | null | undefined): ParsedPrivateKey {
  try {
    return parsePrivateKey(privateKey, passphrase);
  } catch (err) {
    if (err instanceof SshKeyError) throw new BadUserInputError(`input.${err.field}`, err.rule);
    throw err;
  }
}
