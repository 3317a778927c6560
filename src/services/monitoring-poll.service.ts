/**
 * One round of the monitoring poller: for each registered Nagios, read every service once
 * (MonitoringSource), find the VM each host is by the hostName template of the VM types bound to
 * that server, and store one sample per VM per enabled metric (a threshold with active=true, or
 * the drain metric of the type's load-balancer binding, which scale-down waits on), with
 * Nagios's `last_check` as the observation time. A check that is not newer than the last stored
 * sample of that VM and metric is not a fresh observation and is not stored again. A Nagios that
 * cannot be read is recorded on its MonitoringServer (UNREACHABLE, lastError) and yields nothing.
 */
import { Logger } from 'pino';
import { DataSource, In, IsNull } from 'typeorm';
import { CloudEntity, MonitoringServerEntity, ThresholdEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { tenantMessage } from '../domain/errors';
import { metricOf, nagiosHostNameOf } from '../domain/sip-bindings';
import { TemplateRenderError } from '../domain/template';
import { vmTemplateValues } from '../domain/template-values';
import { MonitoringSource, ServiceStatus } from '../ports/monitoring.port';
import { MonitoringServerService } from './monitoring-server.service';

/** Checks dated this far ahead of the broker's clock are refused: they would shadow every later real one. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
/** Servers read at once; each read is bounded by the adapter's own timeout. */
const CONCURRENCY = 4;
/**
 * Samples per INSERT: one multi-row statement (unnest of arrays) per batch, so a Nagios watching
 * thousands of VMs costs a few round trips, and no statement grows without bound.
 */
export const STORE_BATCH = 2000;

export type ServerPollResult =
  | { serverId: string; tenantId: string; ok: true; stored: number; stale: number; unmatchedHosts: number; unrenderable: number; ambiguousHosts: string[] }
  | { serverId: string; tenantId: string; ok: false; error: string; cause: unknown };

/** One VM as the poller knows it: where its samples go and which metrics its type enables. */
interface Watched {
  vm: VmEntity;
  vmType: VmTypeEntity;
  enabled: Set<string>;
}

interface Candidate {
  vmId: string;
  metric: string;
  status: ServiceStatus;
}

export class MonitoringPollService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly servers: MonitoringServerService,
    private readonly source: MonitoringSource,
    private readonly logger: Logger,
  ) {}

  /** Polls every registered server (a few at a time); one server's failure never stops the others. */
  async pollAll(): Promise<ServerPollResult[]> {
    const servers = await this.servers.all();
    const results: ServerPollResult[] = [];
    for (let i = 0; i < servers.length; i += CONCURRENCY) {
      results.push(...(await Promise.all(servers.slice(i, i + CONCURRENCY).map((s) => this.pollServer(s)))));
    }
    return results;
  }

  async pollServer(server: MonitoringServerEntity, now = new Date()): Promise<ServerPollResult> {
    const ids = { serverId: server.id, tenantId: server.tenantId };
    let statuses: ServiceStatus[];
    try {
      statuses = await this.source.services(this.servers.statusEndpointOf(server));
    } catch (err) {
      const error = tenantMessage(err);
      await this.servers.recordPoll(server.id, { ok: false, error }, now);
      return { ...ids, ok: false, error, cause: err };
    }
    const { byHost, unrenderable, ambiguousHosts } = await this.watchedHosts(server);
    const candidates = new Map<string, Candidate>();
    const unmatched = new Set<string>();
    for (const status of statuses) {
      const watched = byHost.get(status.host);
      if (!watched) {
        unmatched.add(status.host);
        continue;
      }
      const metric = metricOf(watched.vmType.monitoring!, status.service);
      if (!watched.enabled.has(metric) || !isUsableTime(status.observedAt, now)) continue;
      // Two services feeding one metric of one VM: the newer observation is the sample.
      const key = `${watched.vm.id}\u0000${metric}`;
      const held = candidates.get(key);
      if (!held || held.status.observedAt < status.observedAt) candidates.set(key, { vmId: watched.vm.id, metric, status });
    }
    const stored = await this.store(server.tenantId, [...candidates.values()]);
    await this.servers.recordPoll(server.id, { ok: true }, now);
    return { ...ids, ok: true, stored, stale: candidates.size - stored, unmatchedHosts: unmatched.size, unrenderable, ambiguousHosts };
  }

  /** Nagios host name -> VM, for the live VMs of every VM type bound to the server. */
  private async watchedHosts(server: MonitoringServerEntity): Promise<{ byHost: Map<string, Watched>; unrenderable: number; ambiguousHosts: string[] }> {
    const byHost = new Map<string, Watched>();
    const ambiguous = new Set<string>();
    let unrenderable = 0;
    const vmTypes = await this.dataSource.getRepository(VmTypeEntity).find({ where: { monitoringServerId: server.id, tenantId: server.tenantId } });
    if (vmTypes.length === 0) return { byHost, unrenderable, ambiguousHosts: [] };
    const typeIds = vmTypes.map((t) => t.id);
    const [vms, thresholds] = await Promise.all([
      this.dataSource.getRepository(VmEntity).find({ where: { vmTypeId: In(typeIds), tenantId: server.tenantId, retiredAt: IsNull() } }),
      this.dataSource.getRepository(ThresholdEntity).find({ where: { vmTypeId: In(typeIds), active: true } }),
    ]);
    const [clouds, sources] = await Promise.all([
      this.dataSource.getRepository(CloudEntity).find({ where: { id: In([...new Set(vms.map((v) => v.cloudId))]) }, select: { id: true, name: true } }),
      this.dataSource.getRepository(VmEntity).find({ where: { id: In(vms.flatMap((v) => (v.sourceVmId ? [v.sourceVmId] : []))) }, select: { id: true, addresses: true } }),
    ]);
    const cloudName = new Map(clouds.map((c) => [c.id, c.name]));
    const sourceOf = new Map(sources.map((s) => [s.id, s]));
    const typeOf = new Map(vmTypes.map((t) => [t.id, t]));
    for (const vm of vms) {
      const vmType = typeOf.get(vm.vmTypeId!)!;
      let hostName: string;
      try {
        const values = vmTemplateValues({ vm, cloudName: cloudName.get(vm.cloudId) ?? '', vmTypeName: vmType.name, sourceVm: vm.sourceVmId ? sourceOf.get(vm.sourceVmId) : null });
        hostName = nagiosHostNameOf(vmType.monitoring!, values);
      } catch (err) {
        if (!(err instanceof TemplateRenderError)) throw err;
        // Such a VM cannot have been registered under this name either; MONITORING says why when it tries.
        unrenderable += 1;
        this.logger.debug({ monitoringServerId: server.id, vmId: vm.id, variable: err.variable, err }, 'no Nagios host name for VM');
        continue;
      }
      if (byHost.has(hostName) || ambiguous.has(hostName)) {
        // Two VMs under one host name: whose the samples are cannot be told, so neither gets them.
        ambiguous.add(hostName);
        byHost.delete(hostName);
        continue;
      }
      const enabled = new Set(thresholds.filter((t) => t.vmTypeId === vmType.id).map((t) => t.metric));
      if (vmType.loadBalancer?.drainMetric) enabled.add(vmType.loadBalancer.drainMetric);
      byHost.set(hostName, { vm, vmType, enabled });
    }
    return { byHost, unrenderable, ambiguousHosts: [...ambiguous] };
  }

  /** Inserts the candidates newer than anything stored for their VM and metric, in batches of STORE_BATCH; returns how many. */
  private async store(tenantId: string, candidates: Candidate[]): Promise<number> {
    let stored = 0;
    for (let i = 0; i < candidates.length; i += STORE_BATCH) stored += await this.storeBatch(tenantId, candidates.slice(i, i + STORE_BATCH));
    return stored;
  }

  private async storeBatch(tenantId: string, candidates: Candidate[]): Promise<number> {
    if (candidates.length === 0) return 0;
    // One statement per batch: the "is it newer?" check and the insert see the same rows.
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO samples (tenant_id, vm_id, metric, state, value, observed_at, source)
       SELECT $1, c.vm_id, c.metric, c.state, c.value, c.observed_at, 'nagios'
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::float8[], $6::timestamptz[]) AS c(vm_id, metric, state, value, observed_at)
       WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.vm_id = c.vm_id AND s.metric = c.metric AND s.observed_at >= c.observed_at)
       RETURNING id`,
      [
        tenantId,
        candidates.map((c) => c.vmId),
        candidates.map((c) => c.metric),
        candidates.map((c) => c.status.state),
        candidates.map((c) => (c.status.value !== null && Number.isFinite(c.status.value) ? c.status.value : null)),
        candidates.map((c) => c.status.observedAt.toISOString()),
      ],
    );
    return rows.length;
  }
}

/** A real check time: Nagios reports 0 for a service never checked, and a clock far ahead would shadow later samples. */
function isUsableTime(at: Date, now: Date): boolean {
  const t = at.getTime();
  return Number.isFinite(t) && t > 0 && t <= now.getTime() + FUTURE_TOLERANCE_MS;
}
