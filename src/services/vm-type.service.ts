/**
 * VM types under scaling control: their bindings (recipe, monitoring, load balancer; every
 * template checked and every integration one of the tenant's own) and per-metric thresholds.
 */
import { DataSource, EntityManager, In } from 'typeorm';
import { z } from 'zod';
import { LoadBalancerEntity, MetricEntity, MonitoringServerEntity, SshKeyEntity, ThresholdEntity, VmTypeEntity } from '../domain/entities';
import { DrainAction, ThresholdRole } from '../domain/enums';
import { BadUserInputError, ConflictError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { variablesOf } from '../domain/template';
import { DEFAULT_HOST_NAME_TEMPLATE, DEFAULT_URI_TEMPLATE } from '../domain/sip-bindings';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { absolutePathRule, argvRule, portRule, templateRule } from './integration-rules';
import { isForeignKeyViolation } from './integration-usage';
import { nameRule, parseInput, uuidRule } from './validation';

const seconds = (max: number) => z.number().int('must be a whole number of seconds').min(0, 'must not be negative').max(max, `must be at most ${max}`);

/** Nagios object names: no characters Nagios forbids, no newlines (they end up in a config file). */
const nagiosName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._:()/-]*$/, 'must be letters, digits, space and . _ : ( ) / -');

export const metricNameRule = nagiosName;

const fileRule = z
  .object({
    // Paths are written as given: a placeholder here would silently name a file called `{{vmId}}`.
    path: absolutePathRule(1024).refine((p) => !p.includes('{{'), 'is used as written: {{...}} placeholders are filled in file content and commands, not in paths'),
    template: templateRule('recipe', 65_536),
    mode: z.number().int('must be a whole number').min(0, 'must be a file mode like 420 (0644)').max(0o7777, 'must be a file mode like 420 (0644)').default(0o644),
  })
  .strict();

const readinessRule = z
  .object({
    command: argvRule({ maxArgs: 64, template: 'recipe' }).nullable().optional(),
    tcpPort: portRule.nullable().optional(),
    udpPort: portRule.nullable().optional(),
    timeoutSeconds: z.number().int('must be a whole number of seconds').min(1, 'must be at least 1').max(3600, 'must be at most 3600').default(120),
  })
  .strict()
  .refine((r) => r.command != null || r.tcpPort != null || r.udpPort != null, 'must give a command, a tcpPort or a udpPort to wait for');

const recipeRule = z
  .object({
    sshKeyId: uuidRule,
    sshPort: portRule.default(22),
    sudo: z.boolean().nullable().optional(),
    files: z
      .array(fileRule)
      .max(32, 'at most 32 files')
      .default([])
      .superRefine((files, ctx) => {
        const seen = new Set<string>();
        files.forEach((f, i) => {
          if (seen.has(f.path)) ctx.addIssue({ code: 'custom', path: [i, 'path'], message: 'each path may appear once' });
          seen.add(f.path);
        });
      }),
    commands: z.array(argvRule({ maxArgs: 64, template: 'recipe' })).max(32, 'at most 32 commands').default([]),
    readiness: readinessRule.nullable().optional(),
  })
  .strict();

const monitoringRule = z
  .object({
    serverId: uuidRule,
    hostTemplate: templateRule('nagiosHost', 65_536).refine(
      (t) => usesVariable(t, 'hostName'),
      'must use {{hostName}} as the host_name: the poller finds the VM\'s services by it',
    ),
    hostName: templateRule('nagiosHostName', 256).default(DEFAULT_HOST_NAME_TEMPLATE),
    metrics: z
      .array(z.object({ service: nagiosName, metric: metricNameRule }).strict())
      .max(64, 'at most 64 metrics')
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((m, i) => {
          if (seen.has(m.service)) ctx.addIssue({ code: 'custom', path: [i, 'service'], message: 'each service may appear once' });
          seen.add(m.service);
        });
      }),
  })
  .strict();

const loadBalancerRule = z
  .object({
    loadBalancerId: uuidRule,
    setId: z.number().int('must be a whole number').min(0, 'must not be negative').max(65535, 'must be at most 65535'),
    uriTemplate: templateRule('loadBalancer', 512)
      .refine((t) => /^sips?:/.test(t), 'must start with sip: or sips:')
      .default(DEFAULT_URI_TEMPLATE),
    attrs: templateRule('loadBalancer', 1024).default(''),
    drainMetric: metricNameRule.nullable().optional(),
    drainTimeoutSeconds: seconds(86400).default(300),
    drainAction: z.nativeEnum(DrainAction).default(DrainAction.FORCE_REMOVE),
  })
  .strict();

const vmTypeRule = z
  .object({
    name: nameRule,
    minInstances: z.number().int('must be a whole number').min(0, 'must not be negative').max(1000, 'must be at most 1000'),
    maxInstances: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000'),
    scaleUpCooldownSeconds: seconds(86400).default(300),
    scaleDownCooldownSeconds: seconds(86400).default(600),
    scaleDownMayRemoveOriginal: z.boolean().default(false),
    flavorHint: z.string().trim().min(1).max(255).nullable().optional(),
    networkHint: z.string().trim().min(1).max(255).nullable().optional(),
    configureRecipe: recipeRule.nullable().optional(),
    monitoring: monitoringRule.nullable().optional(),
    loadBalancer: loadBalancerRule.nullable().optional(),
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

  /** Of these VM type ids (from stored rows), the caller's, in one query: for per-request batching of fields pointing at VM types. */
  async getMany(principal: Principal, ids: readonly string[]): Promise<Map<string, VmTypeEntity>> {
    requirePermission(principal, Permission.READ);
    if (ids.length === 0) return new Map();
    const rows = await this.dataSource.getRepository(VmTypeEntity).find({ where: { id: In([...new Set(ids)]), tenantId: principal.tenantId } });
    return new Map(rows.map((r) => [r.id, r]));
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
    return this.inTransaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, null);
      await assertBindingsOwned(tx, principal.tenantId, input);
      const vmType = await tx.save(tx.create(VmTypeEntity, { tenantId: principal.tenantId, ...toColumns(input) }));
      await this.audit.record(tx, principal, principal.tenantId, 'vmType.create', 'VmType', vmType.id, { name: vmType.name, ...bindingIds(vmType) });
      return vmType;
    });
  }

  async update(principal: Principal, id: string, rawInput: unknown): Promise<VmTypeEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const vmType = await this.get(principal, id);
    const input = parseInput(vmTypeRule, rawInput, 'input');
    return this.inTransaction(async (tx) => {
      await this.assertNameFree(tx, principal.tenantId, input.name, vmType.id);
      await assertBindingsOwned(tx, principal.tenantId, input);
      Object.assign(vmType, toColumns(input));
      const saved = await tx.save(vmType);
      await this.audit.record(tx, principal, principal.tenantId, 'vmType.update', 'VmType', vmType.id, { name: vmType.name, ...bindingIds(saved) });
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

  /** A transaction in which an integration deleted after the ownership check reads as such, not as an internal error. */
  private async inTransaction<T>(fn: (tx: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.dataSource.transaction(fn);
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new ConflictError('an SSH key, monitoring server or load balancer the VM type names was deleted meanwhile: check the ids and try again');
      throw err;
    }
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

type VmTypeInput = z.output<typeof vmTypeRule>;

function toColumns(input: VmTypeInput): Partial<VmTypeEntity> {
  const recipe = input.configureRecipe ?? null;
  return {
    name: input.name,
    minInstances: input.minInstances,
    maxInstances: input.maxInstances,
    scaleUpCooldownSeconds: input.scaleUpCooldownSeconds,
    scaleDownCooldownSeconds: input.scaleDownCooldownSeconds,
    scaleDownMayRemoveOriginal: input.scaleDownMayRemoveOriginal,
    flavorHint: input.flavorHint ?? null,
    networkHint: input.networkHint ?? null,
    configureRecipe: recipe && {
      sshKeyId: recipe.sshKeyId,
      sshPort: recipe.sshPort,
      sudo: recipe.sudo ?? null,
      files: recipe.files,
      commands: recipe.commands,
      readiness: recipe.readiness
        ? { command: recipe.readiness.command ?? null, tcpPort: recipe.readiness.tcpPort ?? null, udpPort: recipe.readiness.udpPort ?? null, timeoutSeconds: recipe.readiness.timeoutSeconds }
        : null,
    },
    monitoring: input.monitoring ?? null,
    loadBalancer: input.loadBalancer ? { ...input.loadBalancer, drainMetric: input.loadBalancer.drainMetric ?? null } : null,
    // The foreign-key copies of the ids the bindings name.
    sshKeyId: recipe?.sshKeyId ?? null,
    monitoringServerId: input.monitoring?.serverId ?? null,
    loadBalancerId: input.loadBalancer?.loadBalancerId ?? null,
  };
}

function bindingIds(vmType: VmTypeEntity): Record<string, string | null> {
  return { sshKeyId: vmType.sshKeyId, monitoringServerId: vmType.monitoringServerId, loadBalancerId: vmType.loadBalancerId };
}

/** Every integration a binding names must be the tenant's own; a foreign id reads like an unknown one. */
async function assertBindingsOwned(tx: EntityManager, tenantId: string, input: VmTypeInput): Promise<void> {
  const checks = [
    [SshKeyEntity, input.configureRecipe?.sshKeyId, 'input.configureRecipe.sshKeyId', 'SSH keys'],
    [MonitoringServerEntity, input.monitoring?.serverId, 'input.monitoring.serverId', 'monitoring servers'],
    [LoadBalancerEntity, input.loadBalancer?.loadBalancerId, 'input.loadBalancer.loadBalancerId', 'load balancers'],
  ] as const;
  for (const [entity, id, field, what] of checks) {
    if (id && !(await tx.exists(entity, { where: { id, tenantId } }))) throw new BadUserInputError(field, `must be the id of one of your ${what}`);
  }
}

function usesVariable(template: string, name: string): boolean {
  try {
    return variablesOf(template).includes(name);
  } catch {
    // A malformed template is reported by its own rule.
    return true;
  }
}
