/** Placement policies: hard filters on the target clouds of a VM type or of the whole tenant. */
import { DataSource, EntityManager, In, IsNull } from 'typeorm';
import { z } from 'zod';
import { CloudEntity, PolicyEntity, VmTypeEntity } from '../domain/entities';
import { BadUserInputError, ConflictError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { labelsRule, nameRule, parseInput, uuidRule } from './validation';

const policyRule = z
  .object({
    name: nameRule,
    vmTypeId: uuidRule.nullable().optional(),
    allowCloudIds: z.array(uuidRule).max(256).default([]),
    denyCloudIds: z.array(uuidRule).max(256).default([]),
    requiredLabels: labelsRule.default([]),
    homeCloudOnly: z.boolean().default(false),
    maxCostPerHour: z.number().min(0, 'must not be negative').nullable().optional(),
    minBandwidthMbps: z.number().int('must be a whole number').min(1, 'must be at least 1').nullable().optional(),
  })
  .superRefine((p, ctx) => {
    const both = p.allowCloudIds.find((id) => p.denyCloudIds.includes(id));
    if (both) ctx.addIssue({ code: 'custom', path: ['denyCloudIds'], message: `cloud ${both} is both allowed and denied` });
  });

export class PolicyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async list(principal: Principal, vmTypeId?: string | null): Promise<PolicyEntity[]> {
    requirePermission(principal, Permission.READ);
    const where = vmTypeId ? { tenantId: principal.tenantId, vmTypeId } : { tenantId: principal.tenantId };
    return this.dataSource.getRepository(PolicyEntity).find({ where, order: { createdAt: 'ASC' } });
  }

  /** Policies that apply to a VM type: its own and the tenant-wide ones. */
  async applicableTo(tenantId: string, vmTypeId: string | null): Promise<PolicyEntity[]> {
    const repo = this.dataSource.getRepository(PolicyEntity);
    const tenantWide = await repo.find({ where: { tenantId, vmTypeId: IsNull() } });
    return vmTypeId ? tenantWide.concat(await repo.find({ where: { tenantId, vmTypeId } })) : tenantWide;
  }

  async create(principal: Principal, rawInput: unknown): Promise<PolicyEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const input = parseInput(policyRule, rawInput, 'input');
    return this.dataSource.transaction(async (tx) => {
      await this.checkReferences(tx, principal, input, null);
      const policy = await tx.save(
        tx.create(PolicyEntity, {
          ...input,
          tenantId: principal.tenantId,
          vmTypeId: input.vmTypeId ?? null,
          maxCostPerHour: input.maxCostPerHour ?? null,
          minBandwidthMbps: input.minBandwidthMbps ?? null,
        }),
      );
      await this.audit.record(tx, principal, principal.tenantId, 'policy.create', 'Policy', policy.id, { name: policy.name });
      return policy;
    });
  }

  /** Replaces the policy's settings (the same rules as createPolicy). */
  async update(principal: Principal, id: string, rawInput: unknown): Promise<PolicyEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    parseInput(uuidRule, id, 'id');
    const input = parseInput(policyRule, rawInput, 'input');
    return this.dataSource.transaction(async (tx) => {
      const policy = await tx.findOne(PolicyEntity, { where: { id, tenantId: principal.tenantId }, lock: { mode: 'pessimistic_write' } });
      if (!policy) throw new NotFoundError('Policy', id);
      await this.checkReferences(tx, principal, input, policy.id);
      Object.assign(policy, { ...input, vmTypeId: input.vmTypeId ?? null, maxCostPerHour: input.maxCostPerHour ?? null, minBandwidthMbps: input.minBandwidthMbps ?? null });
      const saved = await tx.save(policy);
      await this.audit.record(tx, principal, principal.tenantId, 'policy.update', 'Policy', policy.id, { name: policy.name });
      return saved;
    });
  }

  async delete(principal: Principal, id: string): Promise<boolean> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    parseInput(uuidRule, id, 'id');
    return this.dataSource.transaction(async (tx) => {
      const policy = await tx.findOne(PolicyEntity, { where: { id, tenantId: principal.tenantId } });
      if (!policy) throw new NotFoundError('Policy', id);
      await tx.remove(policy);
      await this.audit.record(tx, principal, principal.tenantId, 'policy.delete', 'Policy', id, { name: policy.name });
      return true;
    });
  }

  /** The VM type and the clouds a policy names must be the tenant's (or visible to it), and its name free. */
  private async checkReferences(tx: EntityManager, principal: Principal, input: z.output<typeof policyRule>, exceptId: string | null): Promise<void> {
    if (input.vmTypeId && !(await tx.findOne(VmTypeEntity, { where: { id: input.vmTypeId, tenantId: principal.tenantId } }))) {
      throw new BadUserInputError('input.vmTypeId', 'must name one of your VM types');
    }
    // Cloud ids must be clouds the tenant can see, so a typo is caught now rather than silently filtering nothing.
    const ids = [...input.allowCloudIds, ...input.denyCloudIds];
    if (ids.length > 0) {
      const visible = await tx
        .getRepository(CloudEntity)
        .find({ where: [{ id: In(ids), tenantId: principal.tenantId }, { id: In(ids), shared: true }], select: { id: true } });
      const known = new Set(visible.map((c) => c.id));
      for (const [list, key] of [[input.allowCloudIds, 'allowCloudIds'], [input.denyCloudIds, 'denyCloudIds']] as const) {
        const i = list.findIndex((cid) => !known.has(cid));
        if (i >= 0) throw new BadUserInputError(`input.${key}.${i}`, 'must be the id of a cloud you can see');
      }
    }
    const named = await tx.findOne(PolicyEntity, { where: { tenantId: principal.tenantId, name: input.name } });
    if (named && named.id !== exceptId) throw new ConflictError(`a policy named "${input.name}" already exists`, { field: 'input.name' });
  }

  async get(principal: Principal, id: string): Promise<PolicyEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, 'id');
    const policy = await this.dataSource.getRepository(PolicyEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!policy) throw new NotFoundError('Policy', id);
    return policy;
  }
}
