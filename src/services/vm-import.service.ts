/**
 * Adopting running servers of a tenant's own cloud as VMs under a VM type; listing a cloud's
 * servers. An adopted server's SSH host key is pinned on first use when the broker can read it.
 */
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { CloudEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { HostKeySource, VmOrigin } from '../domain/enums';
import { BadUserInputError, ConflictError, NotFoundError, tenantMessage } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { addressOf } from '../domain/template-values';
import { CloudApiFactory, Server } from '../ports/cloud-api.port';
import { HostKey, RemoteShell } from '../ports/remote-shell.port';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { CloudService } from './cloud.service';
import { parseInput, uuidRule } from './validation';

const importRule = z.object({
  cloudId: uuidRule,
  serverId: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  vmTypeId: uuidRule,
});

/** The one RemoteShell call the import needs. */
export type HostKeyFetcher = Pick<RemoteShell, 'fetchHostKey'>;

/** How long importVm waits for a server's SSH host key before importing it without one. */
export const HOST_KEY_TIMEOUT_MS = 5000;

type HostKeyReading = { key: HostKey; note: null } | { key: null; note: string };

export class VmImportService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clouds: CloudService,
    private readonly cloudApis: CloudApiFactory,
    private readonly audit: AuditService,
    private readonly hostKeys: HostKeyFetcher,
  ) {}

  /** Servers of one of the tenant's own clouds, as Nova lists them. */
  async listServers(principal: Principal, cloudId: string): Promise<Server[]> {
    requirePermission(principal, Permission.READ);
    const cloud = await this.ownCloud(principal, cloudId, 'cloudId');
    return this.cloudApis.forConnection(this.clouds.connectionOf(cloud)).listServers();
  }

  async importVm(principal: Principal, rawInput: unknown): Promise<VmEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const input = parseInput(importRule, rawInput, 'input');
    const cloud = await this.ownCloud(principal, input.cloudId, 'input.cloudId');
    const vmType = await this.dataSource.getRepository(VmTypeEntity).findOne({ where: { id: input.vmTypeId, tenantId: principal.tenantId } });
    if (!vmType) throw new BadUserInputError('input.vmTypeId', 'must be the id of one of your VM types');
    const server = await this.cloudApis.forConnection(this.clouds.connectionOf(cloud)).getServer(input.serverId);
    if (!server) throw new BadUserInputError('input.serverId', `must be a server in cloud ${cloud.name}`);
    const hostKey = await this.readHostKey(vmType, server);
    return this.dataSource.transaction(async (tx) => {
      const existing = await tx.findOne(VmEntity, { where: { cloudId: cloud.id, serverId: server.id } });
      if (existing) {
        // Another tenant's VM (a guest's clone in this shared cloud) is not named: its id is theirs.
        const known = existing.tenantId === principal.tenantId ? `as your VM ${existing.id}` : 'to the broker under another tenant';
        throw new ConflictError(`server ${server.id} is already known ${known}`, { field: 'input.serverId' });
      }
      const vm = await tx.save(
        tx.create(VmEntity, {
          tenantId: principal.tenantId,
          vmTypeId: vmType.id,
          cloudId: cloud.id,
          serverId: server.id,
          name: server.name,
          addresses: server.addresses,
          state: server.status,
          origin: VmOrigin.IMPORTED,
          sshHostKeyFingerprint: hostKey.key?.fingerprint ?? null,
          sshHostKeyAlgorithm: hostKey.key?.algorithm ?? null,
          sshHostKeySource: hostKey.key ? HostKeySource.IMPORTED : null,
          sshHostKeyNote: hostKey.note,
        }),
      );
      await this.audit.record(tx, principal, principal.tenantId, 'vm.import', 'Vm', vm.id, {
        cloudId: cloud.id,
        serverId: server.id,
        vmTypeId: vmType.id,
        ...(hostKey.key ? { hostKeyFingerprint: hostKey.key.fingerprint } : { hostKeyNote: hostKey.note }),
      });
      return vm;
    });
  }

  /**
   * Trust on first use: the key the server presents now, at the address the broker reaches it
   * by (floating, else fixed) and the recipe's SSH port. Not reading it is no reason to refuse
   * the import; the note says why, and CONFIGURE refuses to run until a key is pinned.
   */
  private async readHostKey(vmType: VmTypeEntity, server: Server): Promise<HostKeyReading> {
    const recipe = vmType.configureRecipe;
    const later = 'pin it with setVmHostKey before the VM is cloned (CONFIGURE refuses to run without one)';
    if (!recipe?.sshKeyId) return { key: null, note: `host key not read at import: VM type ${vmType.name} has no configureRecipe with an SSH key; ${later}` };
    const host = addressOf(server.addresses, 'floating') ?? addressOf(server.addresses, 'fixed');
    if (!host) return { key: null, note: `host key not read at import: the server has no address; ${later}` };
    try {
      return { key: await this.hostKeys.fetchHostKey(host, recipe.sshPort, HOST_KEY_TIMEOUT_MS), note: null };
    } catch (err) {
      return { key: null, note: `host key not read at import: ${tenantMessage(err)}; ${later}`.slice(0, 512) };
    }
  }

  /** Only the tenant's own clouds: servers in a partner's shared cloud are not the tenant's to adopt. */
  private async ownCloud(principal: Principal, id: string, field: string): Promise<CloudEntity> {
    parseInput(uuidRule, id, field);
    const cloud = await this.clouds.get(principal, id).catch((err) => {
      if (err instanceof NotFoundError) throw new BadUserInputError(field, 'must be the id of one of your clouds');
      throw err;
    });
    if (cloud.tenantId !== principal.tenantId) throw new BadUserInputError(field, 'must be one of your own clouds (not one shared with you)');
    return cloud;
  }
}
