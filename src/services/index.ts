/** The use cases, built once from the ports they need. This is the only place they are wired. */
import { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { CloudApiFactory } from '../ports/cloud-api.port';
import { CloudConnector } from '../ports/cloud-connector.port';
import { EventBus } from '../ports/event-bus.port';
import { JobQueue } from '../ports/job-queue.port';
import { MonitoringSource } from '../ports/monitoring.port';
import { SecretBox } from '../ports/secret-box.port';
import { TokenRevocations } from '../ports/token-revocations.port';
import { AuditService } from './audit.service';
import { AuthService } from './auth.service';
import { AutoscalerService } from './autoscaler.service';
import { CloneJobQueryService } from './clone-job-query.service';
import { CloneJobService } from './clone-job.service';
import { CloudHealthService } from './cloud-health.service';
import { CloudService } from './cloud.service';
import { LoadBalancerService } from './load-balancer.service';
import { MatchmakingService } from './matchmaking.service';
import { MonitoringPollService } from './monitoring-poll.service';
import { MonitoringServerService } from './monitoring-server.service';
import { PolicyService } from './policy.service';
import { SampleService } from './sample.service';
import { ScaleDownService } from './scale-down.service';
import { ScalingDecisionService } from './scaling-decision.service';
import { SipBindingsService } from './sip-bindings.service';
import { SshKeyService } from './ssh-key.service';
import { VmTypeService } from './vm-type.service';
import { HostKeyFetcher, VmImportService } from './vm-import.service';
import { VmService } from './vm.service';
import type { EndpointPolicy } from '../domain/endpoint-policy';

export interface Ports {
  dataSource: DataSource;
  bus: EventBus;
  secrets: SecretBox;
  cloudConnector: CloudConnector;
  cloudApis: CloudApiFactory;
  queue: JobQueue;
  /** Reads servers' SSH host keys (importVm's trust on first use). */
  hostKeys: HostKeyFetcher;
  /** Reads Nagios service states; null: this broker runs no monitoring poller. */
  monitoringSource: MonitoringSource | null;
  logger: Logger;
  /** The monitoring poll interval: the autoscaler's gap rule counts in it. */
  monitoringPollIntervalMs: number;
  /** Tells every replica which API tokens were revoked. */
  tokenRevocations: TokenRevocations;
  /** How long a replica trusts a verified token without reading it again (0: never). */
  tokenCacheMs: number;
  /** The endpoint policy for URLs tenants give outside the cloud catalog (a cloud's transfer agent). */
  endpointPolicy?: EndpointPolicy;
}

export function createServices(ports: Ports) {
  const { dataSource, bus, secrets, cloudConnector, cloudApis, queue } = ports;
  const audit = new AuditService(dataSource, bus);
  const clouds = new CloudService(dataSource, secrets, cloudConnector, audit, cloudApis, bus, ports.endpointPolicy);
  const vms = new VmService(dataSource, audit);
  const sshKeys = new SshKeyService(dataSource, secrets, audit);
  const monitoringServers = new MonitoringServerService(dataSource, secrets, sshKeys, audit);
  const loadBalancers = new LoadBalancerService(dataSource, secrets, audit);
  const policies = new PolicyService(dataSource, audit);
  const vmTypes = new VmTypeService(dataSource, audit);
  const matchmaking = new MatchmakingService(vms, vmTypes, clouds, policies, cloudApis);
  const scalingDecisions = new ScalingDecisionService(dataSource, bus);
  const clone = new CloneJobService(dataSource, bus, queue, audit, matchmaking);
  const scaleDown = new ScaleDownService(dataSource, bus, queue, audit);
  return {
    audit,
    auth: new AuthService(dataSource, audit, ports.tokenRevocations, ports.tokenCacheMs),
    clouds,
    cloudHealth: new CloudHealthService(dataSource, bus, clouds, cloudConnector),
    vmImport: new VmImportService(dataSource, clouds, cloudApis, audit, ports.hostKeys),
    vmTypes,
    policies,
    samples: new SampleService(dataSource),
    vms,
    cloneJobs: new CloneJobQueryService(dataSource),
    scalingDecisions,
    matchmaking,
    clone,
    scaleDown,
    autoscaler: new AutoscalerService(dataSource, scalingDecisions, clone, scaleDown, matchmaking, audit, ports.logger, { pollIntervalMs: ports.monitoringPollIntervalMs }),
    sshKeys,
    monitoringServers,
    loadBalancers,
    /** For the SIP pipeline steps: bindings resolved and decrypted. */
    sipBindings: new SipBindingsService(dataSource, sshKeys, monitoringServers, loadBalancers),
    monitoringPoll: ports.monitoringSource ? new MonitoringPollService(dataSource, monitoringServers, ports.monitoringSource, ports.logger) : null,
  };
}

export type Services = ReturnType<typeof createServices>;
