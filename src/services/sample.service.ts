/** Monitoring samples: pushed through the API or stored by the poller; read by the scheduler and clients. */
import { DataSource, In, MoreThanOrEqual } from 'typeorm';
import { z } from 'zod';
import { SampleEntity, VmEntity } from '../domain/entities';
import { SampleState } from '../domain/enums';
import { BadUserInputError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { requirePermission } from './access';
import { pageSizeRule, parseInput, uuidRule } from './validation';
import { ensureMetrics, metricNameRule } from './vm-type.service';

export const MAX_SAMPLES_PER_CALL = 1000;
const FUTURE_TOLERANCE_MS = 5 * 60_000;

const samplesRule = z
  .array(
    z.object({
      vmId: uuidRule,
      metric: metricNameRule,
      state: z.nativeEnum(SampleState),
      value: z.number().finite('must be a finite number').nullable().optional(),
      observedAt: z.date().nullable().optional(),
    }),
  )
  .min(1, 'must hold at least one sample')
  .max(MAX_SAMPLES_PER_CALL, `at most ${MAX_SAMPLES_PER_CALL} samples per call`);

const readRule = z.object({
  vmId: uuidRule,
  metric: metricNameRule,
  since: z.date().nullable().optional(),
  first: pageSizeRule(100),
});

export class SampleService {
  constructor(private readonly dataSource: DataSource) {}

  /** Stores all samples or none; every VM must belong to the caller's tenant. */
  async record(principal: Principal, rawSamples: unknown, source = 'push'): Promise<number> {
    requirePermission(principal, Permission.RECORD_SAMPLES);
    const samples = parseInput(samplesRule, rawSamples, 'samples');
    const now = Date.now();
    samples.forEach((s, i) => {
      if (s.observedAt && s.observedAt.getTime() > now + FUTURE_TOLERANCE_MS) {
        throw new BadUserInputError(`samples.${i}.observedAt`, 'must not be in the future');
      }
    });
    return this.dataSource.transaction(async (tx) => {
      const vmIds = [...new Set(samples.map((s) => s.vmId))];
      const owned = await tx.find(VmEntity, { where: { id: In(vmIds), tenantId: principal.tenantId }, select: { id: true } });
      const ownedIds = new Set(owned.map((v) => v.id));
      const bad = samples.findIndex((s) => !ownedIds.has(s.vmId));
      if (bad >= 0) throw new BadUserInputError(`samples.${bad}.vmId`, 'must be the id of one of your VMs');
      await ensureMetrics(tx, principal.tenantId, samples.map((s) => s.metric));
      // One multi-row statement (arrays, one parameter per column): a thousand samples cost one round trip and no per-row SQL building.
      await tx.query(
        `INSERT INTO samples (tenant_id, vm_id, metric, state, value, observed_at, source)
         SELECT $1, s.vm_id, s.metric, s.state, s.value, s.observed_at, $7
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::float8[], $6::timestamptz[]) AS s(vm_id, metric, state, value, observed_at)`,
        [
          principal.tenantId,
          samples.map((s) => s.vmId),
          samples.map((s) => s.metric),
          samples.map((s) => s.state),
          samples.map((s) => s.value ?? null),
          samples.map((s) => (s.observedAt ?? new Date(now)).toISOString()),
          source,
        ],
      );
      return samples.length;
    });
  }

  /** Newest first: the latest `first` samples, or those observed at or after `since`. */
  async list(principal: Principal, rawArgs: unknown): Promise<SampleEntity[]> {
    requirePermission(principal, Permission.READ);
    const args = parseInput(readRule, rawArgs, '');
    const vm = await this.dataSource.getRepository(VmEntity).findOne({ where: { id: args.vmId, tenantId: principal.tenantId } });
    if (!vm) throw new NotFoundError('Vm', args.vmId);
    return this.dataSource.getRepository(SampleEntity).find({
      where: {
        vmId: vm.id,
        metric: args.metric,
        ...(args.since ? { observedAt: MoreThanOrEqual(args.since) } : {}),
      },
      order: { observedAt: 'DESC', id: 'DESC' },
      take: args.first,
    });
  }
}
