/** VMs the broker knows (importing and cloning add them) and their pinned SSH host keys. */
import { DataSource, FindOptionsWhere, In, IsNull } from 'typeorm';
import { z } from 'zod';
import { VmEntity } from '../domain/entities';
import { HostKeySource } from '../domain/enums';
import { BadUserInputError, ConflictError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { parseHostKey, PinnedHostKey, SshKeyError } from '../domain/ssh-keys';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { parseInput, uuidRule } from './validation';

export class VmService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async list(principal: Principal, filter: { vmTypeId?: string | null; cloudId?: string | null }): Promise<VmEntity[]> {
    requirePermission(principal, Permission.READ);
    // Retired VMs (their cloud is gone or no longer shared) are history, not part of the fleet.
    const where: FindOptionsWhere<VmEntity> = { tenantId: principal.tenantId, retiredAt: IsNull() };
    if (filter.vmTypeId) where.vmTypeId = parseInput(uuidRule, filter.vmTypeId, 'vmTypeId');
    if (filter.cloudId) where.cloudId = parseInput(uuidRule, filter.cloudId, 'cloudId');
    return this.dataSource.getRepository(VmEntity).find({ where, order: { createdAt: 'ASC' } });
  }

  async get(principal: Principal, id: string, field = 'id'): Promise<VmEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, field);
    const vm = await this.dataSource.getRepository(VmEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!vm) throw new NotFoundError('Vm', id);
    return vm;
  }

  /**
   * Of these VM ids, the VMs the caller may see (the same rule as `get`), in one query: for
   * per-request batching of the fields that point at VMs. Ids come from stored rows.
   */
  async getMany(principal: Principal, ids: readonly string[]): Promise<Map<string, VmEntity>> {
    requirePermission(principal, Permission.READ);
    if (ids.length === 0) return new Map();
    const vms = await this.dataSource.getRepository(VmEntity).find({ where: { id: In([...new Set(ids)]), tenantId: principal.tenantId } });
    return new Map(vms.map((vm) => [vm.id, vm]));
  }

  /**
   * Pins (or replaces) the host key the VM must present over SSH, from an OpenSSH public key line
   * or a `SHA256:` fingerprint. Clones made from the VM afterwards expect this key.
   */
  async setHostKey(principal: Principal, vmId: string, rawKey: unknown): Promise<VmEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const vm = await this.get(principal, vmId, 'vmId');
    const key = pinned(parseInput(z.string(), rawKey, 'key'));
    if (vm.retiredAt) throw new ConflictError(`VM ${vm.name} is retired: the broker no longer manages it`);
    return this.dataSource.transaction(async (tx) => {
      const previous = vm.sshHostKeyFingerprint;
      Object.assign(vm, { sshHostKeyFingerprint: key.fingerprint, sshHostKeyAlgorithm: key.algorithm, sshHostKeySource: HostKeySource.SET, sshHostKeyNote: null });
      const saved = await tx.save(vm);
      await this.audit.record(tx, principal, principal.tenantId, 'vm.setHostKey', 'Vm', vm.id, { fingerprint: key.fingerprint, algorithm: key.algorithm, previousFingerprint: previous });
      return saved;
    });
  }
}

function pinned(text: string): PinnedHostKey {
  try {
    return parseHostKey(text);
  } catch (err) {
    if (err instanceof SshKeyError) throw new BadUserInputError('key', err.rule);
    throw err;
  }
}
