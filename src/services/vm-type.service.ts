/** VM types under scaling control, and their per-metric thresholds. */
import { DataSource, EntityManager, In } from 'typeorm';
import { z } from 'zod';
import { MetricEntity, ThresholdEntity, VmTypeEntity } from '../domain/entities';
import { DrainAction, LoadBalancerKind, ThresholdRole } from '../domain/enums';
import { ConflictError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { nameRule, parseInput, uuidRule } from './validation';

const seconds = (max: number) => z.number().int('must be a whole number of seconds').min(0, 'must not be negative').max(max, `must be at most ${max}`);

/** Nagios object names: no characters Nagios forbids, no newlines (they end up in a config file). */
const nagiosName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._:()/-]*$/, 'must be letters, digits, space and . _ : ( ) / -');

export const metricNameRule = nagiosName;

const recipeRule = z
  .object({
    sshUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a POSIX user name'),
    sshPort: z.number().int().min(1, 'must be a TCP port').max(65535, 'must be a TCP port').default(22),
    files: z
      .array(
        z.object({
          path: z
            .string()
            .max(1024)
            .regex(/^\/[^\0]*$/, 'must be an absolute path')
            .refine((p) => !p.split('/').includes('..'), 'must not contain ..'),
          template: z.string().max(65536, 'must be at most 64 KiB'),
          mode: z.number().int().min(0, 'must be a file mode like 420 (0644)').max(0o7777, 'must be a file mode like 420 (0644)').default(0o644),
        }),
      )
      .max(32, 'at most 32 files')
      .default([]),
    commands: z
      .array(z.array(z.string().max(4096).refine((a) => !a.includes('\0'), 'must not contain NUL')).min(1, 'must have at least the program name'))
      .max(32, 'at most 32 commands')
      .default([]),
  })
  .strict();

const vmTypeRule = z
  .object({
    name: nameRule,
    minInstances: z.number().int('must be a whole number').min(0, 'must not be negative').max(1000, 'must be at most 1000'),
    maxInstances: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000'),
    scaleUpCooldownSeconds: seconds(86400).default(300),
    scaleDownCooldownSeconds: seconds(86400).default(600),
    flavorHint: z.string().trim().min(1).max(255).nullable().optional(),
    networkHint: z.string().trim().min(1).max(255).nullable().optional(),
    configureRecipe: recipeRule.nullable().optional(),
    monitoring: z
      .object({
        hostTemplate: nagiosName,
        services: z.array(z.object({ description: nagiosName, template: nagiosName })).max(64, 'at most 64 services').default([]),
      })
      .strict()
      .nullable()
      .optional(),
    loadBalancer: z
      .object({
        kind: z.nativeEnum(LoadBalancerKind),
        setId: z.number().int().min(0, 'must not be negative').max(65535, 'must be at most 65535'),
        sipPort: z.number().int().min(1, 'must be a UDP/TCP port').max(65535, 'must be a UDP/TCP port').default(5060),
        transport: z.enum(['udp', 'tcp']).default('udp'),
        target: nameRule,
      })
      .strict()
      .nullable()
      .optional(),
    drainTimeoutSeconds: seconds(86400).default(300),
    drainTimeoutAction: z.nativeEnum(DrainAction).default(DrainAction.FORCE_REMOVE),
  })
  .superRefine((v, ctx) => {
    if (v.maxInstances < v.minInstances) ctx.addIssue({ code: 'custom', path: ['maxInstances'], message: 'must be at least minInstances' });
  });

const thresholdsRule = z
  .array(
    z.object({
      metric: metricNameRule,
      active: z.boolean(),
      warningHoldSeconds: seconds(86400),
      criticalHoldSeconds: seconds(86400),
      role: z.nativeEnum(ThresholdRole),
      prepareOnWarning: z.boolean().default(false),
    }),
  )
  .max(64, 'at most 64 thresholds')
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((t, i) => {
      if (seen.has(t.metric)) ctx.addIssue({ code: 'custom', path: [i, 'metric'], message: 'each metric may appear once' });
      seen.add(t.metric);
      if (t.role === ThresholdRole.SCALE_DOWN && t.prepareOnWarning) {
        ctx.addIssue({ code: 'custom', path: [i, 'prepareOnWarning'], message: 'only a SCALE_UP metric can prepare on WARNING' });
      }
    });
    const down = list.map((t, i) => [t, i] as const).filter(([t]) => t.role === ThresholdRole.SCALE_DOWN && t.active);
    if (down.length > 1) ctx.addIssue({ code: 'custom', path: [down[1][1], 'role'], message: 'a VM type has at most one active SCALE_DOWN metric' });
  });

export type VmTypeWithThresholds = VmTypeEntity & { thresholds: ThresholdEntity[] };

export class VmTypeService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async list(principal: Principal): Promise<VmTypeEntity[]> {
    requirePermission(principal, Permission.READ);
    return this.dataSource.getRepository(VmTypeEntity).find({ where: { tenantId: principal.tenantId }, order: { name: 'ASC' } });
  }

  async get(principal: Principal, id: string, field = 'id'): Promise<VmTypeEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, field);
    const vmType = await this.dataSource.getRepository(VmTypeEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!vmType) throw new NotFoundError('VmType', id);
    return vmType;
  }

  /** Thresholds of many VM types at once (the GraphQL field resolver batches through this). */
  async thresholdsOf(vmTypeIds: readonly string[]): Promise<Map<string, ThresholdEntity[]>> {
    const rows = await this.dataSource.getRepository(ThresholdEntity).find({ where: { vmTypeId: In([...vmTypeIds]) }, order: { metric: 'ASC' } });
    const byType = new Map<string, ThresholdEntity[]>(vmTypeIds.map((id) => [id, []]));
    for (const row of rows) byType.get(row.vmTypeId)?.push(row);
    return byType;
  }

  async create(principal: Principal, rawInput: unknown): Promise<VmTypeEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const input = parseInput(vmTypeRule, rawInput, 'input');
    return this.dataSource.transaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, null);
      const vmType = await tx.save(tx.create(VmTypeEntity, { tenantId: principal.tenantId, ...toColumns(input) }));
      await this.audit.record(tx, principal, principal.tenantId, 'vmType.create', 'VmType', vmType.id, { name: vmType.name });
      return vmType;
    });
  }

  async update(principal: Principal, id: string, rawInput: unknown): Promise<VmTypeEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const vmType = await this.get(principal, id);
    const input = parseInput(vmTypeRule, rawInput, 'input');
    return this.dataSource.transaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, vmType.id);
      Object.assign(vmType, toColumns(input));
      const saved = await tx.save(vmType);
      await this.audit.record(tx, principal, principal.tenantId, 'vmType.update', 'VmType', vmType.id, { name: vmType.name });
      return saved;
    });
  }

  /** Replaces the VM type's thresholds with `thresholds` (metrics not listed are no longer watched). */
  async setThresholds(principal: Principal, vmTypeId: string, rawThresholds: unknown): Promise<VmTypeEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const vmType = await this.get(principal, vmTypeId, 'vmTypeId');
    const thresholds = parseInput(thresholdsRule, rawThresholds, 'thresholds');
    return this.dataSource.transaction(async (tx) => {
      await tx.delete(ThresholdEntity, { vmTypeId: vmType.id });
      if (thresholds.length > 0) {
        await tx.insert(ThresholdEntity, thresholds.map((t) => ({ ...t, vmTypeId: vmType.id })));
        await ensureMetrics(tx, principal.tenantId, thresholds.map((t) => t.metric));
      }
      await this.audit.record(tx, principal, principal.tenantId, 'vmType.setThresholds', 'VmType', vmType.id, {
        metrics: thresholds.map((t) => t.metric),
      });
      return vmType;
    });
  }

  private async assertNameFree(tx: EntityManager, tenantId: string, name: string, exceptId: string | null): Promise<void> {
    const existing = await tx.findOne(VmTypeEntity, { where: { tenantId, name } });
    if (existing && existing.id !== exceptId) throw new ConflictError(`a VM type named "${name}" already exists`, { field: 'input.name' });
  }
}

/** Metrics are catalogued per tenant the first time a threshold or a sample names them. */
export async function ensureMetrics(tx: EntityManager, tenantId: string, names: string[]): Promise<void> {
  const unique = [...new Set(names)];
  if (unique.length === 0) return;
  await tx
    .createQueryBuilder()
    .insert()
    .into(MetricEntity)
    .values(unique.map((name) => ({ tenantId, name, nagiosService: name })))
    .orIgnore()
    .execute();
}

function toColumns(input: z.output<typeof vmTypeRule>): Partial<VmTypeEntity> {
  return {
    name: input.name,
    minInstances: input.minInstances,
    maxInstances: input.maxInstances,
    scaleUpCooldownSeconds: input.scaleUpCooldownSeconds,
    scaleDownCooldownSeconds: input.scaleDownCooldownSeconds,
    flavorHint: input.flavorHint ?? null,
    networkHint: input.networkHint ?? null,
    configureRecipe: input.configureRecipe ?? null,
    monitoring: input.monitoring ?? null,
    loadBalancer: input.loadBalancer ?? null,
    drainTimeoutSeconds: input.drainTimeoutSeconds,
    drainTimeoutAction: input.drainTimeoutAction,
  };
}
