/** VMs the broker knows (read side; importing and cloning add them). */
import { DataSource, FindOptionsWhere, IsNull } from 'typeorm';
import { VmEntity } from '../domain/entities';
import { NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { requirePermission } from './access';
import { parseInput, uuidRule } from './validation';

export class VmService {
  constructor(private readonly dataSource: DataSource) {}

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
}
