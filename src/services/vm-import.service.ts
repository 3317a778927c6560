/** Adopting running servers of a tenant's own cloud as VMs under a VM type; listing a cloud's servers. */
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { CloudEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { VmOrigin } from '../domain/enums';
import { BadUserInputError, ConflictError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { CloudApiFactory, Server } from '../ports/cloud-api.port';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { CloudService } from './cloud.service';
import { parseInput, uuidRule } from './validation';

const importRule = z.object({
  cloudId: uuidRule,
  serverId: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  vmTypeId: uuidRule,
});

export class VmImportService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clouds: CloudService,
    private readonly cloudApis: CloudApiFactory,
    private readonly audit: AuditService,
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
        }),
      );
      await this.audit.record(tx, principal, principal.tenantId, 'vm.import', 'Vm', vm.id, { cloudId: cloud.id, serverId: server.id, vmTypeId: vmType.id });
      return vm;
    });
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
