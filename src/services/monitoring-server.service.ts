/**
 * A tenant's Nagios 4 servers: where the poller reads service states (statusjson.cgi, HTTP basic
 * authentication) and how the MONITORING step changes their configuration (SSH with a pinned host
 * key, a config directory, a verify command, the PID file to HUP). The password is sealed with the
 * status URL it was given for and is only ever sent there; it is never returned.
 */
import { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { MonitoringServerEntity, SshKeyEntity } from '../domain/entities';
import { MonitoringHealth } from '../domain/enums';
import { BadUserInputError, ConflictError, DomainError, ErrorCode, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { parseHostKey, PinnedHostKey, SshKeyError } from '../domain/ssh-keys';
import { NagiosStatusEndpoint } from '../ports/monitoring.port';
import { SshTarget } from '../ports/remote-shell.port';
import { SecretBox } from '../ports/secret-box.port';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { absolutePathRule, argvRule, hostRule, httpUrlRule, portRule, secretRule } from './integration-rules';
import { assertUnused, isForeignKeyViolation, vmTypesUsing } from './integration-usage';
import { SshKeyService } from './ssh-key.service';
import { nameRule, parseInput, uuidRule } from './validation';

export const DEFAULT_VERIFY_COMMAND = ['nagios4', '-v', '/etc/nagios4/nagios.cfg'];
export const DEFAULT_PID_FILE = '/run/nagios4/nagios4.pid';

const statusUrlRule = httpUrlRule("Nagios's statusjson.cgi").refine(
  (u) => /\/statusjson\.cgi$/.test(u),
  'must be the URL of statusjson.cgi, e.g. https://nagios.example.net/cgi-bin/nagios4/statusjson.cgi',
);
// HTTP basic authentication joins user and password with a colon.
const basicUserRule = secretRule({ min: 1, max: 255 }).refine((u) => !u.includes(':'), 'must not contain ":"');
const fields = {
  name: nameRule,
  statusUrl: statusUrlRule,
  username: basicUserRule,
  password: secretRule({ min: 1, max: 1024 }),
  sshHost: hostRule,
  sshPort: portRule,
  sshKeyId: uuidRule,
  sshHostKey: z.string().max(16_384, 'must be at most 16384 characters'),
  configDir: absolutePathRule(),
  verifyCommand: argvRule({ maxArgs: 32, maxChars: 1024 }),
  pidFile: absolutePathRule(),
};

const registerRule = z.object({
  ...fields,
  sshPort: fields.sshPort.default(22),
  verifyCommand: fields.verifyCommand.default(DEFAULT_VERIFY_COMMAND),
  pidFile: fields.pidFile.default(DEFAULT_PID_FILE),
});

const updateRule = z.object(fields).partial();

interface SealedPassword {
  v: 1;
  statusUrl: string;
  password: string;
}

/** Why an update that changes where the password goes needs it again (extensions.rule). */
export const NEW_STATUS_URL_RULE = 'must be given again when statusUrl changes: the stored password is only ever sent to the URL it was given for';
export const NEW_SSH_HOST_RULE = 'must be given again when sshHost or sshPort changes: the pinned key is the old host\'s';

/** What the MONITORING step needs to change a server's configuration (the session is its own to open). */
export interface MonitoringConfigAccess {
  ssh: SshTarget;
  configDir: string;
  verifyCommand: string[];
  pidFile: string;
  /** `sudo -n` for the verify command and the reload when the key's user is not root. */
  sudo: boolean;
}

/** The poller's verdict on one server, recorded on it. */
export type PollOutcome = { ok: true } | { ok: false; error: string };

export class MonitoringServerService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly secrets: SecretBox,
    private readonly sshKeys: SshKeyService,
    private readonly audit: AuditService,
  ) {}

  async list(principal: Principal): Promise<MonitoringServerEntity[]> {
    requirePermission(principal, Permission.READ);
    return this.dataSource.getRepository(MonitoringServerEntity).find({ where: { tenantId: principal.tenantId }, order: { name: 'ASC' } });
  }

  async get(principal: Principal, id: string, field = 'id'): Promise<MonitoringServerEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, field);
    const server = await this.dataSource.getRepository(MonitoringServerEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!server) throw new NotFoundError('MonitoringServer', id);
    return server;
  }

  /** Every registered server of every tenant, for the poller. */
  async all(): Promise<MonitoringServerEntity[]> {
    return this.dataSource.getRepository(MonitoringServerEntity).find({ order: { createdAt: 'ASC' } });
  }

  async register(principal: Principal, rawInput: unknown): Promise<MonitoringServerEntity> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const input = parseInput(registerRule, rawInput, 'input');
    const hostKey = pin(input.sshHostKey);
    return this.dataSource.transaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, null);
      await this.ownKey(tx, principal.tenantId, input.sshKeyId);
      const server = await tx.save(
        tx.create(MonitoringServerEntity, {
          tenantId: principal.tenantId,
          name: input.name,
          statusUrl: input.statusUrl,
          username: input.username,
          passwordCiphertext: this.seal(input.statusUrl, input.password),
          sshHost: input.sshHost,
          sshPort: input.sshPort,
          sshKeyId: input.sshKeyId,
          sshHostKeyAlgorithm: hostKey.algorithm,
          sshHostKeyFingerprint: hostKey.fingerprint,
          configDir: input.configDir,
          verifyCommand: input.verifyCommand,
          pidFile: input.pidFile,
          health: MonitoringHealth.UNKNOWN,
          lastError: null,
          lastPolledAt: null,
        }),
      );
      await this.audit.record(tx, principal, principal.tenantId, 'monitoringServer.register', 'MonitoringServer', server.id, {
        name: server.name,
        statusUrl: server.statusUrl,
        sshHost: server.sshHost,
        sshPort: server.sshPort,
        sshHostKeyFingerprint: server.sshHostKeyFingerprint,
      });
      return server;
    });
  }

  /** Omitted fields stay. A new statusUrl needs the password again; a new sshHost or sshPort needs sshHostKey again. */
  async update(principal: Principal, id: string, rawInput: unknown): Promise<MonitoringServerEntity> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const server = await this.get(principal, id);
    const input = parseInput(updateRule, rawInput, 'input');
    const statusUrl = input.statusUrl ?? server.statusUrl;
    if (statusUrl !== server.statusUrl && input.password === undefined) throw new BadUserInputError('input.password', NEW_STATUS_URL_RULE);
    const movesSsh = (input.sshHost !== undefined && input.sshHost !== server.sshHost) || (input.sshPort !== undefined && input.sshPort !== server.sshPort);
    if (movesSsh && input.sshHostKey === undefined) throw new BadUserInputError('input.sshHostKey', NEW_SSH_HOST_RULE);
    const hostKey = input.sshHostKey !== undefined ? pin(input.sshHostKey) : null;
    return this.dataSource.transaction(async (tx) => {
      if (input.name !== undefined) await this.assertNameFree(tx, principal.tenantId, input.name, server.id);
      if (input.sshKeyId !== undefined) await this.ownKey(tx, principal.tenantId, input.sshKeyId);
      const credentialsChange = input.password !== undefined || statusUrl !== server.statusUrl || input.username !== undefined;
      if (input.password !== undefined) server.passwordCiphertext = this.seal(statusUrl, input.password);
      if (input.name !== undefined) server.name = input.name;
      server.statusUrl = statusUrl;
      if (input.username !== undefined) server.username = input.username;
      if (input.sshHost !== undefined) server.sshHost = input.sshHost;
      if (input.sshPort !== undefined) server.sshPort = input.sshPort;
      if (input.sshKeyId !== undefined) server.sshKeyId = input.sshKeyId;
      if (input.configDir !== undefined) server.configDir = input.configDir;
      if (input.verifyCommand !== undefined) server.verifyCommand = input.verifyCommand;
      if (input.pidFile !== undefined) server.pidFile = input.pidFile;
      if (hostKey) {
        server.sshHostKeyAlgorithm = hostKey.algorithm;
        server.sshHostKeyFingerprint = hostKey.fingerprint;
      }
      // What the poller last found says nothing about a server reached differently.
      if (credentialsChange) {
        server.health = MonitoringHealth.UNKNOWN;
        server.lastError = null;
      }
      const saved = await tx.save(server);
      await this.audit.record(tx, principal, principal.tenantId, 'monitoringServer.update', 'MonitoringServer', server.id, {
        changed: Object.keys(input).filter((k) => k !== 'password'),
        passwordChanged: input.password !== undefined,
        ...(hostKey ? { sshHostKeyFingerprint: hostKey.fingerprint } : {}),
      });
      return saved;
    });
  }

  /** Refused (CONFLICT, naming them) while VM types are bound to the server. */
  async delete(principal: Principal, id: string): Promise<boolean> {
    requirePermission(principal, Permission.MANAGE_INTEGRATIONS);
    const server = await this.get(principal, id);
    try {
      return await this.dataSource.transaction(async (tx) => {
        assertUnused(`monitoring server "${server.name}"`, { 'VM type': await vmTypesUsing(tx, 'monitoring_server_id', server.id) });
        await tx.delete(MonitoringServerEntity, { id: server.id });
        await this.audit.record(tx, principal, principal.tenantId, 'monitoringServer.delete', 'MonitoringServer', server.id, { name: server.name });
        return true;
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new ConflictError(`monitoring server "${server.name}" was just bound to a VM type: unbind it there first`);
      throw err;
    }
  }


  /** Where and how to read the server's status; for the poller and the MONITORING step only (holds the password). */
  statusEndpointOf(server: MonitoringServerEntity): NagiosStatusEndpoint {
    let sealed: SealedPassword;
    try {
      sealed = JSON.parse(this.secrets.open(server.passwordCiphertext).toString('utf8')) as SealedPassword;
    } catch {
      throw new DomainError(ErrorCode.INTERNAL, `the stored password of monitoring server ${server.name} (${server.id}) cannot be opened: sealed with a different INTERCLOUD_SECRET_KEY`, {
        monitoringServerId: server.id,
      });
    }
    // update() re-seals with every URL change; a mismatch means the row was changed behind the broker's back.
    if (sealed.statusUrl !== server.statusUrl) {
      throw new DomainError(ErrorCode.INTERNAL, `monitoring server ${server.name} (${server.id}): its password was given for another status URL and is not sent to ${server.statusUrl}`, {
        monitoringServerId: server.id,
      });
    }
    return { statusUrl: server.statusUrl, username: server.username, password: sealed.password };
  }

  /** How to reach the server over SSH and change its configuration; for the MONITORING step only (holds the private key). */
  async configAccessOf(server: MonitoringServerEntity): Promise<MonitoringConfigAccess> {
    const key = await this.dataSource.getRepository(SshKeyEntity).findOneByOrFail({ id: server.sshKeyId });
    const login = this.sshKeys.loginOf(key);
    return {
      ssh: {
        host: server.sshHost,
        port: server.sshPort,
        ...login,
        // Fingerprints are compared; an algorithm the tenant did not give is left for the adapter to read off the key.
        expectedHostKey: { algorithm: server.sshHostKeyAlgorithm ?? '', fingerprint: server.sshHostKeyFingerprint },
      },
      configDir: server.configDir,
      verifyCommand: [...server.verifyCommand],
      pidFile: server.pidFile,
      sudo: login.username !== 'root',
    };
  }

  /** Records what the poller found (not audited: it is an observation, not a change by anyone). */
  async recordPoll(serverId: string, outcome: PollOutcome, at = new Date()): Promise<void> {
    await this.dataSource.getRepository(MonitoringServerEntity).update(
      { id: serverId },
      outcome.ok
        ? { health: MonitoringHealth.HEALTHY, lastError: null, lastPolledAt: at }
        : { health: MonitoringHealth.UNREACHABLE, lastError: outcome.error.slice(0, 512), lastPolledAt: at },
    );
  }

  private seal(statusUrl: string, password: string): Buffer {
    const sealed: SealedPassword = { v: 1, statusUrl, password };
    return this.secrets.seal(JSON.stringify(sealed));
  }

  private async ownKey(tx: EntityManager, tenantId: string, sshKeyId: string): Promise<void> {
    if (!(await this.sshKeys.findOwned(tx, tenantId, sshKeyId))) throw new BadUserInputError('input.sshKeyId', 'must be the id of one of your SSH keys');
  }

  private async assertNameFree(tx: EntityManager, tenantId: string, name: string, exceptId: string | null): Promise<void> {
    const existing = await tx.findOne(MonitoringServerEntity, { where: { tenantId, name } });
    if (existing && existing.id !== exceptId) throw new ConflictError(`a monitoring server named "${name}" already exists`, { field: 'input.name' });
  }
}

function pin(text: string): PinnedHostKey {
  try {
    return parseHostKey(text);
  } catch (err) {
    if (err instanceof SshKeyError) throw new BadUserInputError('input.sshHostKey', err.rule);
    throw err;
  }
}
